"""`edi-gateway inspect FILE`: an interchange as an indented tree, findings inline.

    UNB Interchange header  [1]
      S001 Syntax identifier: UNOC:3
      ...
      UNH Message header  [2]  ORDERS:D:96A:UN
        BGM Beginning of message  [3]
          C002 Document/message name: 220
        SG2 (NAD)
          NAD Name and address  [9]
            ! error 12: NAD element 1 (3035 Party qualifier): 'XX' is not in the code list
      UNT Message trailer  [40]
    UNZ Interchange trailer  [41]

Segment numbers in brackets count from UNB (as the findings do); element names come from the
message's directory, service segments from the service directory of the syntax version.
Segments are printed as they are read, so a big interchange streams through.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from edi_gateway.formats.edifact.directory import (
    DirectoryCatalog,
    DirectoryError,
    GroupNode,
    MessageSchema,
    SegmentSpec,
)
from edi_gateway.formats.edifact.envelope import (
    EnvelopeChecker,
    Group,
    Interchange,
    InterchangeEnd,
    InterchangeStart,
    Message,
    Package,
)
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.formats.edifact.structure import MessageValidator, automaton, schema_for
from edi_gateway.model import Finding

INDENT = "  "


def render(source: BinaryIO | bytes, catalog: DirectoryCatalog | None = None) -> str:
    """The whole tree as one string (see `lines` to stream it)."""
    return "\n".join(lines(source, catalog)) + "\n"


def lines(source: BinaryIO | bytes, catalog: DirectoryCatalog | None = None) -> Iterator[str]:
    """The tree line by line."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    return _Renderer(catalog or DirectoryCatalog()).run(stream)


def _finding_line(finding: Finding, depth: int) -> str:
    return f"{INDENT * depth}! {finding.severity.value} {finding.code}: {finding.text}"


class _Renderer:
    def __init__(self, catalog: DirectoryCatalog) -> None:
        self.catalog = catalog
        self.syntax = 3
        self.group: Group | None = None
        self.reported = 0  # interchange findings already shown

    def run(self, stream: BinaryIO) -> Iterator[str]:
        checker = EnvelopeChecker(stream)
        shown = 0
        for event in checker:
            if isinstance(event, InterchangeStart):
                yield from self._start(event.interchange)
            elif isinstance(event, Message):
                yield from self._group(event.group)
                yield from self._message(event)
            elif isinstance(event, Package):
                depth = 2 if event.group else 1
                yield f"{INDENT * depth}UNO object {event.reference}: {len(event.data)} bytes"
            elif isinstance(event, InterchangeEnd):
                yield from self._group(None)
                yield from self._end(event.interchange)
                shown = len(checker.findings)
        for finding in checker.findings[shown:]:
            yield _finding_line(finding, 0)

    # -- envelope ------------------------------------------------------------------------------

    def _service(self, tag: str) -> SegmentSpec | None:
        try:
            return self.catalog.service(self.syntax).segment_spec(tag)
        except DirectoryError:
            return None

    def _start(self, ic: Interchange) -> Iterator[str]:
        self.syntax = int(ic.syntax_version) if ic.syntax_version.isdigit() else 3
        self.group = None
        if ic.una:
            d = ic.delimiters
            yield f"UNA {d.una()[3:]}"
        yield from self._segment(ic.header, self._service("UNB"), 0)
        for finding in ic.findings:
            yield _finding_line(finding, 1)
        self.reported = len(ic.findings)

    def _end(self, ic: Interchange) -> Iterator[str]:
        if ic.trailer is not None:
            yield from self._segment(ic.trailer, self._service("UNZ"), 0)
        for finding in ic.findings[self.reported :]:
            yield _finding_line(finding, 1)

    def _group(self, group: Group | None) -> Iterator[str]:
        if group is self.group:
            return
        if self.group is not None and self.group.trailer is not None:
            yield from self._segment(self.group.trailer, self._service("UNE"), 1)
        self.group = group
        if group is not None:
            yield from self._segment(group.segment, self._service("UNG"), 1)

    # -- messages ------------------------------------------------------------------------------

    def _message(self, message: Message) -> Iterator[str]:
        base = 2 if message.group else 1
        segments = message.segments
        schema = schema_for(segments[0], self.catalog, self.syntax) if segments else None
        validator = (
            MessageValidator(schema, message.interchange.delimiters.decimal, message.index)
            if schema
            else None
        )
        tracker = _GroupTracker(schema) if schema else None
        for finding in message.findings:
            if finding.location.segment is None:
                yield _finding_line(finding, base + 1)
        by_segment: dict[int, list[Finding]] = {}
        for finding in message.findings:
            if finding.location.segment is not None:
                by_segment.setdefault(finding.location.segment, []).append(finding)
        for seg in segments:
            depth = base + 1
            if tracker is not None and seg.tag not in ("UNH", "UNT"):
                opened, depth = tracker.feed(seg.tag)
                for name, level in opened:
                    yield f"{INDENT * (base + level)}{name}"
                depth += base
            elif seg.tag in ("UNH", "UNT"):
                depth = base
            spec = schema.segment(seg.tag) if schema else self._service(seg.tag)
            found = validator.feed(seg) if validator else []
            yield from self._segment(seg, spec, depth)
            if schema is None and seg.tag == "UNH":
                yield f"{INDENT * (base + 1)}(no directory for {message.message_type}: names unknown)"
            for finding in [*by_segment.pop(seg.number, []), *found]:
                yield _finding_line(finding, depth + 1)
        if validator is not None and message.complete:
            for finding in validator.finish():
                yield _finding_line(finding, base + 1)
        for rest in by_segment.values():  # findings on segments outside the message (cut off)
            for finding in rest:
                yield _finding_line(finding, base + 1)

    def _segment(self, seg: Segment, spec: SegmentSpec | None, depth: int) -> Iterator[str]:
        name = f" {spec.name}" if spec else ""
        extra = (
            f"  {':'.join(seg.elements[1][:4])}" if seg.tag == "UNH" and seg.elements[1:] else ""
        )
        yield f"{INDENT * depth}{seg.tag}{name}  [{seg.number}]{extra}"
        for position, values in enumerate(seg.elements, start=1):
            if not any(values):
                continue
            label = f"#{position}"
            if spec is not None and position <= len(spec.elements):
                element = spec.elements[position - 1]
                label = f"{element.id} {element.name}"
            shown = ":".join(values)
            if seg.repeats and position - 1 in seg.repeats:
                shown = " * ".join(":".join(o) for o in seg.repeats[position - 1])
            yield f"{INDENT * (depth + 1)}{label}: {shown}"


class _GroupTracker:
    """Follows the segment groups a message walks through, to indent by group. It takes the
    way the structure validator takes: the first move that does not repeat too often."""

    def __init__(self, schema: MessageSchema) -> None:
        self.machine = automaton(schema.message)
        self.root: GroupNode = schema.message.root
        self.path: tuple[int, ...] = (0,)  # after UNH
        self.counts: list[int] = [1]

    def feed(self, tag: str) -> tuple[list[tuple[str, int]], int]:
        """(the group this segment opens with its depth, or none; the segment's depth)."""
        moves = self.machine.moves(self.path, tag)
        if not moves:
            return [], len(self.path)
        counts = self.counts
        move = next((m for m in moves if not m.repeat or counts[m.level] < m.max_repeat), moves[-1])
        count = counts[move.level] + 1 if move.repeat else 1
        del counts[move.level :]
        counts.append(count)
        self.path = move.path
        opened: list[tuple[str, int]] = []
        if move.group:
            counts.append(1)
            opened.append((self._node(self.path[:-1]).label, len(self.path) - 1))
        return opened, len(self.path)

    def _node(self, path: tuple[int, ...]) -> GroupNode:
        node = self.root
        for index in path:
            child = node.children[index]
            assert isinstance(child, GroupNode)
            node = child
        return node
