#!/usr/bin/env bash
# make quality-check: the quality a trainer change buys per token (issue 19). clt-fit trains the
# demo's CLT shape on SmolLM2-135M's fixed demo shards for a fixed token budget, then scores it on
# the fixed held-out shards; one JSON line says what came out (held-out mean and per-layer NMSE, L0,
# dead fraction) and from which commit, so two commits, or two option sets, can be compared at
# equal tokens. Run it before and after a change to the trainer; no change may make it worse.
#
# The shards are the pipelines' own (results/acts/smollm2-135m-ctx256-train100000 and
# -heldout4096, made by `make -C pipelines EXP=demo` from data/corpus): when they are there they
# are used as they are; when not, the corpus, the model and the shards are made first.
#
# Environment: TOKENS (61440: 60 steps of 1024), THREADS (2), FIT_FLAGS (extra clt-fit options,
# e.g. FIT_FLAGS="--lambda 3e-3"), EVAL_TOKENS (4096, the held-out shards' size), REPLACE_TOKENS
# (0; N > 0 also runs `clt-replace --eval` on N tokens of held-out text: CE recovered, KL, top-1),
# LABEL (a name for the run, in the JSON and the run's folder: say what BIN was built from when
# it is not this checkout), ACTS_DIR (results/acts), CORPUS (data/corpus, for REPLACE_TOKENS),
# OUT (results/quality-check), BIN (the release build's folder).
# The trained CLT and the logs go to OUT/RUN/ (RUN: the commit, a hash of FIT_FLAGS, LABEL); every JSON
# line is also appended to OUT/results.jsonl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SWIFT=${SWIFT:-swift}
TOKENS=${TOKENS:-61440}
THREADS=${THREADS:-2}
FIT_FLAGS=${FIT_FLAGS:-}
EVAL_TOKENS=${EVAL_TOKENS:-4096}
REPLACE_TOKENS=${REPLACE_TOKENS:-0}
ACTS_DIR=${ACTS_DIR:-results/acts}
CORPUS=${CORPUS:-data/corpus}
OUT=${OUT:-results/quality-check}
BIN=${BIN:-$($SWIFT build -c release --show-bin-path)}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
TRAIN=$ACTS_DIR/smollm2-135m-ctx256-train100000
HELDOUT=$ACTS_DIR/smollm2-135m-ctx256-heldout4096
# The demo's CLT shape (pipelines/experiments/demo.mk), at a fixed token budget.
SHAPE=(--features 1024 --activation batchtopk --k 32 --batch 1024 --lr 2e-3 --seed 0)

for tool in clt-fit clt-replace; do
  [ -x "$BIN/$tool" ] || { echo "quality-check: error: no $BIN/$tool; run make build" >&2; exit 1; }
done
# The pipelines write activations to RESULTS/acts/, so ACTS_DIR must be a folder called acts.
if [ ! -e "$TRAIN/done" ] || [ ! -e "$HELDOUT/done" ]; then
  [ "$(basename "$ACTS_DIR")" = acts ] || {
    echo "quality-check: error: ACTS_DIR=$ACTS_DIR lacks the demo's shards and is not a folder called acts" \
      "for the pipelines to make them in; point it at one" >&2
    exit 1
  }
  echo "==> the demo's shards (corpus, model, gpt2-acts)" >&2
  make corpus models CORPUS_DIR="$CORPUS"
  mkdir -p "$ACTS_DIR"
  make -C pipelines EXP=demo MODEL= BIN="$(realpath "$BIN")" CORPUS="$(realpath "$CORPUS")" \
    RESULTS="$(realpath "$ACTS_DIR/..")" \
    "$(realpath -m "$TRAIN/done")" "$(realpath -m "$HELDOUT/done")"
fi

commit=$(git rev-parse --short=12 HEAD)
dirty=false
git diff --quiet HEAD -- Sources Package.swift || dirty=true
run=$commit$([ -z "$FIT_FLAGS" ] || printf -- '-%s' "$(printf '%s' "$FIT_FLAGS" | sha256sum | cut -c1-8)")${LABEL:+-$LABEL}
dir=$OUT/$run
mkdir -p "$dir"
echo "==> clt-fit, $TOKENS tokens, $THREADS threads${FIT_FLAGS:+, $FIT_FLAGS} -> $dir" >&2
start=$EPOCHREALTIME
# FIT_FLAGS is split into words on purpose: it holds several options.
# shellcheck disable=SC2086
"$BIN/clt-fit" -o "$dir/clt.h5" "${SHAPE[@]}" --tokens "$TOKENS" --threads "$THREADS" \
  --eval "$HELDOUT" --eval-tokens "$EVAL_TOKENS" --log "$dir/metrics.jsonl" $FIT_FLAGS "$TRAIN" \
  2> >(tee "$dir/clt-fit.log" >&2)
seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# clt-fit's last lines: "held-out (N tokens): mean NMSE X, mean L0 Y, dead Z%; per layer NMSE ...;
# per layer dead % ...; typical tokens (...): mean NMSE X, per layer ..." (the dead percentages
# since AuxK, the typical tokens' NMSE since outlier tokens were set apart)
# and "wrote OUTPUT after N tokens; ...".
heldout=$(grep 'clt-fit: held-out' "$dir/clt-fit.log" | tail -1)
trained=$(grep -o 'after [0-9]* tokens' "$dir/clt-fit.log" | tail -1 | grep -o '[0-9]*')
[ -n "$heldout" ] && [ -n "$trained" ] || {
  echo "quality-check: error: clt-fit printed no held-out figures; see $dir/clt-fit.log" >&2
  exit 1
}
line=$(printf '%s\n' "$heldout" | jq -Rc \
  --arg commit "$commit" --argjson dirty "$dirty" --arg run_label "${LABEL:-}" --arg flags "$FIT_FLAGS" \
  --argjson tokens "$trained" \
  --argjson seconds "$seconds" --argjson threads "$THREADS" '
  capture("held-out \\((?<t>[0-9]+) tokens\\): mean NMSE (?<nmse>[-0-9.e]+), mean L0 (?<l0>[-0-9.e]+), dead (?<dead>[-0-9.e]+)%; per layer NMSE (?<layers>[-0-9.e ]+)(; per layer dead % (?<deadl>[0-9 ]+))?(; typical tokens [^:]*: mean NMSE (?<typical>[-0-9.e]+), per layer (?<typicall>[-0-9.e ]+))?$")
  | {commit: $commit, dirty: $dirty, "label": $run_label, fit_flags: $flags, tokens: $tokens, eval_tokens: (.t | tonumber),
     heldout_mean_nmse: (.nmse | tonumber), heldout_mean_l0: (.l0 | tonumber),
     heldout_dead_fraction: ((.dead | tonumber) / 100),
     heldout_nmse: (.layers | split(" ") | map(select(length > 0) | tonumber)),
     heldout_dead_percent: ((.deadl // "") | split(" ") | map(select(length > 0) | tonumber)),
     heldout_typical_mean_nmse: (.typical // null | if . then tonumber else null end),
     heldout_typical_nmse: ((.typicall // "") | split(" ") | map(select(length > 0) | tonumber)),
     train_seconds: $seconds, threads: $threads}')

if [ "$REPLACE_TOKENS" -gt 0 ]; then
  corpus=$CORPUS/heldout.txt
  [ -e "$corpus" ] || make corpus
  echo "==> clt-replace --eval, $REPLACE_TOKENS tokens of $corpus" >&2
  "$BIN/clt-replace" --model "$MODEL" --clt "$dir/clt.h5" --eval "$corpus" --context 256 \
    --max-tokens "$REPLACE_TOKENS" --threads "$THREADS" --json --quiet >"$dir/eval.json"
  line=$(jq -c --slurpfile e "$dir/eval.json" '
    def mean: map(select(. != null)) | if length > 0 then add / length else null end;
    . + {replacement: ($e[0] | del(.nmse, .l0) + {text_mean_nmse: ($e[0].nmse | mean),
      text_mean_l0: ($e[0].l0 | mean), tokens: '"$REPLACE_TOKENS"'})}' <<<"$line")
fi

printf '%s\n' "$line" >>"$OUT/results.jsonl"
printf '%s\n' "$line"
