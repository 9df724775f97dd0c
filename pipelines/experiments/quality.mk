# The clt-fit quality target (issue 4): a CLT on SmolLM2-135M trained for at most 2 hours here,
# measured on held-out text. 500k training tokens (34 GB of float16 shards; at ~230 tokens/s
# training goes over them about 3 times), 32k held-out tokens. BatchTopK keeps L0 at k = 64 a layer from the
# first step and hands over to a JumpReLU at the running threshold. --time-limit shortens the
# learning-rate schedule to the steps that fit in 2 hours at the measured pace.
include models/smollm2.mk
TRAIN_TOKENS := 500000
HELDOUT_TOKENS := 32768
EVAL_TOKENS := 4096
VARIANTS := clt
FIT_clt := --features 2048 --activation batchtopk --k 64 --batch 2048 --lr 1e-3 --steps 1500 \
  --time-limit 2h --shuffle-tokens 32768 --seed 0
CHECKPOINT_EVERY := 100
