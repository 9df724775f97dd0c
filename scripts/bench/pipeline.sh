#!/usr/bin/env bash
# make bench-pipeline: the brief's first line, `gpt2-acts corpus | clt-fit`, at the demo's CLT shape
# on SmolLM2-135M, timed over its whole wall (the first shard's wait and the last steps included),
# so that a change to either tool is judged where they share the cores (issue 19). With BIN_B set
# the two builds run interleaved, A, B, A, B, … (this shared machine drifts more than a change
# moves it); each run prints one line and appends it, as JSON, to OUT/results.jsonl.
#
# Environment: BIN (A: the release build's folder), BIN_B (B: another build's folder, optional),
# PAIRS (2), TOKENS (61440: gpt2-acts's --max-tokens; clt-fit trains 56 steps of 1024, what
# arrives before the last shard's end), SHARD_TOKENS (8192), ACTS_FLAGS and FIT_FLAGS (extra
# options for each tool), CORPUS (data/corpus/train.txt), OUT (results/bench-pipeline).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=${BIN:-$(swift build -c release --show-bin-path)}
BIN_B=${BIN_B:-}
PAIRS=${PAIRS:-2}
TOKENS=${TOKENS:-61440}
SHARD_TOKENS=${SHARD_TOKENS:-8192}
ACTS_FLAGS=${ACTS_FLAGS:-}
FIT_FLAGS=${FIT_FLAGS:-}
CORPUS=${CORPUS:-data/corpus/train.txt}
OUT=${OUT:-results/bench-pipeline}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
STEPS=$(((TOKENS - SHARD_TOKENS / 2) / 1024))
# The demo's CLT shape (pipelines/experiments/demo.mk).
SHAPE=(--features 1024 --activation batchtopk --k 32 --batch 1024 --lr 2e-3 --clip-previous-norm --seed 0)

for bin in "$BIN" ${BIN_B:+"$BIN_B"}; do
  for tool in gpt2-acts clt-fit; do
    [ -x "$bin/$tool" ] || { echo "bench-pipeline: error: no $bin/$tool; run make build" >&2; exit 1; }
  done
done
[ -e "$MODEL" ] || { echo "bench-pipeline: error: no $MODEL; run make models" >&2; exit 1; }
[ -e "$CORPUS" ] || { echo "bench-pipeline: error: no $CORPUS; run make corpus" >&2; exit 1; }
mkdir -p "$OUT"

# run LABEL BIN: one pipeline in a fresh folder, its whole wall timed.
run() {
  local label=$1 bin=$2 dir
  dir=$(mktemp -d "$OUT/run.XXXXXX")
  local start=$EPOCHREALTIME
  # ACTS_FLAGS and FIT_FLAGS are split into words on purpose: each holds several options.
  # shellcheck disable=SC2086
  (cd "$dir" && "$bin/gpt2-acts" --model "$OLDPWD/$MODEL" --context 256 --max-tokens "$TOKENS" \
    --shard-tokens "$SHARD_TOKENS" $ACTS_FLAGS "$OLDPWD/$CORPUS" 2> acts.log |
    "$bin/clt-fit" -o clt.h5 "${SHAPE[@]}" --steps "$STEPS" --timing $FIT_FLAGS 2> fit.log)
  local seconds acts
  seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  acts=$(grep -o '[0-9.]*/s$' "$dir/acts.log" | tail -1)
  local tokens=$((STEPS * 1024))
  printf '%s: %d tokens in %s s, %s tokens/s over the whole wall (gpt2-acts %s)\n' "$label" "$tokens" \
    "$seconds" "$(awk -v t="$tokens" -v s="$seconds" 'BEGIN { printf "%.1f", t / s }')" "$acts"
  printf '{"label":"%s","bin":"%s","tokens":%d,"seconds":%s,"gpt2_acts":"%s","commit":"%s"}\n' "$label" \
    "$bin" "$tokens" "$seconds" "$acts" "$(git rev-parse --short=12 HEAD)" >> "$OUT/results.jsonl"
  rm -rf "$dir"
}

for ((pair = 1; pair <= PAIRS; pair++)); do
  run A "$BIN"
  [ -z "$BIN_B" ] || run B "$BIN_B"
done
