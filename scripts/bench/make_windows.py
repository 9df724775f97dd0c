#!/usr/bin/env python3
"""Cuts tokenized documents into the 128-token windows that gpt2-acts feeds the model.

Input (a file or stdin): the output of `gpt2-acts --print-tokens`, one JSON object per
document, `{"doc": i, "tokens": [ids]}`, ids without BOS.

Windowing, exactly as gpt2-acts does it: the stream of all documents in order, each
document followed by <|endoftext|> (50256), is cut into consecutive chunks of
CONTEXT - 1 ids; each window is [50256] + chunk; a last partial chunk is dropped.
Only the first --max-windows windows are written (default 64: 8 batches of 8 x 128).

Output: a JSON list of lists of token ids.

Usage: gpt2-acts --print-tokens ... corpus.txt | python3 scripts/bench/make_windows.py -o windows.json
"""
import argparse
import json
import sys

EOT = 50256


def read_documents(lines):
    """Parses the --print-tokens lines into a list of token lists, in document order."""
    docs = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
            tokens = obj["tokens"]
        except (ValueError, KeyError, TypeError) as e:
            sys.exit(f"make_windows: line {number} is not a {{\"doc\": i, \"tokens\": [...]}} object: {e}")
        if obj.get("doc") != len(docs):
            print(f"make_windows: warning: line {number} has doc {obj.get('doc')!r}, expected {len(docs)}",
                  file=sys.stderr)
        docs.append([int(t) for t in tokens])
    return docs


def make_windows(docs, context=128, max_windows=None, eot=EOT):
    """Returns the windows [eot] + chunk for consecutive (context - 1)-id chunks of the stream."""
    chunk = context - 1
    windows, buffer = [], []
    for tokens in docs:
        buffer.extend(tokens)
        buffer.append(eot)
        while len(buffer) >= chunk:
            windows.append([eot] + buffer[:chunk])
            del buffer[:chunk]
            if max_windows is not None and len(windows) >= max_windows:
                return windows
    return windows  # the partial chunk left in `buffer` is dropped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", default="-", help="--print-tokens output (default stdin)")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--max-windows", type=int, default=64)
    parser.add_argument("--eot", type=int, default=EOT, help="end-of-text id (GPT-2 50256, SmolLM2 0)")
    args = parser.parse_args()

    if args.input == "-":
        docs = read_documents(sys.stdin)
    else:
        with open(args.input, encoding="utf-8") as f:
            docs = read_documents(f)
    if not docs:
        sys.exit("make_windows: no documents in the input")
    windows = make_windows(docs, args.context, args.max_windows, args.eot)
    if not windows:
        sys.exit("make_windows: the documents are too short for a single window")
    if len(windows) < args.max_windows:
        print(f"make_windows: warning: only {len(windows)} windows (asked for {args.max_windows})",
              file=sys.stderr)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(windows, f, separators=(",", ":"))
        f.write("\n")
    n_stream = sum(len(d) + 1 for d in docs)
    print(f"make_windows: {len(docs)} documents, {n_stream} stream ids -> {len(windows)} windows of "
          f"{args.context} in {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
