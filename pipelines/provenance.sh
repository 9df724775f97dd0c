#!/usr/bin/env bash
# Prints an experiment's provenance as JSON: the commit (and whether the tree had changes), the
# toolchain and tool versions, and the sha256 of every input (model, corpus, experiment file).
#   provenance.sh EXPERIMENT_FILE MODEL_PATH CORPUS_DIR BIN_DIR
set -euo pipefail
exp_file=$(realpath "${1:?usage: provenance.sh EXPERIMENT_FILE MODEL_PATH CORPUS_DIR BIN_DIR}")
exp=$(basename "$exp_file" .mk)
model=${2:?}; corpus=${3:?}; bin=${4:?}
cd "$(dirname "${BASH_SOURCE[0]}")"

hash_of() {  # a file's sha256, or of a folder's files in name order
  if [[ -d $1 ]]; then
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  elif [[ -f $1 ]]; then
    sha256sum "$1" | cut -d' ' -f1
  else
    echo missing
  fi
}
version_of() { "$bin/$1" --version 2>/dev/null || echo missing; }

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$([[ -n $(git status --porcelain 2>/dev/null) ]] && echo true || echo false)
swift_version=$(swift --version 2>/dev/null | head -1 || echo unknown)
jq -n \
  --arg experiment "$exp" --arg commit "$commit" --argjson dirty "$dirty" --arg swift "$swift_version" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg host "$(uname -srm); $(nproc) cores" \
  --arg gpt2_acts "$(version_of gpt2-acts)" --arg clt_fit "$(version_of clt-fit)" \
  --arg clt_encode "$(version_of clt-encode)" --arg clt_attrib "$(version_of clt-attrib)" \
  --arg clt_replace "$(version_of clt-replace)" --arg clt_report "$(version_of clt-report)" \
  --arg model "$model" --arg model_sha "$(hash_of "$model")" \
  --arg train_sha "$(hash_of "$corpus/train.txt")" --arg heldout_sha "$(hash_of "$corpus/heldout.txt")" \
  --arg exp_sha "$(hash_of "$exp_file")" --arg inputs_sha "$(hash_of inputs)" \
  --arg models_sha "$(hash_of models)" \
  '{experiment: $experiment, commit: $commit, uncommitted_changes: $dirty, swift: $swift, date: $date,
    machine: $host,
    tools: {"gpt2-acts": $gpt2_acts, "clt-fit": $clt_fit, "clt-encode": $clt_encode,
            "clt-attrib": $clt_attrib, "clt-replace": $clt_replace, "clt-report": $clt_report},
    inputs: {model: {path: $model, sha256: $model_sha},
             "train.txt": $train_sha, "heldout.txt": $heldout_sha,
             "experiment file": $exp_sha, "pipelines/inputs": $inputs_sha,
             "pipelines/models": $models_sha}}'
