# The demo (`make demo`): SmolLM2-135M end to end in about half an hour of compute on 2 cores.
# A small CLT (1024 features a layer, BatchTopK k 32) trained for 12 minutes on 100k tokens, so
# every tool and picture is exercised; the quality experiment is the one to read numbers from.
include models/smollm2.mk
TRAIN_TOKENS := 100000
HELDOUT_TOKENS := 4096
PICTURE_LAYER := 15
EVAL_TOKENS := 2048
VARIANTS := clt
# A checkpoint of this CLT is 3.3 GB and takes about 16 s to write here: every 50 steps (the
# pipelines' default) that was 13% of the 12 minutes. A crashed demo loses at most 200 steps.
CHECKPOINT_EVERY := 200
# --clip-previous-norm trains about 1.2x the tokens in the 12 minutes; at equal time it gave the
# better replacement model, at equal tokens a slightly worse one (docs/BENCHMARKS.md).
# --steps is the most the 12 minutes may hold (the time limit shortens the plan to what fits): 600
# steps of 1024 tokens need ~870 tokens/s, what the AVX-512 build makes on a quiet machine.
FIT_clt := --features 1024 --activation batchtopk --k 32 --batch 1024 --lr 2e-3 --steps 600 \
  --time-limit 12m --clip-previous-norm --seed 0
