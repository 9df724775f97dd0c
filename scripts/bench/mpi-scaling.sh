#!/usr/bin/env bash
# make bench-mpi: clt-fit on one process and on two Open MPI ranks of this machine, data parallel
# and with --shard-features, at SmolLM2-135M's shape (30 layers, d_model 576) on synthetic shards
# (make_synthetic_shards.py; needs numpy and h5py). Prints tokens/s, the scaling efficiency, and
# the bytes each step sends; appends every measurement to bench-out/mpi/results.jsonl.
#
#   1 process, 1 thread      the baseline for scaling to 2 ranks of 1 thread each
#   1 process, 2 threads     the baseline on the same two cores
#   2 ranks, 1 thread each   data parallel: each rank BATCH/2 rows, gradients summed
#   2 ranks, --shard-features  each rank FEATURES/2 features a layer, reconstructions summed
#
# The two ranks share this machine's cores (and memory bandwidth) with each other and with
# whatever else runs: the figures say what MPI costs here, not what a cluster would do
# (docs/BENCHMARKS.md has the estimate for one). The four run in turn REPEAT times and the report
# keeps each one's best, as other work on the machine only ever slows a run down.
# Environment: FEATURES (512), BATCH (1024), K (32), STEPS (6), LAYERS (30), D_MODEL (576),
# REPEAT (3), QUALITY=1 to also time the quality run's shape (F 2048, batch 2048, k 64: about
# 10 GB of memory) on one process.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SWIFT=${SWIFT:-swift}
PYTHON=${PYTHON:-python3}
LAYERS=${LAYERS:-30}
D_MODEL=${D_MODEL:-576}
FEATURES=${FEATURES:-512}
BATCH=${BATCH:-1024}
K=${K:-32}
STEPS=${STEPS:-6}
OUT=bench-out/mpi
SHARDS=$OUT/shards-${LAYERS}x${D_MODEL}
RESULTS=$OUT/results.jsonl
RUN_LOG=$OUT/last-run.jsonl
MPIRUN=(mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none)
unset OPENBLAS_NUM_THREADS

command -v mpirun >/dev/null || { echo "bench-mpi: error: no mpirun; run scripts/install-deps.sh" >&2; exit 1; }
mkdir -p "$OUT"
: >"$RUN_LOG"
echo "==> release build of clt-fit" >&2
$SWIFT build -c release --product clt-fit >&2
BIN=$($SWIFT build -c release --show-bin-path)
if [ ! -e "$SHARDS/shard-000003.h5" ]; then
  echo "==> synthetic shards in $SHARDS" >&2
  $PYTHON scripts/bench/make_synthetic_shards.py --out "$SHARDS" --layers "$LAYERS" --d-model "$D_MODEL" \
    --rows 2048 --shards 4
fi

# Runs clt-fit (after the launcher words given) and keeps its --timing line, labelled, in $RUN_LOG.
# Usage: timed LABEL THREADS FEATURES BATCH K -- launcher... [extra clt-fit options]
timed() {
  local label=$1 threads=$2 features=$3 batch=$4 k=$5
  shift 6
  echo "==> $label" >&2
  local line
  line=$("$@" --features "$features" --batch "$batch" --activation batchtopk --k "$k" --steps "$STEPS" \
    --shuffle-tokens $((2 * batch)) --seed 0 --threads "$threads" --timing --quiet -o "$OUT/clt.h5" "$SHARDS" \
    2>&1 >/dev/null | grep '"bench"' | tail -1)
  [ -n "$line" ] || { echo "bench-mpi: error: $label printed no timing" >&2; exit 1; }
  echo "${line%\}}, \"label\": \"$label\", \"threads\": $threads, \"layers\": $LAYERS, \"d_model\": $D_MODEL}" >>"$RUN_LOG"
}

for _ in $(seq "${REPEAT:-3}"); do
  timed "1 process, 1 thread" 1 "$FEATURES" "$BATCH" "$K" -- "$BIN/clt-fit"
  timed "1 process, 2 threads" 2 "$FEATURES" "$BATCH" "$K" -- "$BIN/clt-fit"
  timed "2 ranks, data parallel" 1 "$FEATURES" "$BATCH" "$K" -- "${MPIRUN[@]}" "$BIN/clt-fit"
  timed "2 ranks, --shard-features" 1 "$FEATURES" "$BATCH" "$K" -- "${MPIRUN[@]}" "$BIN/clt-fit" --shard-features
done
if [ "${QUALITY:-0}" = 1 ]; then
  timed "quality shape, 1 process, 2 threads" 2 2048 2048 64 -- "$BIN/clt-fit"
fi

stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
load=$(cut -d' ' -f1-3 /proc/loadavg)
sed "s/}\$/, \"time\": \"$stamp\", \"commit\": \"$commit\", \"load\": \"$load\"}/" "$RUN_LOG" >>"$RESULTS"
$PYTHON scripts/bench/mpi_report.py "$RUN_LOG"
