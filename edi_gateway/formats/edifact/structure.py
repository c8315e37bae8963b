"""Structure validation of one UN/EDIFACT message (UNH to UNT) against its directory.

Segments are checked as they arrive (`MessageValidator.feed`), so a message never needs to be
held in memory. Two checks run on each segment:

* its place in the message: a segment-group automaton, compiled once per message type, follows
  the segment groups (entering, repeating, leaving them) and reports mandatory segments and
  groups that were skipped, too many repetitions and segments that have no place here. An
  unexpected segment leaves the automaton where it was, so the next segment is judged on its
  own and one bad segment does not hide the ones after it;
* its content: element and component counts, mandatory values, character classes, lengths
  (``n`` counts digits only: no sign, no decimal mark), the decimal mark advised in UNA, and
  values against the directory's code lists.

Every defect is a `Finding` with its UN/EDIFACT syntax error code (service code list 0085; the
codes used mean the same in syntax versions 3 and 4). Findings point at the segment that
revealed them: a missing mandatory segment is reported at the segment that came in its place
(or, at the end, at the last segment received), with that segment's number and tag.

Syntax version 4 only (ISO 9735-1:2002; service code list 0085 of syntax 4 has the codes,
syntax 3's has not): a trailing separator, i.e. an element, component or repetition separator
directly followed by the segment terminator or by the separator of a higher level, is code 45,
as a warning: nothing is lost or ambiguous, and published examples (the EN 16931 D14B
invoices) have them, so it must not reject a message. A data element repeated (repetition
separator) more often than the directory allows is code 35 ("too many data element or segment
repetitions"), where the directory states a count (``"C076 M 3"``); the public XML renderings
give none, so imported directories leave it unchecked rather than guess.

Deliberate leniencies: code-list misses in a message that names a subset in UNH (S009 0057, e.g.
``EAN008``) are warnings, since subsets such as EANCOM add codes of their own; trailing
separators in syntax 3, whose code list has no code for them, are not reported; dependency
notes (code 48) are not checked, because the directories' XML renderings do not carry them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from edi_gateway.formats.edifact.directory import (
    CharClass,
    ComponentSpec,
    DirectoryCatalog,
    ElementSpec,
    GroupNode,
    MessageDef,
    MessageSchema,
    SegmentNode,
    SegmentSpec,
)
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.model.findings import Finding, Location, Severity

SOURCE = "edifact"


class SyntaxError0085(StrEnum):
    """The UN/EDIFACT syntax error codes (service code list 0085) this module reports."""

    INVALID_VALUE = "12"  # value does not conform to the specification (code lists, decimals)
    MISSING = "13"  # mandatory segment, group, element or component missing
    NOT_SUPPORTED_IN_POSITION = "15"  # segment has no place here
    TOO_MANY_CONSTITUENTS = "16"  # too many data elements or components
    TOO_MANY_REPETITIONS = "35"  # segment repeated too often
    TOO_MANY_GROUP_REPETITIONS = "36"  # segment group repeated too often
    INVALID_CHARACTER_TYPE = "37"  # digits in an a field, non-digits in an n field
    TOO_LONG = "39"
    TOO_SHORT = "40"
    TRAILING_SEPARATOR = "45"  # syntax 4 only


Node = SegmentNode | GroupNode
Path = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Missing:
    node: Node
    group: str  # name of the group it belongs to (the message type for the root)


@dataclass(frozen=True, slots=True)
class _Move:
    """Where a segment tag can go from one automaton state."""

    level: int  # the frame the segment lands in (deeper frames are left)
    index: int  # the child of that frame's group it occupies
    repeat: bool  # the child occurs again (or its group starts a new repetition)
    max_repeat: int
    group: bool
    label: str
    path: Path  # the new state
    missing: tuple[_Missing, ...]  # mandatory children skipped or left without occurrence


class MessageAutomaton:
    """The segment-group state machine of one message type.

    A state is the path of child indexes from the root group down to the last matched segment
    (``(-1,)`` before UNH). Transitions are computed on first use and memoised per
    (state, tag), so a message type costs a dictionary look-up per segment once warmed up.
    """

    def __init__(self, message: MessageDef) -> None:
        self.message = message
        self.root = message.root
        self.known_tags = frozenset(message.root.tags())
        self._moves: dict[tuple[Path, str], tuple[_Move, ...]] = {}
        self._ends: dict[Path, tuple[_Missing, ...]] = {}

    def moves(self, path: Path, tag: str) -> tuple[_Move, ...]:
        if tag not in self.known_tags:
            return ()  # not memoised: arbitrary unknown tags must not grow the table
        key = (path, tag)
        found = self._moves.get(key)
        if found is None:
            found = self._moves[key] = self._compute(path, tag)
        return found

    def missing_at_end(self, path: Path) -> tuple[_Missing, ...]:
        found = self._ends.get(path)
        if found is None:
            groups = self._groups(path)
            missing: list[_Missing] = []
            for level in range(len(path) - 1, -1, -1):
                missing += _mandatory_after(groups[level], path[level], len(groups[level].children))
            found = self._ends[path] = tuple(missing)
        return found

    def _groups(self, path: Path) -> list[GroupNode]:
        groups = [self.root]
        for index in path[:-1]:
            child = groups[-1].children[index]
            assert isinstance(child, GroupNode)
            groups.append(child)
        return groups

    def _compute(self, path: Path, tag: str) -> tuple[_Move, ...]:
        groups = self._groups(path)
        moves: list[_Move] = []
        left: list[_Missing] = []  # trailing mandatory children of the frames left so far
        for level in range(len(path) - 1, -1, -1):
            group, current = groups[level], path[level]
            children = group.children
            if current >= 0 and _starts_with(children[current], tag):
                moves.append(self._move(path, level, current, True, tuple(left)))
            for index in range(current + 1, len(children)):
                if _starts_with(children[index], tag):
                    skipped = _mandatory_after(group, current, index)
                    moves.append(self._move(path, level, index, False, tuple(left + skipped)))
                    break
            left += _mandatory_after(group, current, len(children))
        return tuple(moves)

    def _move(
        self, path: Path, level: int, index: int, repeat: bool, missing: tuple[_Missing, ...]
    ) -> _Move:
        child = self._groups(path)[level].children[index]
        is_group = isinstance(child, GroupNode)
        new_path = (*path[:level], index, 0) if is_group else (*path[:level], index)
        return _Move(
            level, index, repeat, child.max_repeat, is_group, child.label, new_path, missing
        )


def _starts_with(node: Node, tag: str) -> bool:
    return node.tag == tag if isinstance(node, SegmentNode) else node.trigger == tag


def _mandatory_after(group: GroupNode, current: int, stop: int) -> list[_Missing]:
    return [_Missing(c, group.name) for c in group.children[current + 1 : stop] if c.mandatory]


@lru_cache(maxsize=512)
def automaton(message: MessageDef) -> MessageAutomaton:
    """The automaton of `message`, built once per process."""
    return MessageAutomaton(message)


class MessageValidator:
    """Validates one message segment by segment: `feed` each segment, then `finish`.

    One validator per message; `decimal_mark` is the one the interchange advises in UNA and
    `syntax_version` the one UNB names (4 adds the trailing separator and repetition checks).
    """

    def __init__(
        self,
        schema: MessageSchema,
        decimal_mark: str = ".",
        message_index: int | None = None,
        syntax_version: int = 3,
    ) -> None:
        self.schema = schema
        self.decimal_mark = decimal_mark
        self.message_index = message_index
        self.syntax_version = syntax_version
        self._automaton = automaton(schema.message)
        self._path: Path = (-1,)
        self._counts: list[int] = [0]
        self._previous: Segment | None = None
        self._code_severity = Severity.ERROR
        self._checker = _ContentChecker(self)

    def feed(self, segment: Segment) -> list[Finding]:
        """Findings about `segment` and about what should have come before it."""
        findings: list[Finding] = []
        moves = self._automaton.moves(self._path, segment.tag)
        if not moves:
            findings.append(self._unexpected(segment))
            return findings
        move = self._choose(moves)
        for missing in move.missing:
            findings.append(self._missing(missing, segment))
        count = self._counts[move.level] + 1 if move.repeat else 1
        if count > move.max_repeat:
            findings.append(self._too_many(move, count, segment))
        self._path = move.path
        del self._counts[move.level :]
        self._counts.append(count)
        if move.group:
            self._counts.append(1)
        if segment.tag == "UNH" and segment.element(2, 5):
            self._code_severity = Severity.WARNING  # a subset (EANCOM, ...) adds its own codes
        self._previous = segment
        spec = self.schema.segment(segment.tag)
        if spec is not None:
            self._checker.check(segment, spec, findings)
        return findings

    def finish(self) -> list[Finding]:
        """Findings only known at the end: mandatory segments and groups that never came."""
        return [self._missing(m, None) for m in self._automaton.missing_at_end(self._path)]

    def _choose(self, moves: tuple[_Move, ...]) -> _Move:
        counts = self._counts
        for move in moves:
            if not move.repeat or counts[move.level] < move.max_repeat:
                return move
        return moves[-1]  # every way is a repetition too many: blame the outermost group

    def location(
        self, segment: Segment | None, element: int | None = None, component: int | None = None
    ) -> Location:
        if segment is None:
            segment = self._previous
        if segment is None:
            return Location(message=self.message_index)
        return Location(
            message=self.message_index,
            segment=segment.number,
            segment_tag=segment.tag,
            element=element,
            component=component,
        )

    @property
    def code_severity(self) -> Severity:
        """ERROR for a code outside the directory's list; WARNING in a subset message."""
        return self._code_severity

    def finding(
        self,
        code: SyntaxError0085,
        text: str,
        location: Location,
        severity: Severity = Severity.ERROR,
    ) -> Finding:
        return Finding(
            code=code.value, severity=severity, text=text, location=location, source=SOURCE
        )

    def _unexpected(self, segment: Segment) -> Finding:
        message = self.schema.message
        if segment.tag not in self._automaton.known_tags:
            text = f"segment {segment.tag} is not part of {message.identifier}"
        elif self._previous is None:
            text = f"segment {segment.tag} cannot start the message; UNH must come first"
        else:
            text = f"segment {segment.tag} is not allowed after {self._previous.tag} here"
        return self.finding(SyntaxError0085.NOT_SUPPORTED_IN_POSITION, text, self.location(segment))

    def _missing(self, missing: _Missing, segment: Segment | None) -> Finding:
        node = missing.node
        what = (
            f"segment group {node.label}" if isinstance(node, GroupNode) else f"segment {node.tag}"
        )
        where = "" if missing.group == self.schema.message.type else f" in {missing.group}"
        when = f"before {segment.tag}" if segment is not None else "at the end of the message"
        text = f"mandatory {what}{where} is missing {when}"
        return self.finding(SyntaxError0085.MISSING, text, self.location(segment))

    def _too_many(self, move: _Move, count: int, segment: Segment) -> Finding:
        if move.group:
            code = SyntaxError0085.TOO_MANY_GROUP_REPETITIONS
            text = f"segment group {move.label} occurs {count} times; at most {move.max_repeat} allowed"
        else:
            code = SyntaxError0085.TOO_MANY_REPETITIONS
            text = (
                f"segment {move.label} occurs {count} times here; at most {move.max_repeat} allowed"
            )
        return self.finding(code, text, self.location(segment))


class _ContentChecker:
    """Element, component and value checks of one segment against its `SegmentSpec`."""

    def __init__(self, validator: MessageValidator) -> None:
        self.validator = validator

    def check(self, segment: Segment, spec: SegmentSpec, out: list[Finding]) -> None:
        elements = segment.elements
        specs = spec.elements
        syntax_4 = self.validator.syntax_version >= 4
        if syntax_4:
            trailing = _trailing_separator(segment)
            if trailing is not None:
                out.append(self._trailing(segment, *trailing))
        if len(elements) > len(specs):
            self._extra_elements(segment, spec, out)
        repeats = segment.repeats
        for index, element in enumerate(specs):
            if index >= len(elements):
                if element.mandatory:
                    out.append(self._element_missing(segment, element))
                continue
            if repeats and index in repeats:
                occurrences = repeats[index]
                limit = element.max_repeat
                if syntax_4 and limit is not None and len(occurrences) > limit:
                    out.append(self._too_many_occurrences(segment, element, len(occurrences)))
                for occurrence in occurrences:
                    self._element(segment, element, occurrence, out)
            else:
                self._element(segment, element, elements[index], out)

    def _trailing(self, segment: Segment, position: int, component: int | None) -> Finding:
        where = f"element {position}" + (f" component {component}" if component else "")
        text = (
            f"{segment.tag} has a trailing separator at {where}; syntax 4 requires omitted "
            "trailing data elements, components and repetitions to be left out with their separators"
        )
        location = self.validator.location(segment, position, component)
        return self.validator.finding(
            SyntaxError0085.TRAILING_SEPARATOR, text, location, Severity.WARNING
        )

    def _too_many_occurrences(self, segment: Segment, spec: ElementSpec, count: int) -> Finding:
        text = (
            f"{segment.tag} element {spec.position} ({spec.id} {spec.name}) occurs {count} "
            f"times; the directory allows {spec.max_repeat}"
        )
        location = self.validator.location(segment, spec.position)
        return self.validator.finding(SyntaxError0085.TOO_MANY_REPETITIONS, text, location)

    def _element(
        self, segment: Segment, spec: ElementSpec, values: list[str], out: list[Finding]
    ) -> None:
        if not any(values):
            if spec.mandatory:
                out.append(self._element_missing(segment, spec))
            return
        components = spec.components
        if len(values) > len(components) and any(values[len(components) :]):
            out.append(self._extra_components(segment, spec, values))
        for index, component in enumerate(components):
            value = values[index] if index < len(values) else ""
            if not value:
                if component.mandatory:
                    out.append(self._component_missing(segment, spec, component))
                continue
            defect = _format_defect(value, component, self.validator.decimal_mark)
            if defect is not None:
                out.append(self._value_finding(segment, spec, component, value, *defect))
            elif component.codes is not None and value not in component.codes:
                out.append(
                    self._value_finding(
                        segment,
                        spec,
                        component,
                        value,
                        SyntaxError0085.INVALID_VALUE,
                        "is not in the code list",
                        self.validator.code_severity,
                    )
                )

    def _value_finding(
        self,
        segment: Segment,
        spec: ElementSpec,
        component: ComponentSpec,
        value: str,
        code: SyntaxError0085,
        problem: str,
        severity: Severity = Severity.ERROR,
    ) -> Finding:
        text = f"{_label(segment.tag, spec, component)}: '{value}' {problem}"
        return self.validator.finding(code, text, self._where(segment, spec, component), severity)

    def _where(self, segment: Segment, spec: ElementSpec, component: ComponentSpec) -> Location:
        return self.validator.location(
            segment, spec.position, component.position if spec.composite else None
        )

    def _extra_elements(self, segment: Segment, spec: SegmentSpec, out: list[Finding]) -> None:
        defined = len(spec.elements)
        for position, values in enumerate(segment.elements[defined:], start=defined + 1):
            if any(values):
                text = (
                    f"{segment.tag} has data in element {position}; "
                    f"the directory defines {defined} element(s)"
                )
                location = self.validator.location(segment, position)
                out.append(
                    self.validator.finding(SyntaxError0085.TOO_MANY_CONSTITUENTS, text, location)
                )
                return

    def _extra_components(self, segment: Segment, spec: ElementSpec, values: list[str]) -> Finding:
        defined = len(spec.components)
        first = next(i for i, v in enumerate(values[defined:], start=defined + 1) if v)
        kind = "composite" if spec.composite else "simple data element"
        text = (
            f"{segment.tag} element {spec.position} ({spec.id} {spec.name}) has "
            f"{len(values)} components; the {kind} has {defined}"
        )
        location = self.validator.location(segment, spec.position, first)
        return self.validator.finding(SyntaxError0085.TOO_MANY_CONSTITUENTS, text, location)

    def _element_missing(self, segment: Segment, spec: ElementSpec) -> Finding:
        kind = "composite" if spec.composite else "data element"
        text = f"{segment.tag} element {spec.position} ({spec.id} {spec.name}): mandatory {kind} is missing"
        return self.validator.finding(
            SyntaxError0085.MISSING, text, self.validator.location(segment, spec.position)
        )

    def _component_missing(
        self, segment: Segment, spec: ElementSpec, component: ComponentSpec
    ) -> Finding:
        text = f"{_label(segment.tag, spec, component)}: mandatory value is missing"
        location = self._where(segment, spec, component)
        return self.validator.finding(SyntaxError0085.MISSING, text, location)


def _trailing_separator(segment: Segment) -> tuple[int, int | None] | None:
    """(element position, component) of the first separator followed by nothing, if any.

    An element written as nothing but separators counts as well: ``+::`` should be ``+``.
    """
    repeats = segment.repeats or {}
    empty_run = None  # position of the first of the empty elements that end the segment
    for index, values in enumerate(segment.elements):
        occurrences = repeats.get(index) or [values]
        if len(occurrences) > 1 and not any(occurrences[-1]):
            return index + 1, None  # a repetition separator followed by nothing
        for occurrence in occurrences:
            if len(occurrence) > 1 and not occurrence[-1]:
                return index + 1, len(occurrence)  # a component separator followed by nothing
        if any(values) or len(occurrences) > 1:
            empty_run = None
        elif empty_run is None:
            empty_run = index + 1
    return None if empty_run is None else (empty_run, None)


def _label(tag: str, element: ElementSpec, component: ComponentSpec) -> str:
    if element.composite:
        return (
            f"{tag} element {element.position} component {component.position} "
            f"({component.id} {component.name})"
        )
    return f"{tag} element {element.position} ({component.id} {component.name})"


def _format_defect(
    value: str, spec: ComponentSpec, decimal_mark: str
) -> tuple[SyntaxError0085, str] | None:
    """The first defect of a non-empty value against its format: characters, then length."""
    if spec.kind is CharClass.NUMERIC:
        size_or_defect = _numeric_size(value, decimal_mark, spec)
        if isinstance(size_or_defect, tuple):
            return size_or_defect
        size, unit = size_or_defect, "digits"
    else:
        if spec.kind is CharClass.ALPHABETIC and any(c.isdigit() for c in value):
            return (
                SyntaxError0085.INVALID_CHARACTER_TYPE,
                f"has digits; the format is {spec.format}",
            )
        size, unit = len(value), "characters"
    if size > spec.max_length:
        return SyntaxError0085.TOO_LONG, f"is too long: {size} {unit}, format {spec.format}"
    if size < spec.min_length:
        return SyntaxError0085.TOO_SHORT, f"is too short: {size} {unit}, format {spec.format}"
    return None


def _numeric_size(
    value: str, decimal_mark: str, spec: ComponentSpec
) -> int | tuple[SyntaxError0085, str]:
    """The number of digits in a numeric value, or what is wrong with it."""
    body = value[1:] if value[0] == "-" else value
    if body.isascii() and body.isdigit():
        return len(body)
    whole, mark, fraction = body.partition(decimal_mark)
    if decimal_mark in fraction:
        return SyntaxError0085.INVALID_VALUE, "has more than one decimal mark"
    for char in whole + fraction:
        if not (char.isascii() and char.isdigit()):
            if char in ".,":
                return SyntaxError0085.INVALID_VALUE, (
                    f"uses '{char}' as decimal mark; the interchange's decimal mark is "
                    f"'{decimal_mark}'"
                )
            return SyntaxError0085.INVALID_CHARACTER_TYPE, (
                f"has characters other than digits, a leading minus sign and the decimal mark; "
                f"the format is {spec.format}"
            )
    if mark and (not whole or not fraction):
        return SyntaxError0085.INVALID_VALUE, "needs a digit on each side of the decimal mark"
    return len(whole) + len(fraction)


def validate_message(
    segments: Iterable[Segment],
    schema: MessageSchema,
    decimal_mark: str = ".",
    message_index: int | None = None,
    syntax_version: int = 3,
) -> list[Finding]:
    """All structure findings of one message (UNH to UNT inclusive)."""
    validator = MessageValidator(schema, decimal_mark, message_index, syntax_version)
    findings: list[Finding] = []
    for segment in segments:
        findings += validator.feed(segment)
    findings += validator.finish()
    return findings


def schema_for(
    unh: Segment, catalog: DirectoryCatalog, syntax_version: int = 3
) -> MessageSchema | None:
    """The schema a UNH segment names in S009 (type, version, release, agency), if known."""
    return catalog.schema(
        unh.element(2, 1), unh.element(2, 2), unh.element(2, 3), unh.element(2, 4), syntax_version
    )
