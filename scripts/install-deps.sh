#!/usr/bin/env bash
# Installs the Debian packages CLTKit builds and tests against, when they are missing (graphviz:
# the clt-attrib test renders its DOT and the pipelines draw graphs; jq: pipelines/provenance.sh;
# librsvg2-bin: clt-plot --png; chromium: the clt-plot graph page is tested in a headless browser;
# libopenmpi-dev, openmpi-bin: clt-fit links Open MPI and its tests run mpirun on loopback).
# As root it runs apt-get; otherwise it names the packages and stops.
set -euo pipefail
packages=(libopenblas-dev libhdf5-dev libopenmpi-dev openmpi-bin pkg-config graphviz jq librsvg2-bin chromium "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing Debian packages: ${missing[*]}" >&2
  echo "       install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
