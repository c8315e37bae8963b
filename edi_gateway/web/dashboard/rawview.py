"""The raw payload made readable: EDIFACT one segment per line with findings marked at their
segment and element, XML indented with the elements a finding's XPath selects highlighted,
JSON indented. For display only; the pipeline never reads these."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

DISPLAY_LIMIT = 1024 * 1024


@dataclass
class Element:
    position: int  # 1-based after the tag
    components: list[str]  # as received, release characters included
    marked: bool = False
    marked_component: int | None = None  # 1-based, when the finding names one
    notes: list[str] = field(default_factory=list)


@dataclass
class SegmentLine:
    number: int | None  # None for UNA (not counted)
    tag: str
    elements: list[Element]
    separator: str  # element separator, to draw the line as received
    terminator: str
    component_separator: str = ":"
    marked: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class TextLine:
    number: int
    text: str
    marked: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class RawView:
    kind: str  # "edifact", "xml", "json", "text"
    segments: list[SegmentLine] = field(default_factory=list)
    lines: list[TextLine] = field(default_factory=list)
    truncated: bool = False
    unplaced: list[dict[str, Any]] = field(default_factory=list)  # findings not drawn in place


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _split(text: str, sep: str, release: str) -> list[str]:
    """Split on `sep` where it is not escaped by the release character."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == release and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def edifact(raw: bytes, findings: list[dict[str, Any]]) -> RawView:
    text = _decode(raw[:DISPLAY_LIMIT]).lstrip("\ufeff")
    view = RawView("edifact", truncated=len(raw) > DISPLAY_LIMIT)
    component, element, release, terminator = ":", "+", "?", "'"
    if text.startswith("UNA") and len(text) >= 9:
        component, element, release, terminator = text[3], text[4], text[6], text[8]
        view.segments.append(SegmentLine(None, "UNA", [Element(1, [text[3:8]])], "", terminator))
        text = text[9:]
    number = 0
    for body in _split(text, terminator, release):
        body = body.strip("\r\n\t ")
        if not body:
            continue
        number += 1
        tag, *rest = _split(body, element, release)
        view.segments.append(
            SegmentLine(
                number,
                tag,
                [Element(i, _split(value, component, release)) for i, value in enumerate(rest, 1)],
                element,
                terminator,
                component,
            )
        )
    by_number = {s.number: s for s in view.segments if s.number is not None}
    for f in findings:
        loc = f.get("location") or {}
        at = loc.get("segment")
        segment = by_number.get(at) if isinstance(at, int) else None
        if segment is None:
            view.unplaced.append(f)
            continue
        note = f"{f['code']}: {f['text']}"
        segment.marked = True
        segment.notes.append(note)
        position = loc.get("element")
        if isinstance(position, int) and 1 <= position <= len(segment.elements):
            target = segment.elements[position - 1]
            target.marked = True
            target.notes.append(note)
            part = loc.get("component")
            if isinstance(part, int) and 1 <= part <= len(target.components):
                target.marked_component = part
        elif isinstance(position, int):  # a missing element: say so at the end of the line
            segment.elements.append(Element(position, [""], marked=True, notes=[note]))
    return view


_STEP = re.compile(r"(?<=/)(?:(?:\*|[A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)(?=\[|/|$)")
_MARK = "data-edigw-mark"


def local_xpath(xpath: str) -> str:
    """Rewrite each step `prefix:Name` (or `*:Name`, XPath 2 style) as
    `*[local-name()='Name']`, so a finding's path selects without namespace bindings."""
    return _STEP.sub(lambda m: f"*[local-name()='{m.group(1)}']", xpath)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=True,
    )


def xml(raw: bytes, findings: list[dict[str, Any]]) -> RawView:
    view = RawView("xml", truncated=len(raw) > DISPLAY_LIMIT)
    try:
        root = etree.fromstring(raw[:DISPLAY_LIMIT], _parser())
    except etree.XMLSyntaxError:
        return text_view(raw, findings)
    marks: dict[str, list[str]] = {}
    for n, f in enumerate(findings):
        xpath = (f.get("location") or {}).get("xpath")
        hits: list[Any] = []
        if xpath:
            try:
                found = root.xpath(local_xpath(xpath))
                hits = (
                    [h for h in found if isinstance(h, etree._Element)]
                    if isinstance(found, list)
                    else []
                )
            except etree.XPathError:
                hits = []
        if not hits:
            view.unplaced.append(f)
            continue
        for h in hits:
            key = h.get(_MARK) or str(n)
            h.set(_MARK, key)
            marks.setdefault(key, []).append(f"{f['code']}: {f['text']}")
    etree.indent(root, space="  ")
    pretty = etree.tostring(root, encoding="unicode")
    pattern = re.compile(rf' {_MARK}="([^"]*)"')
    for i, line in enumerate(pretty.splitlines(), 1):
        m = pattern.search(line)
        notes = marks.get(m.group(1), []) if m else []
        view.lines.append(TextLine(i, pattern.sub("", line), marked=bool(m), notes=notes))
    return view


def json_view(raw: bytes, findings: list[dict[str, Any]]) -> RawView:
    try:
        pretty = json.dumps(json.loads(raw[:DISPLAY_LIMIT]), indent=2, ensure_ascii=False)
    except ValueError:
        return text_view(raw, findings)
    view = RawView("json", truncated=len(raw) > DISPLAY_LIMIT, unplaced=list(findings))
    view.lines = [TextLine(i, line) for i, line in enumerate(pretty.splitlines(), 1)]
    return view


def text_view(raw: bytes, findings: list[dict[str, Any]]) -> RawView:
    text = _decode(raw[:DISPLAY_LIMIT])
    view = RawView("text", truncated=len(raw) > DISPLAY_LIMIT, unplaced=list(findings))
    view.lines = [TextLine(i, line) for i, line in enumerate(text.splitlines(), 1)]
    return view


def render(raw: bytes, findings: list[dict[str, Any]], fmt: str | None) -> RawView:
    """Pick the view from the recorded format, else from the first bytes."""
    head = raw[:64].lstrip(b"\xef\xbb\xbf \r\n\t")
    if fmt == "edifact" or head.startswith((b"UNA", b"UNB")):
        return edifact(raw, findings)
    if fmt in ("ubl", "cii", "xml") or head.startswith(b"<"):
        return xml(raw, findings)
    if fmt == "json" or head.startswith((b"{", b"[")):
        return json_view(raw, findings)
    return text_view(raw, findings)
