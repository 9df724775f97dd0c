#!/usr/bin/env python3
"""Build CLTKit's English corpus from installed Debian packages.

Usage: build_corpus.py OUT_DIR          (normally via build_corpus.sh)
       build_corpus.py --list-packages  (the Debian packages it needs)

Steps (python3 standard library only, deterministic):
  1. read every source package (sources.py), one raw document per natural
     unit, and clean it to plain UTF-8 text (textclean.clean);
  2. sort documents by the stable key "package<TAB>path<TAB>index";
  3. drop exact duplicates (sha256 of whitespace-normalised text; the first
     in key order is kept);
  4. pack consecutive fortunes of one fortune file into documents of at
     least PACK_BYTES (single fortunes are mostly shorter than MIN_BYTES);
  5. drop fragments under MIN_BYTES and any document containing a line that
     is exactly <|endoftext|>;
  6. split: held-out if int(sha256(key)[:8], 16) % HELDOUT_MODULUS == 0,
     else train;
  7. write OUT_DIR/train.txt and OUT_DIR/heldout.txt (documents separated by
     a line "<|endoftext|>", in the order of sha256("order<TAB>" + key), so
     that any prefix samples every source) and OUT_DIR/manifest.json, each
     through a temp file and rename; manifest.json is written last.
"""

import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sources import LICENCES, PACKAGES, READERS, TOOLS  # noqa: E402
from textclean import SEPARATOR, clean, norm_key  # noqa: E402

MIN_BYTES = 200
PACK_BYTES = 1024
HELDOUT_MODULUS = 25
MIN_HELDOUT_BYTES = 1 << 20
MIN_TOTAL_BYTES = 20 * 10**6
SPLIT_RULE = ("held-out if int(sha256(key)[:8], 16) % {m} == 0 else train, "
              "key = package + '\\t' + path + '\\t' + index (7 digits)")


def key_of(pkg, path, index):
    return f"{pkg}\t{path}\t{index:07d}"


def pkg_version(pkg):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                          check=True, capture_output=True,
                          text=True).stdout.strip()


def log(msg):
    print(f"build_corpus: {msg}", file=sys.stderr, flush=True)


def collect():
    docs = []  # (key, pkg, path, index, kind, text)
    for pkg in sorted(READERS):
        t0 = time.time()
        n = 0
        for path, index, text, kind in READERS[pkg](pkg):
            text = clean(text)
            if text:
                docs.append((key_of(pkg, path, index), pkg, path, index,
                             kind, text))
                n += 1
        log(f"{pkg}: {n} raw documents ({time.time() - t0:.1f}s)")
    docs.sort(key=lambda d: d[0])
    return docs


def dedup(docs):
    seen, kept, removed = set(), [], {}
    for d in docs:
        h = hashlib.sha256(norm_key(d[5]).encode("utf-8")).digest()
        if h in seen:
            removed[d[1]] = removed.get(d[1], 0) + 1
            continue
        seen.add(h)
        kept.append(d)
    return kept, removed


def pack_fortunes(docs):
    out, i = [], 0
    while i < len(docs):
        d = docs[i]
        if d[4] != "fortune":
            out.append(d)
            i += 1
            continue
        j = i
        while j < len(docs) and docs[j][4] == "fortune" and \
                docs[j][1:3] == d[1:3]:
            j += 1
        packs, cur = [], []
        for f in docs[i:j]:
            cur.append(f[5])
            if len("\n%\n".join(cur).encode("utf-8")) >= PACK_BYTES:
                packs.append(cur)
                cur = []
        if cur:
            if packs:
                packs[-1].extend(cur)
            else:
                packs.append(cur)
        for n, p in enumerate(packs):
            out.append((key_of(d[1], d[2], n), d[1], d[2], n, "fortune",
                        "\n%\n".join(p)))
        i = j
    out.sort(key=lambda d: d[0])
    return out


def heldout(key):
    h = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return int(h[:8], 16) % HELDOUT_MODULUS == 0


def order_key(key):
    """Where a document stands in train.txt or heldout.txt: a hash of its key, so the order is
    a shuffle that every build reproduces, independent of the held-out split."""
    return hashlib.sha256(("order\t" + key).encode("utf-8")).hexdigest()


def write_atomic(path, data: bytes):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def file_record(name, data, ndocs):
    return {"file": name, "bytes": len(data), "documents": ndocs,
            "sha256": hashlib.sha256(data).hexdigest()}


def main(argv):
    if argv[1:] == ["--list-packages"]:
        print(" ".join(PACKAGES))
        return 0
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = argv[1]
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, "manifest.json")
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # an interrupted build must not look done

    t0 = time.time()
    docs = collect()
    n_raw = len(docs)
    docs, removed = dedup(docs)
    n_dups = sum(removed.values())
    docs = pack_fortunes(docs)
    n_tiny = sum(1 for d in docs if len(d[5].encode("utf-8")) < MIN_BYTES)
    n_sep = sum(1 for d in docs if SEPARATOR in d[5].split("\n"))
    docs = [d for d in docs if len(d[5].encode("utf-8")) >= MIN_BYTES
            and SEPARATOR not in d[5].split("\n")]

    # Written in a fixed shuffled order, not key order: gpt2-acts --max-tokens N reads the
    # first N tokens, which in key order would be the first package or two alone.
    docs.sort(key=lambda d: order_key(d[0]))
    train = [d for d in docs if not heldout(d[0])]
    held = [d for d in docs if heldout(d[0])]
    join = lambda ds: ("\n" + SEPARATOR + "\n").join(d[5] for d in ds) + "\n"
    train_data = join(train).encode("utf-8")
    held_data = join(held).encode("utf-8")
    if len(held_data) < MIN_HELDOUT_BYTES:
        log(f"held-out is only {len(held_data)} bytes; lower HELDOUT_MODULUS")
        return 1
    if len(train_data) + len(held_data) < MIN_TOTAL_BYTES:
        log(f"corpus is only {len(train_data) + len(held_data)} bytes")
        return 1

    sources = {}
    for d in docs:
        s = sources.setdefault(d[1], {"documents": 0, "bytes": 0})
        s["documents"] += 1
        s["bytes"] += len(d[5].encode("utf-8"))
    manifest = {
        "description": "CLTKit English corpus built from Debian packages "
                       "by scripts/corpus/build_corpus.sh (see docs/CORPUS.md)",
        "format": "UTF-8 plain text; documents separated by a line that is "
                  "exactly " + SEPARATOR,
        "sources": [
            {"package": p, "version": pkg_version(p), "licence": LICENCES[p],
             "documents": sources.get(p, {}).get("documents", 0),
             "bytes": sources.get(p, {}).get("bytes", 0),
             "duplicates_removed": removed.get(p, 0)}
            for p in sorted(READERS)],
        "tools": [{"package": p, "version": pkg_version(p)} for p in TOOLS],
        "raw_documents": n_raw,
        "duplicates_removed": n_dups,
        "dedup_rule": "exact duplicates of sha256(' '.join(text.split())); "
                      "first in key order kept",
        "fortune_packing_bytes": PACK_BYTES,
        "tiny_documents_dropped": n_tiny,
        "tiny_threshold_bytes": MIN_BYTES,
        "separator_documents_dropped": n_sep,
        "split_rule": SPLIT_RULE.format(m=HELDOUT_MODULUS),
        "document_order": "by sha256('order\\t' + key): a fixed shuffle, so any "
                          "prefix samples every source",
        "outputs": [file_record("train.txt", train_data, len(train)),
                    file_record("heldout.txt", held_data, len(held))],
    }
    write_atomic(os.path.join(out_dir, "heldout.txt"), held_data)
    write_atomic(os.path.join(out_dir, "train.txt"), train_data)
    write_atomic(manifest_path,
                 (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
                 .encode("utf-8"))
    for r in manifest["outputs"]:
        log(f"{r['file']}: {r['bytes']} bytes, {r['documents']} documents, "
            f"sha256 {r['sha256']}")
    log(f"{n_raw} raw documents, {n_dups} duplicates removed, {n_tiny} tiny "
        f"dropped; {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
