"""Hardened XML parsing: bytes in, an lxml tree or findings out.

The parser never resolves entities, never loads a DTD, never touches the network, never
processes XInclude and refuses any document that carries a DOCTYPE at all (that is where
XXE, billion laughs and quadratic blow-up live). Size is checked before a single byte is
parsed, nesting depth right after, so a hostile payload costs at most `max_bytes` of memory.
Nothing here raises for bad input: every defect is a `Finding`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from edi_gateway.model import Finding, Location, Severity

SOURCE = "xml"

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

_READ_CHUNK = 1024 * 1024

# How far into the payload the DOCTYPE pre-scan looks; a longer prolog is refused.
_PROLOG_SCAN = 64 * 1024

# Markup that may precede the root element: XML declaration / PIs, comments, whitespace.
_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class XmlLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


@dataclass
class Parsed:
    root: etree._Element | None
    findings: list[Finding] = field(default_factory=list)


def _finding(code: str, text: str, line: int | None = None) -> Finding:
    return Finding(
        code=code, severity=Severity.FATAL, text=text, location=Location(line=line), source=SOURCE
    )


def read_limited(source: BinaryIO, max_bytes: int) -> tuple[bytes | None, list[Finding]]:
    """Read the whole payload, but never more than `max_bytes` (+1 to know it is too long)."""
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        chunk = source.read(min(_READ_CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks), []
        chunks.append(chunk)
        size += len(chunk)
    return None, [_finding("XML-SIZE", f"document is larger than the limit of {max_bytes} bytes")]


def _prolog_text(data: bytes) -> str:
    head = data[:_PROLOG_SCAN]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    if head[:1] == b"\x00":
        return head.decode("utf-16-be", errors="replace")
    if head[1:2] == b"\x00":
        return head.decode("utf-16-le", errors="replace")
    # UTF-8 and every ASCII-compatible encoding: the markup we look for is ASCII.
    return head.decode("latin-1")


def _prolog_end(text: str) -> int:
    """Where the markup allowed before a DOCTYPE (declaration, PIs, comments) stops."""
    pos = 0
    while True:
        match = _PROLOG_ITEM.match(text, pos)
        if match is None or match.end() == pos:
            return pos
        pos = match.end()


def has_doctype(data: bytes) -> bool:
    """True when a DOCTYPE appears before the root element (checked before parsing)."""
    text = _prolog_text(data).lstrip("\ufeff\u00ef\u00bb\u00bf")
    pos = _prolog_end(text)
    return text.startswith("<!DOCTYPE", pos) or text.startswith("<!doctype", pos)


def prolog_too_long(data: bytes) -> bool:
    """True when comments or PIs before the root run past the scan window, so a DOCTYPE
    behind them could not be ruled out before parsing."""
    if len(data) <= _PROLOG_SCAN:
        return False
    text = _prolog_text(data).lstrip("\ufeff\u00ef\u00bb\u00bf")
    rest = text[_prolog_end(text) :]
    return rest == "" or rest.startswith(("<!--", "<?"))


def _new_parser() -> etree.XMLParser:
    # One parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


def _depth_exceeds(root: etree._Element, max_depth: int) -> bool:
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def parse_bytes(data: bytes, limits: XmlLimits) -> Parsed:
    """Parse one payload with every protection on. Never raises for bad input."""
    if len(data) > limits.max_bytes:
        return Parsed(
            None,
            [
                _finding(
                    "XML-SIZE", f"document is larger than the limit of {limits.max_bytes} bytes"
                )
            ],
        )
    if not data.strip():
        return Parsed(None, [_finding("XML-SYNTAX", "the payload is empty")])
    if has_doctype(data):
        return Parsed(None, [_doctype_finding()])
    if prolog_too_long(data):
        return Parsed(
            None,
            [
                _finding(
                    "XML-PROLOG",
                    f"more than {_PROLOG_SCAN // 1024} KiB of comments or processing "
                    "instructions before the root element",
                )
            ],
        )
    try:
        root = etree.fromstring(data, _new_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        return Parsed(None, [_finding("XML-SYNTAX", f"not well-formed XML: {exc.msg}", line)])
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        return Parsed(None, [_doctype_finding()])
    if _depth_exceeds(root, limits.max_depth):
        return Parsed(
            None,
            [
                _finding(
                    "XML-DEPTH", f"elements are nested deeper than the limit of {limits.max_depth}"
                )
            ],
        )
    return Parsed(root)


def _doctype_finding() -> Finding:
    return _finding(
        "XML-DOCTYPE",
        "documents with a DOCTYPE declaration are refused (no DTDs or entities are accepted)",
    )
