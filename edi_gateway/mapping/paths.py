"""Selector paths: which segments, groups and values a mapping rule reads.

A path is a chain of steps separated by ``/``, read from a context (the message, a segment
group, or a single segment):

``SG2/SG3/RFF[1153=VA].1154``
    into segment group SG2, then its SG3 groups, then their RFF segments whose 1153 is ``VA``,
    and the value of data element 1154.

A step is a segment group (its directory name such as ``SG25``, or an alias from the file's
``[groups]`` table) or a segment tag; only the last step may be a segment, and only a direct
child of the group before it. ``[ref=A|B]`` keeps segments (for a group: groups whose first
segment) with one of those values at ``ref``; ``[ref]`` keeps those with any value there.
``ref`` (also after the final ``.``) is one of:

``1004``
    a data element by its id, first place it occurs in the segment (``3036*``: every place);
``C082.3055``
    a component by composite and element id (``C080.3036*``: every place in the composite);
``4`` or ``4.2``
    element position (and component position), 1-based, as in ``Segment.element``.

Paths are compiled once against the directory, so a rule that names a segment the group cannot
hold, or an element the segment does not have, fails when the mapping is loaded, not later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from edi_gateway.formats.edifact.directory import Directory, GroupNode, SegmentNode, SegmentSpec


class MappingError(ValueError):
    """A mapping file is malformed or does not fit its directory (a deployment defect)."""


Position = tuple[int, int]  # 0-based element and component index


@dataclass(frozen=True, slots=True)
class Condition:
    position: Position
    values: frozenset[str] | None  # None: any non-empty value
    negate: bool = False  # ``!=``: any value but these (an empty one included)


@dataclass(frozen=True, slots=True)
class Step:
    name: str  # segment group name or segment tag
    group: bool
    conditions: tuple[Condition, ...]


Context = GroupNode | str  # a segment group, or a single segment (its tag)


@dataclass(frozen=True, slots=True)
class Path:
    text: str
    steps: tuple[Step, ...]
    target: Context  # what the last step selects
    positions: tuple[Position, ...] = ()  # the values read (empty: the path selects)
    description: str = ""  # for findings: "1004 Document identifier in BGM"

    @property
    def segment(self) -> str | None:
        return self.target if isinstance(self.target, str) else None

    def reads(self, position: Position) -> str:
        """Human name of the element at `position` of this path's segment (for findings)."""
        return f"{self.segment} element {position[0] + 1}" + (
            f" component {position[1] + 1}" if position[1] else ""
        )


_STEP = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_]*)(?P<conditions>(?:\[[^\]]*\])*)\Z")
_CONDITION = re.compile(r"\[([^\]=!]+)(?:(!?=)([^\]]*))?\]")
_POSITION = re.compile(r"(\d{1,2})(?:\.(\d{1,2}))?\Z")
_ELEMENT = re.compile(r"(?:([A-Z]\d{3})\.)?(\d{4})(\*?)\Z")


class PathCompiler:
    """Compiles path texts of one mapping against its message structure and directory."""

    def __init__(self, directory: Directory, aliases: dict[str, str], source: str) -> None:
        self.directory = directory
        self.aliases = aliases
        self.source = source

    def compile(self, text: str, context: Context, *, value: bool) -> Path:
        """`value`: the path must end in a segment and an element reference."""
        body, ref = _split_reference(text)
        if value and ref is None:
            self._fail(text, "a value path must end with '.<element>', e.g. BGM.1004")
        if not value and ref is not None:
            self._fail(text, "this rule selects segments or groups; drop the '.<element>'")
        steps: list[Step] = []
        current: Context = context
        parts = _split_steps(body)
        for index, part in enumerate(parts):
            match = _STEP.match(part)
            if match is None:
                self._fail(text, f"cannot read step {part!r}")
            name = self.aliases.get(match["name"], match["name"])
            child: GroupNode | str | None
            if isinstance(current, GroupNode):
                child = _child(current, name)
            elif index == 0 and name == current:
                child = name  # the context is this segment itself
            else:
                self._fail(text, f"{current} is a segment; nothing lies below it")
            if child is None:
                where = current.name if isinstance(current, GroupNode) else current
                self._fail(text, f"{name} is not a segment or segment group directly in {where}")
            tag = child.trigger if isinstance(child, GroupNode) else child
            spec = self._spec(text, tag)
            conditions = tuple(
                self._condition(text, spec, cond)
                for cond in _CONDITION.findall(match["conditions"])
            )
            steps.append(Step(name, isinstance(child, GroupNode), conditions))
            current = child
        if value and not isinstance(current, str):
            self._fail(text, "a value path must end in a segment, e.g. SG2/NAD.3039")
        positions: tuple[Position, ...] = ()
        description = ""
        if ref is not None:
            assert isinstance(current, str)
            spec = self._spec(text, current)
            positions, label = self._reference(text, spec, ref)
            description = f"{label} in {_describe(steps, spec)}"
        return Path(text, tuple(steps), current, positions, description)

    def describe(self, path: Path) -> str:
        tag = path.segment
        if tag is None:
            return path.text
        return _describe(list(path.steps), self._spec(path.text, tag))

    def _spec(self, text: str, tag: str) -> SegmentSpec:
        spec = self.directory.segment_spec(tag)
        if spec is None:
            self._fail(text, f"directory {self.directory.name} does not define segment {tag}")
        return spec

    def _condition(self, text: str, spec: SegmentSpec, found: tuple[str, str, str]) -> Condition:
        ref, operator, values = found
        positions, _ = self._reference(text, spec, ref.strip())
        if len(positions) != 1:
            self._fail(text, f"a condition needs one place, {ref!r} names {len(positions)}")
        wanted = frozenset(v.strip() for v in values.split("|")) if values else None
        return Condition(positions[0], wanted, operator == "!=")

    def _reference(
        self, text: str, spec: SegmentSpec, ref: str
    ) -> tuple[tuple[Position, ...], str]:
        match = _POSITION.match(ref)
        if match is not None:
            index, sub = int(match[1]), int(match[2] or 1)
            if index > len(spec.elements) or sub > len(spec.elements[index - 1].components):
                self._fail(text, f"{spec.tag} has no element {ref}")
            found = spec.elements[index - 1].components[sub - 1]
            return ((index - 1, sub - 1),), f"{found.id} {found.name}"
        match = _ELEMENT.match(ref)
        if match is None:
            self._fail(text, f"cannot read element reference {ref!r}")
        composite, element_id, every = match.groups()
        places: list[Position] = []
        name = ""
        for element in spec.elements:
            if composite is not None and element.id != composite:
                continue
            for component in element.components:
                if component.id == element_id:
                    places.append((element.position - 1, component.position - 1))
                    name = component.name
        if not places:
            self._fail(text, f"{spec.tag} has no data element {ref.rstrip('*')}")
        return (tuple(places) if every else (places[0],)), f"{element_id} {name}"

    def _fail(self, text: str, problem: str) -> NoReturn:
        raise MappingError(f"{self.source}: path {text!r}: {problem}")


def _child(group: GroupNode, name: str) -> GroupNode | str | None:
    for child in group.children:
        if isinstance(child, GroupNode) and child.name == name:
            return child
        if isinstance(child, SegmentNode) and child.tag == name:
            return name
    return None


def _split_reference(text: str) -> tuple[str, str | None]:
    depth = 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "." and depth == 0:
            return text[:index], text[index + 1 :]
    return text, None


def _split_steps(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "/" and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _describe(steps: list[Step], spec: SegmentSpec) -> str:
    last = steps[-1]
    text = last.name
    for condition in last.conditions:
        element = spec.elements[condition.position[0]]
        what = element.components[condition.position[1]].id
        if condition.values is None:
            text += f" with a {what}"
        elif condition.negate:
            text += f" with {what} other than " + " or ".join(sorted(condition.values))
        else:
            text += f" with {what} = " + " or ".join(sorted(condition.values))
    groups = [s.name for s in steps[:-1]]
    return text + (f" in segment group {'/'.join(groups)}" if groups else "")
