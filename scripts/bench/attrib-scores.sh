#!/usr/bin/env bash
# Attribution-graph scores and timings over a prompt list: runs clt-attrib --format json on each
# line of PROMPTS and prints one JSON line per prompt (tokens, completeness and replacement scores
# before and after pruning, seconds), then the means. For the clt-attrib targets in issue 6: mean
# completeness >= 0.8 and replacement >= 0.6 over 20 prompts, a 16-token graph within 10 s.
#
#   scripts/bench/attrib-scores.sh MODEL CLT [PROMPTS] [extra clt-attrib options...]
#   scripts/bench/attrib-scores.sh models/SmolLM2-135M-Instruct.Q4_1.gguf clt.h5
#
# Environment: CLT_ATTRIB (default .build/release/clt-attrib), PYTHON (default python3).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
MODEL=${1:?usage: attrib-scores.sh MODEL CLT [PROMPTS] [options...]}
CLT=${2:?usage: attrib-scores.sh MODEL CLT [PROMPTS] [options...]}
PROMPTS=${3:-scripts/bench/attrib-prompts.txt}
shift $(($# < 3 ? $# : 3))
TOOL=${CLT_ATTRIB:-.build/release/clt-attrib}
PYTHON=${PYTHON:-python3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

n=0
while IFS= read -r prompt || [[ -n $prompt ]]; do
  [[ -z $prompt ]] && continue
  start=$(date +%s.%N)
  printf '%s' "$prompt" | "$TOOL" --model "$MODEL" --clt "$CLT" --format json --quiet "$@" - >"$OUT/$n.json"
  end=$(date +%s.%N)
  echo "$start $end" >"$OUT/$n.time"
  n=$((n + 1))
done <"$PROMPTS"

"$PYTHON" - "$OUT" "$n" <<'PY'
import json, sys
folder, count = sys.argv[1], int(sys.argv[2])
keys = ["completeness_score", "replacement_score", "pruned_completeness_score", "pruned_replacement_score"]
rows = []
for i in range(count):
    meta = json.load(open(f"{folder}/{i}.json"))["metadata"]
    start, end = map(float, open(f"{folder}/{i}.time").read().split())
    row = {"prompt": meta["prompt"], "tokens": len(meta["prompt_token_ids"]), "seconds": round(end - start, 2)}
    row.update({k: round(meta[k], 4) for k in keys})
    rows.append(row)
    print(json.dumps(row))
if rows:
    means = {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in keys + ["seconds"]}
    print(json.dumps({"prompts": len(rows), "mean": means}))
PY
