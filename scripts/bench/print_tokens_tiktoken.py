#!/usr/bin/env python3
"""Development stand-in for `gpt2-acts --print-tokens`, using Python's tiktoken.

Prints one JSON object per document, `{"doc": i, "tokens": [ids]}` (no BOS), with the
GPT-2 (r50k_base) encoding built from a local rank file, so the windowing and the PyTorch
side can be tested before the Swift tokenizer exists, and the Swift output can be
cross-checked against it later. Documents are split as docs/FORMATS.md says for plain text:
lines that are exactly <|endoftext|> separate documents, the single line break before a
separator or the end of the file is not part of a document, and documents that are only
whitespace are skipped.
The harness itself never uses this script: it takes the tokens from the Swift tool.

Usage: python3 scripts/bench/print_tokens_tiktoken.py --ranks assets/gpt2.tiktoken FILE
"""
import argparse
import base64
import json
import re
import sys

import tiktoken

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def gpt2_encoding(ranks_path: str) -> tiktoken.Encoding:
    ranks = {}
    with open(ranks_path, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(name="gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", default="assets/gpt2.tiktoken")
    parser.add_argument("file")
    args = parser.parse_args()
    enc = gpt2_encoding(args.ranks)
    with open(args.file, encoding="utf-8") as f:
        text = f.read()
    docs = []
    for part in re.split(r"^<\|endoftext\|>\r?$\n?", text, flags=re.M):
        part = part[:-2] if part.endswith("\r\n") else part[:-1] if part.endswith("\n") else part
        if part.strip(" \t\r\n\v\f"):
            docs.append(part)
    out = sys.stdout
    for i, doc in enumerate(docs):
        out.write(json.dumps({"doc": i, "tokens": enc.encode_ordinary(doc)}, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
