# JumpReLU against TopK and BatchTopK on the same SmolLM2 activations and the same time budget
# (30 minutes each); the report puts their held-out NMSE, L0, dead fraction and CE recovered
# side by side. JumpReLU's L0 is set by λ, the others' by k.
include models/smollm2.mk
TRAIN_TOKENS := 100000
HELDOUT_TOKENS := 8192
EVAL_TOKENS := 2048
VARIANTS := jumprelu topk batchtopk
COMMON := --features 1024 --batch 1024 --lr 2e-3 --steps 700 --time-limit 30m --dead-window 100000 --seed 0
FIT_jumprelu := $(COMMON) --activation jumprelu --initial-l0 64 --lambda 3e-3
FIT_topk := $(COMMON) --activation topk --k 32
FIT_batchtopk := $(COMMON) --activation batchtopk --k 32
