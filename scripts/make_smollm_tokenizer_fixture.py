#!/usr/bin/env python3
"""Builds the SmolLM2 tokenizer fixture that Tests/TokenizersTests checks the Swift GGUF tokenizer against.

Why: `BPETokenizer.fromGGUF` must give exactly the ids SmolLM2's own Hugging Face tokenizer gives,
on prose, code, long numbers and the corners of its pre-tokenizer. The reference here is the
Hugging Face `tokenizers` library, independent of the Swift code, built from the GGUF's vocabulary
and merges with the pipeline of SmolLM2's tokenizer.json:

  pre_tokenizer  Sequence[Digits(individual_digits=True),
                          ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)]
  model          BPE(unk_token=None, byte_fallback=False, ignore_merges=False, fuse_unk=False)
  added tokens   the GGUF's control tokens (token_type 3), special; encoded here with
                 `encode_special_tokens = True`, so "<|endoftext|>" in the text is ordinary text,
                 as the Swift tokenizer's `encode` does (tiktoken's encode_ordinary).

This is what llama.cpp's "smollm" pre-tokenizer means too (llama-vocab.cpp,
LLAMA_VOCAB_PRE_TYPE_SMOLLM: the regexes "\\p{N}" and then GPT-2's).

Not used as the reference: transformers' own GGUF conversion (`AutoTokenizer.from_pretrained(...,
gguf_file=...)`, transformers/integrations/gguf/gguf_tokenizer_mapping.py in 5.24). It has no entry
for `tokenizer.ggml.pre` = "smollm" in GGUF_PRE_TOKENIZER_SPLITS, so it keeps GPT2Tokenizer's plain
ByteLevel split and does not isolate digits ("12345" becomes one piece). This script prints how
many documents it gets wrong, as a reminder.

Usage:  python3 scripts/make_smollm_tokenizer_fixture.py [GGUF] [OUT_DIR]
        GGUF defaults to models/SmolLM2-135M-Instruct.Q4_1.gguf (see `make models`),
        OUT_DIR to Tests/TokenizersTests/Fixtures.
Needs:  gguf, tokenizers (0.23.3 was used); transformers only for the comparison above;
        tiktoken, since the text generator of make_tokenizer_fixture.py is reused.

Output layout (same as the GPT-2 fixture, see make_tokenizer_fixture.py), prefixed "smollm-":
  smollm-tokenizer-text.txt      UTF-8, the documents concatenated; each is encoded on its own.
  smollm-tokenizer-ids.u16       every document's ids, concatenated, little-endian uint16.
  smollm-tokenizer-fixture.json  {"encoding": "smollm2", "tokenizersVersion", "ggufSHA256", "seed",
                                  "textBytes", "idCount", "documents": [{"name", "textOffset",
                                  "textLength", "idOffset", "idCount"}]}
"""

import hashlib
import json
import os
import random
import sys

import gguf
import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixture as textgen  # noqa: E402  (the GPT-2 fixture's text generator)

SEED = 20250615
TARGET_BYTES = 200_000
ROOT = textgen.ROOT
CONTROL = 3


def gguf_tokenizer_metadata(path):
    """tokens, token types and merges as llama.cpp wrote them."""
    reader = gguf.GGUFReader(path)

    def strings(key):
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    types_field = reader.fields["tokenizer.ggml.token_type"]
    types = [int(types_field.parts[i][0]) for i in types_field.data]
    pre_field = reader.fields["tokenizer.ggml.pre"]
    pre = bytes(pre_field.parts[pre_field.data[0]]).decode()
    assert pre == "smollm", f"expected tokenizer.ggml.pre = smollm, found {pre!r}"
    return strings("tokenizer.ggml.tokens"), types, strings("tokenizer.ggml.merges")


def reference_tokenizer(tokens, types, merges):
    """SmolLM2's tokenizer.json pipeline over the GGUF vocabulary (see the module docstring)."""
    vocab = {token: index for index, token in enumerate(tokens)}
    model = models.BPE(
        vocab=vocab, merges=[tuple(m.split(" ")) for m in merges], unk_token=None, byte_fallback=False,
        fuse_unk=False, ignore_merges=False,
    )
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == CONTROL]
    )
    tok.encode_special_tokens = True
    return tok


def smollm_documents(rng, special_names):
    """What SmolLM2's pre-tokenizer treats differently from GPT-2's, and chat-formatted text."""
    docs = [
        ("smollm/capital", "The capital of France is"),
        ("smollm/digits", "12345"),
        ("smollm/digits-mixed", "In 2024, 1,234,567.89 people paid $3.50 (or 0x1F) for v2.0.1 on 2024-06-15."),
        ("smollm/space-before-digits", "a 1  22   333\t4\n5 x1y22z ١٢٣ ½² Ⅻ 𝟘𝟙"),
        ("smollm/chat", "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
         "Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n2+2 = 4.<|im_end|>\n"),
        ("smollm/specials-as-text", "".join(rng.choice(["", " ", "\n", "x", "1"]) + name for name in special_names * 4)),
        ("smollm/specials-glued", "<|endoftext|><|endoftext|>hello<|im_start|><|im_end|> <|im_end|>.<repo_name>a/b"),
        ("smollm/crlf", "line one\r\nline two\r\n\r\n  indented\r\n\ttab\r\n"),
        ("smollm/control-bytes", "a\x04b \x06c!\x13!\x14\x16 \x1dz \x00\x01\x7f end"),
        ("smollm/contractions", " ".join(rng.choice(textgen.CONTRACTIONS) for _ in range(600))),
    ]
    parts = []
    for _ in range(2500):
        r = rng.random()
        if r < 0.4:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 40))))
        elif r < 0.6:
            parts.append(f"{rng.uniform(-1e9, 1e9):.{rng.randint(0, 12)}f}")
        elif r < 0.7:
            parts.append(rng.choice(textgen.WHITESPACE) * rng.randint(1, 3))
        else:
            parts.append(rng.choice(["abc", "x", "Ω", "中", "'s", "😀", "-", "+", "=", "%"]))
        parts.append(rng.choice(["", " ", "  ", ",", "\n", "\t", " \n"]))
    docs.append(("smollm/many-digits", "".join(parts)))
    return docs


def generated_documents(rng, budget):
    """The GPT-2 fixture's documents, cut down to about `budget` bytes so the fixture stays small."""
    pools = [
        textgen.multilingual_documents(rng),
        textgen.random_script_documents(rng),
        textgen.emoji_and_marks_documents(rng),
        textgen.whitespace_and_number_documents(rng),
        textgen.long_piece_documents(rng),
        textgen.code_documents(rng),
        textgen.prose_documents(rng)[::9],
        textgen.stdlib_documents(rng, 40_000),
    ]
    docs, total = [], 0
    for pool in pools:
        for name, text in pool:
            text = text[:2500]
            docs.append((name, text))
            total += len(text.encode("utf-8"))
    # Drop documents at random until within budget, keeping each kind represented.
    while total > budget:
        index = rng.randrange(len(docs))
        if sum(1 for n, _ in docs if n.split("/")[0] == docs[index][0].split("/")[0]) > 1:
            total -= len(docs[index][1].encode("utf-8"))
            del docs[index]
    return docs


def transformers_disagreements(path, docs, expected):
    """How many documents transformers' GGUF conversion encodes differently (it ignores "smollm")."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    hf = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    return sum(
        1 for (_, text), ids in zip(docs, expected)
        if hf(text, add_special_tokens=False, split_special_tokens=True)["input_ids"] != ids
    )


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
    with open(path, "rb") as f:
        gguf_sha = hashlib.sha256(f.read()).hexdigest()
    tokens, types, merges = gguf_tokenizer_metadata(path)
    tok = reference_tokenizer(tokens, types, merges)
    rng = random.Random(SEED)
    special_names = [t for t, ty in zip(tokens, types) if ty == CONTROL]

    docs = [("empty", "")] + smollm_documents(rng, special_names)
    so_far = sum(len(t.encode("utf-8")) for _, t in docs)
    docs += generated_documents(rng, TARGET_BYTES - so_far)

    text_parts, all_ids, meta_docs, per_doc = [], [], [], []
    text_offset = 0
    for name, text in docs:
        data = text.encode("utf-8")
        ids = tok.encode(text, add_special_tokens=False).ids
        assert all(i < 65536 for i in ids)
        meta_docs.append(
            {"name": name, "textOffset": text_offset, "textLength": len(data),
             "idOffset": len(all_ids), "idCount": len(ids)}
        )
        per_doc.append(ids)
        text_parts.append(data)
        all_ids += ids
        text_offset += len(data)

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "smollm-tokenizer-text.txt"), "wb") as f:
        f.write(b"".join(text_parts))
    with open(os.path.join(out_dir, "smollm-tokenizer-ids.u16"), "wb") as f:
        f.write(b"".join(i.to_bytes(2, "little") for i in all_ids))
    meta = {
        "encoding": "smollm2", "tokenizersVersion": tokenizers.__version__, "ggufSHA256": gguf_sha,
        "seed": SEED, "textBytes": text_offset, "idCount": len(all_ids), "documents": meta_docs,
    }
    with open(os.path.join(out_dir, "smollm-tokenizer-fixture.json"), "w") as f:
        json.dump(meta, f, indent=0, ensure_ascii=True)
        f.write("\n")
    print(f"{len(docs)} documents, {text_offset} bytes, {len(all_ids)} ids -> {out_dir}", file=sys.stderr)
    wrong = transformers_disagreements(path, docs, per_doc)
    if wrong is not None:
        print(f"transformers' GGUF conversion differs on {wrong} of {len(docs)} documents", file=sys.stderr)


if __name__ == "__main__":
    main()
