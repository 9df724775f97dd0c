#!/usr/bin/env bash
# Downloads GPT-2 small (openai-community/gpt2) from Hugging Face into OUT, at a pinned revision,
# and verifies the weights by sha256. Needs network access to huggingface.co (the CLTKit build
# machines have none; everything there is tested on checkpoints the tests create).
# Usage: download-gpt2.sh OUT
set -euo pipefail
out=${1:?usage: download-gpt2.sh OUT}
revision=607a30d783dfa663caf39e06633721c8d4cfcd7e
weights_sha=248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707
base="https://huggingface.co/openai-community/gpt2/resolve/$revision"
if [ -f "$out/model.safetensors" ] && echo "$weights_sha  $out/model.safetensors" | sha256sum --check --quiet 2>/dev/null; then
  echo "$out already holds GPT-2 small" >&2
  exit 0
fi
tmp="$out.partial"
mkdir -p "$tmp"
for f in config.json vocab.json merges.txt tokenizer.json model.safetensors; do
  if ! curl -fL --retry 3 -o "$tmp/$f" "$base/$f"; then
    echo "error: could not download $base/$f; this machine may have no route to huggingface.co" >&2
    exit 1
  fi
done
echo "$weights_sha  $tmp/model.safetensors" | sha256sum --check --quiet
rm -rf "$out" && mv "$tmp" "$out"
echo "downloaded GPT-2 small into $out" >&2
