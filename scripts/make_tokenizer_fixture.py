#!/usr/bin/env python3
"""Builds the GPT-2 tokenizer fixture that Tests/TokenizersTests checks the Swift BPE against.

Why: the Swift tokenizer must give exactly tiktoken's ids for GPT-2 (r50k_base), on prose, code
and the corners of the pre-tokenizer regex (Unicode classes, whitespace look-ahead, contractions,
long pieces). tiktoken is the reference; this script records what it says.

Usage:  python3 scripts/make_tokenizer_fixture.py [RANK_FILE] [OUT_DIR]
        RANK_FILE defaults to assets/gpt2.tiktoken (see `make assets`),
        OUT_DIR to Tests/TokenizersTests/Fixtures.
Needs:  tiktoken (0.14 was used). It cannot download the rank file here, so the encoding is built
        from RANK_FILE with GPT-2's pattern and <|endoftext|> = 50256.

Output layout (three files, all read by the Swift tests):
  tokenizer-text.txt     UTF-8; the documents concatenated with nothing between them. Every
                         document is encoded on its own (tiktoken encode_ordinary), so a document
                         boundary is never a token boundary problem.
  tokenizer-ids.u16      the ids of every document, concatenated, each a little-endian uint16
                         (every GPT-2 id is < 65536).
  tokenizer-fixture.json metadata: {"encoding", "tiktokenVersion", "rankFileSHA256", "seed",
                         "textBytes", "idCount", "documents": [{"name", "textOffset", "textLength",
                         "idOffset", "idCount"}]} with offsets/lengths in bytes of the text file and
                         in ids of the id file.
The text is generated deterministically (fixed seed) from this machine's Python standard library
sources, /usr/share/common-licenses and hand-written samples; rerunning on another machine may give
other prose, which is fine: the committed files are the fixture.
"""

import base64
import hashlib
import json
import os
import random
import sys
import sysconfig
import unicodedata

import tiktoken

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SEED = 20250101
TARGET_BYTES = 1_050_000

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_encoding(rank_file):
    ranks = {}
    with open(rank_file, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name="gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256}
    )


# Short samples per script; words are recombined at random below.
SAMPLES = {
    "latin-accents": "Ça été une décision très difficile à prendre. Über den Wolken muß die Freiheit wohl "
    "grenzenlos sein. El niño comió piña en España. Ångström, Øresund, Łódź, Śląsk, Žižkov, "
    "İstanbul'da ılık bir gün. Dziękuję bardzo, się, żółć, façade, naïve, coöperate, Æsir",
    "cyrillic": "Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация "
    "южных губерний даст мощный толчок подъёму сельского хозяйства. Їжак ґанок Ёлка",
    "greek": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Γαζέες καὶ μυρτιὲς δὲν θὰ βρῶ πιὰ στὸ χρυσαφὶ ξέφωτο. "
    "ἐν ἀρχῇ ἦν ὁ λόγος",
    "arabic": "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق. اللُّغَةُ العَرَبِيَّةُ "
    "٠١٢٣٤٥٦٧٨٩",
    "hebrew": "דג סקרן שט בים מאוכזב ולפתע מצא חברה. בְּרֵאשִׁית בָּרָא אֱלֹהִים אֵת הַשָּׁמַיִם",
    "devanagari": "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान "
    "श्रीराम। संस्कृतम् ०१२३४५६७८९ क्षत्रिय",
    "cjk": "我能吞下玻璃而不伤身体。いろはにほへと ちりぬるを わかよたれそ つねならむ。"
    "東京都渋谷区で会議があります。カタカナとひらがな、漢字。１２３４５ｱｲｳｴｵ",
    "thai": "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน ๐๑๒๓๔",
    "korean": "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다. 다람쥐 헌 쳇바퀴에 타고파",
    "misc-scripts": "ქართული ენა Հայերեն լեզու ᠮᠣᠩᠭᠣᠯ ትግርኛ ᏣᎳᎩ ខ្មែរ ລາວ မြန်မာ සිංහල தமிழ் తెలుగు "
    "ગુજરાતી ਪੰਜਾਬੀ বাংলা ಕನ್ನಡ മലയാളം ܣܘܪܝܝܐ ތާނަ ᚠᚢᚦᚨᚱᚲ 𐌰𐌱𐌲 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚",
}

EMOJI = [
    "😀", "😂", "🥲", "❤️", "👍", "👍🏻", "👍🏽", "👍🏿", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🏴‍☠️",
    "🇺🇸", "🇯🇵", "🇩🇪", "🧑🏾‍🤝‍🧑🏼", "👁️‍🗨️", "🤷‍♀️", "🙋🏼‍♂️", "✊🏿", "🦀", "🐍", "☕", "⌚",
    "#️⃣", "1️⃣", "©️", "™", "🔥🔥🔥", "💯", "🫠", "🧬", "🪐", "🏄‍♂️",
]

CONTRACTIONS = [
    "I'M", "I'm", "don't", "DON'T", "it'S", "it's", "we'RE", "we're", "they'Ve", "they've", "you'll",
    "YOU'LL", "he'd", "HE'D", "she'D", "can't", "won't", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
    "''s", "'''", "rock 'n' roll", "o'clock", "it’s", "don’t", "'Tis", "' s", " 's", "ma'am",
    "y'all'd've", "'S", "'LL", "'Re", "'rE",
]

WHITESPACE = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n", "\n ", " \t ",
              "\u00a0", "\u3000", "\u2028", "\u2029", "\u0085", "\u2003", "\u2009", "\u202f",
              "\u1680", "\u205f", "\u000b", "\u000c", "\u200b", "\ufeff", "\u180e"]

PUNCT = list(".,;:!?-—–…()[]{}<>\"'`~@#$%^&*_+=|\\/«»„“”‘’¿¡·•§¶†‡°±×÷€£¥₹")


def char_pool(rng, ranges, categories, count):
    """Random assigned characters from code point ranges, kept only if their category is wanted."""
    out = []
    while len(out) < count:
        lo, hi = rng.choice(ranges)
        c = chr(rng.randint(lo, hi))
        if unicodedata.category(c)[0] in categories or unicodedata.category(c) in categories:
            out.append(c)
    return out


def words_of(text):
    return text.split()


def random_sentence(rng, words, n):
    parts = []
    for _ in range(n):
        w = rng.choice(words)
        r = rng.random()
        if r < 0.05:
            w = w.upper()
        elif r < 0.1:
            w = w.capitalize()
        parts.append(w)
        r = rng.random()
        if r < 0.7:
            parts.append(" ")
        elif r < 0.8:
            parts.append(rng.choice(PUNCT) + " ")
        else:
            parts.append(rng.choice(WHITESPACE))
    return "".join(parts)


def prose_documents(rng):
    """English prose and legal text from /usr/share/common-licenses, in chunks."""
    docs = []
    base = "/usr/share/common-licenses"
    if os.path.isdir(base):
        for name in sorted(os.listdir(base)):
            path = os.path.join(base, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for start in range(0, len(text), 12000):
                    docs.append((f"license/{name}@{start}", text[start : start + 12000]))
    return docs


def stdlib_documents(rng, budget):
    """Python source and docstrings: code, identifiers, numbers, indentation."""
    stdlib = sysconfig.get_paths()["stdlib"]
    files = []
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "site-packages", "__pycache__", "idlelib"))
        for fn in sorted(filenames):
            if fn.endswith(".py"):
                files.append(os.path.join(dirpath, fn))
    rng.shuffle(files)
    docs, total = [], 0
    for path in files:
        if total >= budget:
            break
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(text) < 200:
            continue
        start = rng.randrange(0, max(1, len(text) - 8000))
        chunk = text[start : start + 8000]
        if rng.random() < 0.3:
            chunk = chunk.replace("\n", "\r\n")
        if rng.random() < 0.3:
            chunk = chunk.replace("    ", "\t")
        docs.append((f"python/{os.path.relpath(path, stdlib)}@{start}", chunk))
        total += len(chunk.encode("utf-8"))
    return docs


def multilingual_documents(rng):
    docs = []
    all_words = []
    for name, text in SAMPLES.items():
        words = words_of(text)
        all_words += words
        docs.append((f"sample/{name}", text))
        for i in range(3):
            docs.append((f"mixed/{name}/{i}", random_sentence(rng, words, 150)))
    for i in range(6):
        docs.append((f"mixed/all/{i}", random_sentence(rng, all_words + EMOJI + CONTRACTIONS, 300)))
    return docs


def random_script_documents(rng):
    """Random letters/marks/digits from many blocks: rare byte sequences stress the BPE merges."""
    blocks = {
        "latin-ext": [(0x00C0, 0x024F), (0x1E00, 0x1EFF)],
        "cyrillic": [(0x0400, 0x04FF)],
        "greek": [(0x0370, 0x03FF), (0x1F00, 0x1FFF)],
        "arabic": [(0x0600, 0x06FF)],
        "hebrew": [(0x0590, 0x05FF)],
        "devanagari": [(0x0900, 0x097F)],
        "cjk": [(0x4E00, 0x9FFF), (0x3040, 0x30FF)],
        "thai": [(0x0E00, 0x0E7F)],
        "hangul": [(0xAC00, 0xD7A3), (0x1100, 0x11FF)],
        "math-alnum": [(0x1D400, 0x1D7FF)],
        "cjk-ext-b": [(0x20000, 0x2A6DF)],
        "symbols": [(0x2000, 0x2BFF)],
        "numbers": [(0x2150, 0x218B), (0x2460, 0x24FF), (0x0660, 0x0669), (0xFF10, 0xFF19), (0x00B2, 0x00BE)],
    }
    docs = []
    for name, ranges in blocks.items():
        pool = char_pool(rng, ranges, "LMNPS", 400)
        parts = []
        for _ in range(450):
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 9))))
            parts.append(rng.choice([" ", " ", " ", "\n", "  ", "\t", ", ", ". ", "\u00a0", "\u3000"]))
        docs.append((f"random/{name}", "".join(parts)))
    return docs


def emoji_and_marks_documents(rng):
    docs = []
    parts = []
    for _ in range(1500):
        parts.append("".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4))))
        parts.append(rng.choice([" ", "", "\n", " and ", "! ", "x", "1"]))
    docs.append(("emoji", "".join(parts)))
    marks = [chr(c) for c in range(0x0300, 0x036F)]
    parts = []
    for _ in range(1200):
        base = rng.choice("aeiouAEIOUnzZ xy1 ")
        parts.append(base + "".join(rng.choice(marks) for _ in range(rng.randint(0, 6))))
    docs.append(("combining-marks", "".join(parts)))
    docs.append(("decomposed", unicodedata.normalize("NFD", SAMPLES["latin-accents"] + " " + SAMPLES["greek"])))
    docs.append(("contractions", " ".join(rng.choice(CONTRACTIONS) for _ in range(2500))))
    return docs


def whitespace_and_number_documents(rng):
    docs = []
    parts = []
    for _ in range(4000):
        r = rng.random()
        if r < 0.5:
            parts.append("".join(rng.choice(WHITESPACE) for _ in range(rng.randint(1, 6))))
        elif r < 0.8:
            parts.append(rng.choice(["word", "Word", "x", "1", "!", "é", "中", "'s", "-", "😀"]))
        else:
            parts.append(" " * rng.randint(1, 40))
    docs.append(("whitespace-runs", "".join(parts)))
    docs.append(("leading-trailing", "   \n\t  leading and trailing whitespace \n \n  "))
    docs.append(("only-spaces", " " * 257))
    docs.append(("only-newlines", "\n" * 100 + "\r\n" * 50))
    parts = []
    for _ in range(3000):
        r = rng.random()
        if r < 0.3:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 15))))
        elif r < 0.5:
            parts.append(f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 8)}f}")
        elif r < 0.6:
            parts.append(f"{rng.random():e}")
        elif r < 0.7:
            parts.append(hex(rng.getrandbits(64)))
        elif r < 0.8:
            parts.append(f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        else:
            parts.append(rng.choice(["½", "²", "Ⅻ", "١٢٣", "१२३", "１２３", "⑳", "3rd", "v1.2.3", "$1,000.00"]))
        parts.append(rng.choice([" ", " ", ", ", "\n", "\t", "  "]))
    docs.append(("numbers", "".join(parts)))
    docs.append(("specials-as-text", "<|endoftext|> hello <|endoftext|><|endoftext|>\n<|endoftext|>x <|endoftext"))
    return docs


def long_piece_documents(rng):
    letters = "abcdefghijklmnopqrstuvwxyz"
    docs = [
        ("long/aaaa", "a" * 3000),
        ("long/random-letters", "".join(rng.choice(letters) for _ in range(4000))),
        ("long/space-word", " " + "".join(rng.choice(letters + "éß") for _ in range(2500))),
        ("long/digits", "".join(rng.choice("0123456789") for _ in range(3000))),
        ("long/punct", "".join(rng.choice("!@#$%^&*()-=+[]{};:,.<>/?") for _ in range(2000))),
        ("long/cyrillic", "".join(rng.choice("абвгдежзийклмнопрстуфхцчшщъыьэюя") for _ in range(1500))),
        ("long/cjk", "".join(chr(rng.randint(0x4E00, 0x4FFF)) for _ in range(1000))),
        ("long/whitespace", "".join(rng.choice(" \t\n") for _ in range(3000)) + "end"),
        ("long/spaces-then-word", " " * 3000 + "word"),
        ("long/hex", "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(3000))),
    ]
    return docs


def code_documents(rng):
    snippets = [
        'func f(_ x: Int) -> Int {\n\treturn x &* 31 + 7 // wrap\n}\n',
        '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }\r\n',
        'const re = /\\s+(?!\\S)/g; let s = `${a}+${b}`; x => x ?? y;\n',
        '<div class="x">&amp; &lt;tag&gt;</div>\n',
        '{"key": [1, 2.5e-3, null, true], "ü": "\\u00fc"}\n',
        'SELECT * FROM t WHERE a >= 10 AND b <> \'it\'\'s\';\n',
        '    if (a&&b||!c) { x += y[i++]; }\n',
        'fn main() { let v: Vec<u8> = vec![0xFF; 16]; println!("{v:?}"); }\n',
    ]
    parts = [rng.choice(snippets) for _ in range(1200)]
    return [("code/snippets", "".join(parts))]


def main():
    rank_file = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "assets", "gpt2.tiktoken")
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
    with open(rank_file, "rb") as f:
        rank_sha = hashlib.sha256(f.read()).hexdigest()
    enc = load_encoding(rank_file)
    rng = random.Random(SEED)

    docs = []
    docs += [("hello", "Hello world"), ("empty", "")]
    docs += multilingual_documents(rng)
    docs += random_script_documents(rng)
    docs += emoji_and_marks_documents(rng)
    docs += whitespace_and_number_documents(rng)
    docs += long_piece_documents(rng)
    docs += code_documents(rng)
    docs += prose_documents(rng)
    so_far = sum(len(t.encode("utf-8")) for _, t in docs)
    docs += stdlib_documents(rng, max(0, TARGET_BYTES - so_far))

    text_parts, all_ids, meta_docs = [], [], []
    text_offset = 0
    for name, text in docs:
        data = text.encode("utf-8")
        ids = enc.encode_ordinary(text)
        assert all(i < 65536 for i in ids)
        meta_docs.append(
            {"name": name, "textOffset": text_offset, "textLength": len(data),
             "idOffset": len(all_ids), "idCount": len(ids)}
        )
        text_parts.append(data)
        all_ids += ids
        text_offset += len(data)

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer-text.txt"), "wb") as f:
        f.write(b"".join(text_parts))
    with open(os.path.join(out_dir, "tokenizer-ids.u16"), "wb") as f:
        f.write(b"".join(i.to_bytes(2, "little") for i in all_ids))
    meta = {
        "encoding": "gpt2", "tiktokenVersion": tiktoken.__version__, "rankFileSHA256": rank_sha,
        "seed": SEED, "textBytes": text_offset, "idCount": len(all_ids), "documents": meta_docs,
    }
    with open(os.path.join(out_dir, "tokenizer-fixture.json"), "w") as f:
        json.dump(meta, f, indent=0, ensure_ascii=True)
        f.write("\n")
    print(f"{len(docs)} documents, {text_offset} bytes, {len(all_ids)} ids -> {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
