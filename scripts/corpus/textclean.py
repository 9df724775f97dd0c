"""Text cleaning helpers for the CLTKit English corpus (python3 stdlib only).

Everything here is a pure function of its input, so the corpus build is
deterministic:

  decode()        bytes -> str (UTF-8, falling back to Latin-1)
  clean()         normalise line endings, strip overstrike/ANSI/control
                  characters, trailing blanks, collapse blank-line runs
  norm_key()      whitespace-normalised text used for exact de-duplication
  html_to_text()  HTML page -> plain text (html.parser), skipping navigation
  info_nodes()    GNU info file -> [(node name, text)], menus removed
  rst_light()     drop pure-markup lines (index entries, label targets) from
                  reStructuredText sources; everything else is kept as written
"""

import re
import unicodedata
from html.parser import HTMLParser

SEPARATOR = "<|endoftext|>"

_OVERSTRIKE = re.compile(r".\x08")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BLANKS = re.compile(r"\n{3,}")


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _keep_char(c: str) -> bool:
    if c in "\n\t":
        return True
    cat = unicodedata.category(c)
    # Cc: control characters, Cf: format characters (BOM, soft hyphen,
    # zero-width spaces), Cs/Co/Cn: surrogates, private use, unassigned.
    return cat not in ("Cc", "Cf", "Cs", "Co", "Cn")


def clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    # col -b: "X\bX" (bold) and "_\bX" (underline) both become "X".
    while "\x08" in text:
        new = _OVERSTRIKE.sub("", text)
        if new == text:
            text = text.replace("\x08", "")
            break
        text = new
    text = text.replace("\f", "\n").replace("\v", "\n").replace("\u00a0", " ")
    text = "".join(c for c in text if _keep_char(c))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = _BLANKS.sub("\n\n", text)
    return text.strip("\n")


def norm_key(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- HTML

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
         "meta", "param", "source", "track", "wbr"}
_BLOCK = {"p", "div", "section", "article", "blockquote", "pre", "table",
          "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
          "address", "figure", "header", "footer", "main", "aside"}
_LINE = {"br", "li", "tr", "dt", "dd", "caption"}
_SKIP_TAGS = {"script", "style", "head", "title", "nav", "noscript", "svg"}
# DocBook/Publican/Sphinx navigation and tables of contents.
_SKIP_CLASSES = {"navheader", "navfooter", "docnav", "toc", "list-of-tables",
                 "list-of-figures", "list-of-examples", "related",
                 "sphinxsidebar", "footer", "headerlink", "indexterm"}
_SKIP_IDS = {"banner"}  # Publican's "Download the ebook" banner


class _HTMLText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []          # chunks of text and "\n" markers
        self.stack = []        # [tag, skipping]
        self.pre = 0

    def _skipping(self):
        return bool(self.stack) and self.stack[-1][1]

    def _newlines(self, n):
        # Ensure the output ends with at least n newlines (1 = new line,
        # 2 = blank line), without piling them up.
        if self._skipping() or not self.out:
            return
        tail = 0
        for chunk in reversed(self.out):
            stripped = chunk.rstrip(" ")
            k = len(stripped) - len(stripped.rstrip("\n"))
            tail += k
            if stripped.rstrip("\n"):
                break
        if tail < n:
            self.out.append("\n" * (n - tail))

    def handle_starttag(self, tag, attrs):
        classes, ident = set(), None
        for k, v in attrs:
            if k == "class" and v:
                classes.update(v.split())
            elif k == "id":
                ident = v
        skip = (self._skipping() or tag in _SKIP_TAGS or ident in _SKIP_IDS
                or bool(classes & _SKIP_CLASSES))
        bullet_open = bool(self.out) and self.out[-1] == "* "
        if tag in ("p", "div") and bullet_open:
            pass  # a list item's first paragraph stays on the bullet's line
        elif tag in _BLOCK:
            self._newlines(2)
        elif tag in _LINE:
            self._newlines(1)
        if tag == "li" and not skip:
            self.out.append("* ")
        if tag in ("td", "th") and not skip:
            self.out.append(" ")
        if tag in _VOID:
            return
        if tag == "pre" and not skip:
            self.pre += 1
        self.stack.append([tag, skip])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        # Tolerate sloppy nesting: pop up to the matching open tag.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for t, skip in self.stack[i:]:
                    if t == "pre" and not skip:
                        self.pre -= 1
                del self.stack[i:]
                break
        else:
            return
        if tag in _BLOCK:
            self._newlines(2)
        elif tag in _LINE:
            self._newlines(1)

    def handle_data(self, data):
        if self._skipping():
            return
        if self.pre:
            self.out.append(data)
            return
        data = re.sub(r"\s+", " ", data)
        if not data.strip():
            if self.out and not self.out[-1].endswith((" ", "\n")):
                self.out.append(" ")
            return
        # At the start of a line, or after a space already emitted, the
        # collapsed leading space is redundant.
        if not self.out or self.out[-1].endswith(("\n", " ")):
            data = data.lstrip()
        self.out.append(data)


def html_to_text(html: str) -> str:
    p = _HTMLText()
    p.feed(html)
    p.close()
    return "".join(p.out)


# ---------------------------------------------------------------- GNU info

_INFO_HEADER = re.compile(r"^File: [^,]+,\s+Node: ([^,\n]+)")


def info_nodes(text: str):
    """Split an info file into (node name, body) pairs.

    The preamble, tag tables and indirect tables are dropped, as are the
    "File: ..., Node: ..." navigation line and "* Menu:" blocks."""
    nodes = []
    for part in text.split("\x1f"):
        part = part.lstrip("\n")
        m = _INFO_HEADER.match(part)
        if not m:
            continue
        name = m.group(1).strip()
        body = part.split("\n", 1)[1] if "\n" in part else ""
        nodes.append((name, _drop_menus(body)))
    return nodes


def _drop_menus(body: str) -> str:
    out, in_menu = [], False
    for line in body.split("\n"):
        if line.startswith("* Menu:"):
            in_menu = True
            continue
        if in_menu:
            if line == "" or line.startswith("* ") or line[:1] in (" ", "\t"):
                continue
            in_menu = False
        out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------- reST

_RST_DROP_BLOCK = re.compile(r"^\.\. (index|highlight|toctree|only|testsetup|"
                             r"testcleanup|sectionauthor|moduleauthor|"
                             r"raw|include|tabularcolumns)::")
_RST_LABEL = re.compile(r"^\.\. _[^:]+:\s*$")


def rst_light(text: str) -> str:
    """Drop lines that carry no prose: index entries, link targets, toctrees
    and similar Sphinx directives (with their indented bodies)."""
    out, dropping = [], False
    for line in text.split("\n"):
        if dropping:
            if line == "" or line[:1] in (" ", "\t"):
                continue
            dropping = False
        if _RST_DROP_BLOCK.match(line):
            dropping = True
            continue
        if _RST_LABEL.match(line):
            continue
        out.append(line)
    return "\n".join(out)
