#!/usr/bin/env bash
# make bench: CLTKit (Swift) against Hugging Face transformers on CPU torch, same machine,
# same random-weight GPT-2 small checkpoint, same token windows, 2 threads each.
#
#   dump      gpt2-acts writing MLP input/output activations for 64 windows of 128 tokens
#             vs. GPT2Model with forward hooks copying the same tensors to float16 numpy
#             (also GPT2LMHeadModel, reported as dump_lmhead)
#   clt_fit   clt-fit training tokens/s at GPT-2 small sizes (F 6144, 64 active features a layer)
#             vs. the same loss computed densely in PyTorch (clt_fit_torch.py)
#   generate  clt-replace, 50 greedy new tokens, median of 3 runs
#             vs. GPT2LMHeadModel.generate, median of 3 runs after a warm-up
#   SmolLM2 generate (replacement)  clt-replace --clt with a random CLT (make_random_clt.py; needs
#             h5py) vs. the original model's generate in PyTorch; then clt-attrib through it on a
#             16-token and a ~1024-token prompt (seconds without loading, peak memory)
#
# Everything goes to bench-out/ (git-ignored); results are appended to bench-out/results.jsonl.
# Environment: PYTHON (default python3), SWIFT (default swift), BENCH_ONLY=smollm2 (the SmolLM2
# rows only). See docs/BENCHMARKS.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PYTHON=${PYTHON:-python3}
SWIFT=${SWIFT:-swift}
HERE=scripts/bench
OUT=bench-out
MODEL=$OUT/gpt2-small-random
CORPUS=$OUT/corpus.txt
WINDOWS=$OUT/windows.json
TOKENIZER=assets/gpt2.tiktoken
PROMPT=$HERE/prompt.txt
THREADS=2
CONTEXT=128
BATCH=8
N_WINDOWS=64
MAX_TOKENS=$((N_WINDOWS * CONTEXT))
NEW_TOKENS=50
FIT_FEATURES=6144
FIT_BATCH=4096
FIT_STEPS=4
FIT_TORCH_BATCH=1024
RUNS=3

# Both sides get exactly THREADS threads: the Swift tools through --threads (OpenBLAS must not
# be overridden from the environment), torch through torch.set_num_threads. OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE, where set, are left alone.
unset OPENBLAS_NUM_THREADS

die() { echo "bench: error: $*" >&2; exit 1; }
step() { echo "==> $*" >&2; }

# Runs a Swift tool whose timing JSON line goes to stderr; keeps that line in $RUN_LOG.
# Usage: swift_timed NAME BENCH -- command...
swift_timed() {
    local name=$1 bench=$2; shift 3
    local err=$OUT/$name.stderr
    if ! "$@" > /dev/null 2> "$err"; then
        cat "$err" >&2
        die "$name failed: $*"
    fi
    local line
    line=$(grep -E '^\{.*"side" *: *"swift"' "$err" | grep -E "\"bench\" *: *\"$bench\"" | tail -n 1 || true)
    [ -n "$line" ] || { cat "$err" >&2; die "$name printed no {\"side\": \"swift\", \"bench\": \"$bench\", ...} line on stderr"; }
    echo "$line" >> "$RUN_LOG"
    echo "    $line" >&2
}

[ -f "$TOKENIZER" ] || die "$TOKENIZER is missing; run 'make assets' first"
[ -f "$PROMPT" ] || die "$PROMPT is missing"
"$PYTHON" -c 'import torch, transformers, safetensors, numpy' 2>/dev/null \
    || die "$PYTHON cannot import torch, transformers, safetensors and numpy (set PYTHON=...)"
command -v "$SWIFT" > /dev/null || die "'$SWIFT' not found (set SWIFT=...)"

step "building release"
"$SWIFT" build -c release
BIN=$("$SWIFT" build -c release --show-bin-path)
for tool in gpt2-acts clt-replace clt-fit; do
    [ -x "$BIN/$tool" ] || die "$BIN/$tool was not built"
done

# Other work on the machine skews both sides (multi-threaded kernels stall when a core is taken
# away), so say so up front; the load is also recorded with the results.
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_START" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    echo "bench: warning: load average $LOAD_START on $(nproc) CPUs; the figures will be low and noisy" >&2
fi

mkdir -p "$OUT"
step "checkpoint $MODEL"
"$PYTHON" "$HERE/make_random_gpt2.py" "$MODEL"
if [ ! -f "$CORPUS" ]; then
    step "corpus $CORPUS"
    "$PYTHON" "$HERE/make_bench_corpus.py" "$CORPUS"
fi
echo "    corpus sha256 $(sha256sum "$CORPUS" | cut -c1-16)" >&2

step "token windows (gpt2-acts --print-tokens)"
"$BIN/gpt2-acts" --print-tokens --tokenizer "$TOKENIZER" "$CORPUS" > "$OUT/corpus.tokens.jsonl" \
    || die "gpt2-acts --print-tokens failed on $CORPUS"
"$PYTHON" "$HERE/make_windows.py" "$OUT/corpus.tokens.jsonl" -o "$WINDOWS" \
    --context "$CONTEXT" --max-windows "$N_WINDOWS"
"$BIN/gpt2-acts" --print-tokens --tokenizer "$TOKENIZER" "$PROMPT" > "$OUT/prompt.tokens.jsonl" \
    || die "gpt2-acts --print-tokens failed on $PROMPT"
"$PYTHON" -c 'import json, sys
first = next(l for l in open(sys.argv[1]) if l.strip())
json.dump(json.loads(first)["tokens"], open(sys.argv[2], "w"))' \
    "$OUT/prompt.tokens.jsonl" "$OUT/prompt_ids.json" || die "no tokens for $PROMPT"
echo "    prompt ids $(cat "$OUT/prompt_ids.json")" >&2

RUN_LOG=$OUT/last-run.jsonl
: > "$RUN_LOG"

# BENCH_ONLY=smollm2 runs the SmolLM2 benches alone (about 10 minutes instead of 20).
if [ "${BENCH_ONLY:-}" != smollm2 ]; then

step "Swift: gpt2-acts dump ($N_WINDOWS windows x $CONTEXT, batch $BATCH)"
rm -rf "$OUT/shards"
swift_timed gpt2-acts dump -- "$BIN/gpt2-acts" --model "$MODEL" --tokenizer "$TOKENIZER" \
    --context "$CONTEXT" --batch "$BATCH" --max-tokens "$MAX_TOKENS" --out-dir "$OUT/shards" \
    --threads "$THREADS" --timing "$CORPUS"

# clt-fit at GPT-2 small sizes (12 layers, d 768, F 6144 a layer) on the shards just dumped,
# BatchTopK k = 64 so that every step has exactly 64 active features a layer and token; against
# the same loss written densely in PyTorch (scripts/bench/clt_fit_torch.py).
step "Swift: clt-fit (F $FIT_FEATURES, batch $FIT_BATCH, BatchTopK k 64, $FIT_STEPS steps)"
swift_timed clt-fit clt_fit -- "$BIN/clt-fit" -o "$OUT/clt.h5" --features "$FIT_FEATURES" \
    --batch "$FIT_BATCH" --steps "$FIT_STEPS" --activation batchtopk --k 64 --threads "$THREADS" \
    --timing --quiet "$OUT/shards"
rm -f "$OUT/clt.h5"

step "PyTorch: dense CLT training step (F $FIT_FEATURES, batch $FIT_TORCH_BATCH)"
"$PYTHON" "$HERE/clt_fit_torch.py" --features "$FIT_FEATURES" --batch "$FIT_TORCH_BATCH" --steps 2 \
    --threads "$THREADS" | tee -a "$RUN_LOG" || die "clt_fit_torch.py failed"

step "Swift: clt-replace generate ($NEW_TOKENS new tokens, $RUNS runs)"
for _ in $(seq "$RUNS"); do
    swift_timed clt-replace generate -- "$BIN/clt-replace" --model "$MODEL" --tokenizer "$TOKENIZER" \
        --max-new-tokens "$NEW_TOKENS" --ignore-eos --threads "$THREADS" --timing "$PROMPT"
done

step "PyTorch: dump, dump_lmhead, generate"
"$PYTHON" "$HERE/torch_reference.py" --model "$MODEL" --windows "$WINDOWS" \
    --prompt-ids "$OUT/prompt_ids.json" --batch "$BATCH" --max-new-tokens "$NEW_TOKENS" \
    --runs "$RUNS" --threads "$THREADS" | tee -a "$RUN_LOG" \
    || die "torch_reference.py failed"
fi

# SmolLM2-135M (Llama family, GGUF): the same benches, when `make models` has fetched it. Both
# sides run the same dequantised float32 weights; the windows start with its <|endoftext|> (id 0).
SMOL=models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "$SMOL" ]; then
    # transformers reads the GGUF through the gguf package and will not load it without accelerate.
    "$PYTHON" -c 'import gguf, accelerate' 2>/dev/null \
        || die "$PYTHON cannot import gguf and accelerate, which the SmolLM2 rows need (pip install gguf accelerate)"
    step "SmolLM2: token windows"
    "$BIN/gpt2-acts" --print-tokens --model "$SMOL" "$CORPUS" > "$OUT/smollm2.tokens.jsonl" \
        || die "gpt2-acts --print-tokens failed on $CORPUS with $SMOL"
    "$PYTHON" "$HERE/make_windows.py" "$OUT/smollm2.tokens.jsonl" -o "$OUT/smollm2.windows.json" \
        --context "$CONTEXT" --max-windows "$N_WINDOWS" --eot 0
    "$BIN/gpt2-acts" --print-tokens --model "$SMOL" "$PROMPT" > "$OUT/smollm2.prompt.tokens.jsonl"
    "$PYTHON" -c 'import json, sys
json.dump(json.loads(next(l for l in open(sys.argv[1]) if l.strip()))["tokens"], open(sys.argv[2], "w"))' \
        "$OUT/smollm2.prompt.tokens.jsonl" "$OUT/smollm2.prompt_ids.json"
    step "SmolLM2 Swift: gpt2-acts dump, clt-replace generate"
    rm -rf "$OUT/shards-smollm2"
    swift_timed gpt2-acts smollm2_dump -- "$BIN/gpt2-acts" --model "$SMOL" --timing-label smollm2_dump \
        --context "$CONTEXT" --batch "$BATCH" --max-tokens "$MAX_TOKENS" --out-dir "$OUT/shards-smollm2" \
        --threads "$THREADS" --timing "$CORPUS"
    for _ in $(seq "$RUNS"); do
        swift_timed clt-replace smollm2_generate -- "$BIN/clt-replace" --model "$SMOL" \
            --timing-label smollm2_generate --max-new-tokens "$NEW_TOKENS" --ignore-eos \
            --threads "$THREADS" --timing "$PROMPT"
    done
    # The replacement model's generation, with a random transcoder of 2048 features a layer of which
    # 64 fire per token (what a trained one's L0 costs; training one here would take hours).
    if "$PYTHON" -c 'import h5py' 2>/dev/null; then
        step "SmolLM2 Swift: clt-replace --clt generate (random CLT, F=2048, L0=64)"
        SMOL_CLT=$OUT/smollm2-random-clt.h5
        "$PYTHON" "$HERE/make_random_clt.py" "$OUT/shards-smollm2/shard-000000.h5" \
            -o "$SMOL_CLT" --features 2048 --l0 64 || die "make_random_clt.py failed"
        for _ in $(seq "$RUNS"); do
            swift_timed clt-replace smollm2_generate_replacement -- "$BIN/clt-replace" --model "$SMOL" \
                --clt "$SMOL_CLT" --timing-label smollm2_generate_replacement --max-new-tokens "$NEW_TOKENS" \
                --ignore-eos --threads "$THREADS" --timing "$PROMPT"
        done
        # Attribution graphs through the same CLT: a 16-token prompt (target: 10 s without loading)
        # and one of at least 1024 tokens (target: peak memory within 4 GB), seconds and peak RSS from
        # clt-attrib --timing.
        step "SmolLM2 Swift: clt-attrib, a 16-token prompt ($RUNS runs)"
        for _ in $(seq "$RUNS"); do
            swift_timed clt-attrib smollm2_attrib_16 -- "$BIN/clt-attrib" --model "$SMOL" --clt "$SMOL_CLT" \
                --threads "$THREADS" --format json --quiet --timing --timing-label smollm2_attrib_16 \
                "$HERE/attrib-prompt-16.txt"
        done
        # The long prompt is opt-in (BENCH_LONG_GRAPH=1): 4600 characters of the corpus, 1305
        # SmolLM2 tokens, take about 26 minutes at a peak of 3.4 GiB (docs/BENCHMARKS.md).
        if [ "${BENCH_LONG_GRAPH:-}" = 1 ]; then
            "$PYTHON" -c 'import sys; sys.stdout.write(open(sys.argv[1]).read()[:4600])' "$CORPUS" \
                > "$OUT/attrib-prompt-1024.txt"
            swift_timed clt-attrib smollm2_attrib_1024 -- "$BIN/clt-attrib" --model "$SMOL" --clt "$SMOL_CLT" \
                --threads "$THREADS" --format json --quiet --timing --timing-label smollm2_attrib_1024 \
                "$OUT/attrib-prompt-1024.txt"
        fi
    else
        echo "bench: $PYTHON cannot import h5py; skipping the replacement-model generation and graphs" >&2
    fi
    step "SmolLM2 PyTorch: dump, dump_lmhead, generate"
    "$PYTHON" "$HERE/torch_reference.py" --model "$SMOL" --prefix smollm2_ --windows "$OUT/smollm2.windows.json" \
        --prompt-ids "$OUT/smollm2.prompt_ids.json" --batch "$BATCH" --max-new-tokens "$NEW_TOKENS" \
        --runs "$RUNS" --threads "$THREADS" | tee -a "$RUN_LOG" \
        || die "torch_reference.py failed on $SMOL"
else
    echo "bench: $SMOL not found; skipping SmolLM2 (make models fetches it)" >&2
fi

step "results"
"$PYTHON" "$HERE/report.py" "$RUN_LOG" --results "$OUT/results.jsonl" --loadavg-start "$LOAD_START"
