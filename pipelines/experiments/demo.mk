# The demo (`make demo`): SmolLM2-135M end to end in about half an hour of compute on 2 cores.
# A small CLT (1024 features a layer, BatchTopK k 32) trained for 12 minutes on 100k tokens, so
# every tool and picture is exercised; the quality experiment is the one to read numbers from.
include models/smollm2.mk
TRAIN_TOKENS := 100000
HELDOUT_TOKENS := 4096
PICTURE_LAYER := 15
EVAL_TOKENS := 2048
VARIANTS := clt
# A checkpoint of this CLT is 3.5 GB. Session 16 wrote one in about 16 s; session 17's demo took
# 45-56 s for each of its two (steps 200 and 400 of 423), 14% of the 12 minutes, and the one at
# step 400 guarded 23 steps. Every 250 steps the demo writes one; a crash loses at most 250 steps.
CHECKPOINT_EVERY := 250
# --clip-previous-norm trains about 1.2x the tokens in the 12 minutes; at equal time it gave the
# better replacement model, at equal tokens a slightly worse one (docs/BENCHMARKS.md).
# --steps is the most the 12 minutes may hold; the time limit shortens the plan to what fits (423
# steps in session 17 on a Xeon whose steps ran at ~850 tokens/s, the 12 minutes also holding the
# set-up, the checkpoints and the shard reads; 389 in session 18 on an AMD EPYC at ~575, the
# shard reads now overlapping the steps; 480, the old figure, would cut a faster machine short).
# The CLT has clt-fit's default skip connection: session 25's demo reached held-out NMSE 0.285 and
# top-1 39.8% with it in 255 steps, against 0.323 and 31.1% without in 315 (docs/BENCHMARKS.md).
FIT_clt := --features 1024 --activation batchtopk --k 32 --batch 1024 --lr 2e-3 --steps 600 \
  --time-limit 12m --clip-previous-norm --seed 0
