"""Corpus sources: which Debian packages feed the corpus and how each is read.

Each source is a Debian binary package from the main section.  Its reader
yields raw documents as (path, index, text, kind) tuples, split at the
natural boundary of the material:

  fortunes            one fortune (packed later into ~1 KB documents)
  man pages           one rendered page (groff -Tutf8, no hyphenation)
  Python/Debian docs  one reStructuredText source page or one HTML page
  GNU info manuals    one info node
  perl-doc            one pod page (pod2text)
  KJV Bible           one chapter
  common licences     one licence text

Paths are the installed file paths, so (package, path, index) is a stable
sort key.  Only files the package itself ships (dpkg-query -L) are read.
"""

import gzip
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

from textclean import decode, html_to_text, info_nodes, rst_light

# package -> licence of its *content*, summarised from
# /usr/share/doc/PKG/copyright (see docs/CORPUS.md).
LICENCES = {
    "fortunes": "BSD (fortune-mod's licence, covering the collection); "
                "the quotations are by many authors, many old or public "
                "domain",
    "fortunes-min": "BSD (fortune-mod's licence, covering the collection); "
                    "the quotations are by many authors",
    "python3.11-doc": "PSF-2.0 (Python Software Foundation License; "
                      "documentation examples also under 0BSD)",
    "manpages": "various free licences: Linux-man-pages-copyleft (verbatim), "
                "GPL-2+, BSD, Expat, ...",
    "manpages-dev": "various free licences: Linux-man-pages-copyleft "
                    "(verbatim), GPL-2+, BSD, Expat, ...",
    "perl-doc": "GPL-1+ or Artistic (Perl's licence)",
    "debian-handbook": "GPL-2+ or CC-BY-SA-3.0",
    "debian-reference-en": "GPL-2+",
    "debian-policy": "GPL-2+ (policy manual); FHS licence (fhs-3.0); "
                     "BSD-3-clause / verbatim-notice for sub-documents",
    "developers-reference": "GPL-2",
    "maint-guide": "GPL-2+ / MIT (dual-licensed, see copyright file)",
    "debian-faq": "verbatim-copying permission notice (SPI, 1996-2003), "
                  "free to copy and modify",
    "bash-doc": "GFDL-1.3+ with no Invariant Sections (Bash Reference "
                "Manual)",
    "gnu-standards": "GFDL-1.3+ with no Invariant Sections",
    "bible-kjv-text": "public domain (King James Version, 1611); retrieval "
                      "data format by Chip Chapin, unrestricted use",
    "base-files": "the licence texts themselves (verbatim copying permitted)",
}

# Packages whose programs are used to render text (recorded, not read).
TOOLS = ["groff-base", "perl", "bible-kjv"]

PACKAGES = list(LICENCES) + TOOLS


def dpkg_files(pkg):
    out = subprocess.run(["dpkg-query", "-L", pkg], check=True,
                         capture_output=True, text=True).stdout
    # Symbolic links are left out: they repeat a file read anyway (man page
    # aliases, GPL -> GPL-3, fortune *.u8 links).
    return sorted(p for p in out.split("\n")
                  if p and os.path.isfile(p) and not os.path.islink(p))


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return decode(data)


# ------------------------------------------------------------ fortunes

FORTUNE_DIR = "/usr/share/games/fortunes/"
FORTUNE_SKIP = {"ascii-art"}  # pictures, not English text


def fortunes(pkg):
    for path in dpkg_files(pkg):
        if not path.startswith(FORTUNE_DIR):
            continue
        name = path[len(FORTUNE_DIR):]
        if "." in name or "/" in name or name in FORTUNE_SKIP:
            continue
        text = read(path).replace("\r\n", "\n")
        for i, f in enumerate(re.split(r"(?m)^%\n", text)):
            yield path, i, f, "fortune"


# ------------------------------------------------------------ man pages

GROFF = ["groff", "-k", "-t", "-man", "-Tutf8", "-rLL=78n", "-rHY=0",
         "-P-cbou"]


def _render_man(path):
    src = read(path)
    if src.lstrip().startswith(".so ") and src.count("\n") <= 3:
        return path, None  # a link to another page
    # ".ad l": ragged right, so no padding spaces between words.
    env = dict(os.environ, LC_ALL="C.UTF-8")
    r = subprocess.run(GROFF, input=(".ad l\n" + src).encode("utf-8"),
                       capture_output=True, env=env)
    lines = r.stdout.decode("utf-8", "replace").split("\n")
    # Drop the running header (first line) and footer (last non-blank).
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > 2:
        lines = lines[1:-1]
    return path, "\n".join(lines)


def man_pages(pkg):
    paths = [p for p in dpkg_files(pkg)
             if re.match(r"/usr/share/man/man[1-9][^/]*/[^/]+\.gz$", p)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        for path, text in ex.map(_render_man, paths):
            if text is not None:
                yield path, 0, text, "man"


# ------------------------------------------------------------ perl pod

def _pod2text(path):
    r = subprocess.run(["pod2text", "-w", "78", path], capture_output=True,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    return path, r.stdout.decode("utf-8", "replace")


def perl_pods(pkg):
    # perlNNNdelta release notes are left out: 66 near-identical templates.
    paths = [p for p in dpkg_files(pkg) if p.endswith(".pod")
             and not re.search(r"/perl\d+delta\.pod$", p)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        for path, text in ex.map(_pod2text, paths):
            yield path, 0, text, "pod"


# ------------------------------------------------------------ reST / HTML

def rst_sources(pkg, pattern=r"/_sources/.*\.(rst|txt)\.txt$"):
    for path in dpkg_files(pkg):
        if re.search(pattern, path):
            yield path, 0, rst_light(read(path)), "rst"


def html_pages(pkg, pattern, skip=r"/(index|genindex|search)(\.[a-z]{2})?\.html$"):
    for path in dpkg_files(pkg):
        if re.search(pattern, path) and not re.search(skip, path):
            yield path, 0, html_to_text(read(path)), "html"


def text_files(pkg, pattern):
    for path in dpkg_files(pkg):
        if re.search(pattern, path):
            yield path, 0, read(path), "text"


def info_manuals(pkg):
    for path in dpkg_files(pkg):
        if re.match(r"/usr/share/info/.*\.info(-\d+)?(\.gz)?$", path):
            for i, (name, body) in enumerate(info_nodes(read(path))):
                if "index" in name.lower() or name == "Top":
                    continue
                yield path, i, body, "info"  # body starts with its heading


# ------------------------------------------------------------ KJV Bible

def bible(pkg):
    # The text package holds compressed data; the `bible` program of the
    # bible-kjv package prints it.  -l100000: one verse per line.
    r = subprocess.run(["bible", "-l100000", "Gen1:1-Rev22:21"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       check=True, env=dict(os.environ, LC_ALL="C.UTF-8"))
    text = r.stdout.decode("utf-8", "replace")
    chapters = re.split(r"(?m)^(?=[1-3]? ?[A-Z][A-Za-z ]+ \d+$)", text)
    for i, ch in enumerate(c for c in chapters if c.strip()):
        lines = [ln.strip() for ln in ch.strip().split("\n")]
        yield "/usr/lib/bible.data", i, "\n".join(lines), "bible"


# ------------------------------------------------------------ licences

def common_licenses(pkg):
    for path in dpkg_files(pkg):
        if path.startswith("/usr/share/common-licenses/"):
            yield path, 0, read(path), "licence"


# package -> reader.  Order does not matter: documents are sorted by key.
READERS = {
    "fortunes": fortunes,
    "fortunes-min": fortunes,
    "python3.11-doc": rst_sources,
    "manpages": man_pages,
    "manpages-dev": man_pages,
    "perl-doc": perl_pods,
    "debian-handbook": lambda p: html_pages(p, r"/html/en-US/[^/]+\.html$"),
    "debian-reference-en": lambda p: html_pages(p, r"\.en\.html$"),
    "debian-policy": lambda p: (list(rst_sources(p))
                                + list(text_files(p, r"/debian-policy/[^/]+\.txt\.gz$|/fhs-3\.0\.txt\.gz$"))),
    "developers-reference": rst_sources,
    "maint-guide": lambda p: html_pages(p, r"/html/[^/]+\.en\.html$"),
    "debian-faq": lambda p: html_pages(p, r"/FAQ/[^/]+\.en\.html$"),
    "bash-doc": info_manuals,
    "gnu-standards": info_manuals,
    "bible-kjv-text": bible,
    "base-files": common_licenses,
}
assert set(READERS) == set(LICENCES)
