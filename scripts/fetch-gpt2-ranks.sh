#!/usr/bin/env bash
# Fetches GPT-2's BPE rank file (r50k_base) from the openai-whisper sdist on PyPI
# and verifies both the sdist and the file by sha256. Usage: fetch-gpt2-ranks.sh OUT
set -euo pipefail
out=${1:?usage: fetch-gpt2-ranks.sh OUT}
sdist_sha=37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96
ranks_sha=306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$tmp" openai-whisper==20250625
sdist=$(ls "$tmp"/openai*whisper-20250625.tar.gz)
echo "$sdist_sha  $sdist" | sha256sum --check --quiet
tar -xzf "$sdist" -C "$tmp" --wildcards '*/whisper/assets/gpt2.tiktoken'
file=$(ls "$tmp"/*/whisper/assets/gpt2.tiktoken)
echo "$ranks_sha  $file" | sha256sum --check --quiet
mkdir -p "$(dirname "$out")"
cp "$file" "$out.tmp" && mv "$out.tmp" "$out"
echo "fetched $out" >&2
