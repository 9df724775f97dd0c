#!/bin/sh
# build_corpus.sh OUT_DIR -- build CLTKit's English corpus from Debian packages.
#
# Installs the Debian packages the corpus is made from if any is missing
# (as root, with apt-get; otherwise prints the apt-get line and stops), then
# runs build_corpus.py (python3 standard library only), which writes
# OUT_DIR/train.txt, OUT_DIR/heldout.txt and OUT_DIR/manifest.json
# (manifest last).  See docs/CORPUS.md.  Needs no network beyond apt.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)

command -v python3 >/dev/null 2>&1 || {
    echo "build_corpus: python3 is needed: apt-get install python3" >&2
    exit 1
}
pkgs=$(python3 "$here/build_corpus.py" --list-packages)

missing=
for p in $pkgs; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $p"
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "build_corpus: missing Debian packages; as root run:" >&2
        echo "  apt-get install --no-install-recommends$missing" >&2
        exit 1
    fi
    echo "build_corpus: installing$missing" >&2
    # --no-install-recommends: dict-style servers and browsers are not needed.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends $missing; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends $missing
    fi
fi

exec python3 "$here/build_corpus.py" "$out"
