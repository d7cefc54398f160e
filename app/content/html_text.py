"""Sanitise e-mail HTML with nh3 and turn HTML into plain text for indexing."""

import re
from html.parser import HTMLParser

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        v = value.strip().lower()
        # remote images are tracking pixels and leak that the mail was read
        return value if v.startswith(("cid:", "data:image/")) else None
    if attr == "href" and value.strip().lower().startswith("data:"):
        return None
    return value


MAX_DEPTH = 100
"""Elements nested deeper than this lose their tags (their text stays): html5ever, under
nh3, is quadratic in nesting depth, and no mail needs 100 levels."""
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)(?:\s[^<>]*?)?(/?)>|<!--.*?(?:-->|$)", re.S)
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "keygen", "frame",
})
_IMPLIED_END = frozenset({
    # these end at their next sibling without an end tag, so they never stack up
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody",
    "tfoot", "colgroup", "rb", "rt", "rp", "rtc",
})


def flatten_deep(html: str, max_depth: int = MAX_DEPTH) -> str:
    """``html`` with the tags of elements deeper than ``max_depth`` removed, in one linear
    pass (an end tag closes the element it names and every element opened inside it)."""
    stack: list[str] = []
    out: list[str] = []
    pos = 0
    deep = 0  # start tags dropped while the stack was full
    for m in _TAG.finditer(html):
        closing, name, self_closing = m.group(1), (m.group(2) or "").lower(), m.group(3)
        if not name or name in _VOID or self_closing or name in _IMPLIED_END:
            continue
        if not closing:
            if len(stack) < max_depth:
                stack.append(name)
                continue
            deep += 1
        elif deep:
            deep -= 1
        else:
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name):]
            continue
        out.append(html[pos:m.start()])
        pos = m.end()
    if not out:
        return html
    out.append(html[pos:])
    return "".join(out)


def sanitize_html(html: str) -> str:
    """HTML safe to render: no scripts, no event handlers, no styles, no remote images."""
    return nh3.clean(
        flatten_deep(html),
        tags=_TAGS,
        clean_content_tags={"script", "style", "title", "head", "template", "noscript"},
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


_BLOCK = {
    "p", "div", "br", "tr", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5",
    "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer", "dt", "dd",
}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "pre":
            self._pre += 1
        if tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: blocks become lines, entities are decoded."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip() for line in "".join(parser.parts).replace("\xa0", " ").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
