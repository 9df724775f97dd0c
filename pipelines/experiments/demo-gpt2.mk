# The demo on GPT-2 small (`make demo MODEL=gpt2`), where its weights are in models/gpt2.
include models/gpt2.mk
TRAIN_TOKENS := 60000
HELDOUT_TOKENS := 4096
EVAL_TOKENS := 2048
VARIANTS := clt
FIT_clt := --features 1536 --activation batchtopk --k 32 --batch 1024 --lr 2e-3 --steps 300 \
  --time-limit 12m --dead-window 100000 --seed 0
