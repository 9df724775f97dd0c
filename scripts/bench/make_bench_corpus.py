#!/usr/bin/env python3
"""Writes the plain-text English corpus that both sides of `make bench` read.

The text is assembled from the docstrings of the Python standard library (modules,
classes and functions), read with `ast` from the source files, so nothing is imported
and nothing needs the network. Files and definitions are visited in sorted order, so the
output is the same on every run of the same Python version (the bench prints its sha256).

Format (the plain-text corpus format of docs/FORMATS.md): one document per docstring; each
document is a single line (whitespace runs collapsed to one space) and documents are separated
by lines that are exactly <|endoftext|>. Only ASCII
docstrings of at least --min-chars characters are kept; the output stops at the first
document that would take it past --bytes (default 300000).

Usage: python3 scripts/bench/make_bench_corpus.py OUT_FILE [--bytes 300000]
"""
import argparse
import ast
import hashlib
import os
import sys
import sysconfig

# Documents are separated by a line that is exactly <|endoftext|> (docs/FORMATS.md, plain text).
SEPARATOR = "\n<|endoftext|>\n"

# Directories of the stdlib that are tests, tools or vendored code rather than library docs.
SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__",
             "lib2to3", "idlelib", "turtledemo", "ensurepip", "venv", "config-3.11-x86_64-linux-gnu"}


def stdlib_files(root: str):
    """Yields the stdlib's .py files in a fixed (sorted) order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("config-"))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield os.path.join(dirpath, name)


def docstrings(path: str):
    """Yields the module, class and function docstrings of one source file, in source order."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    nodes = [tree] + [n for n in ast.walk(tree)
                      if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    nodes.sort(key=lambda n: getattr(n, "lineno", 0))
    for node in nodes:
        doc = ast.get_docstring(node, clean=True)
        if doc:
            yield doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_file")
    parser.add_argument("--bytes", type=int, default=300_000, help="size limit of the output")
    parser.add_argument("--min-chars", type=int, default=80, help="shortest docstring kept")
    args = parser.parse_args()

    root = sysconfig.get_paths()["stdlib"]
    seen = set()
    docs, size = [], 0
    for path in stdlib_files(root):
        for doc in docstrings(path):
            text = " ".join(doc.split())
            if len(text) < args.min_chars or not text.isascii() or text in seen:
                continue
            seen.add(text)
            extra = len(text) + 1 + (len(SEPARATOR) if docs else 0)
            if size + extra > args.bytes:
                break
            docs.append(text)
            size += extra
        else:
            continue
        break

    data = (SEPARATOR.join(docs) + "\n").encode("ascii")
    os.makedirs(os.path.dirname(os.path.abspath(args.out_file)), exist_ok=True)
    tmp = args.out_file + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out_file)
    print(f"wrote {args.out_file}: {len(docs)} documents, {len(data)} bytes, "
          f"sha256 {hashlib.sha256(data).hexdigest()[:16]} (Python {sys.version.split()[0]} stdlib)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
