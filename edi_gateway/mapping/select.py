"""Running compiled paths over an `Instance` tree: the segments, groups and values they reach."""

from __future__ import annotations

from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.mapping.paths import Condition, Path, Position, Step
from edi_gateway.mapping.tree import Instance

Found = tuple[str, Segment, Position]  # a value, the segment it is in, and where


def matches(segment: Segment, conditions: tuple[Condition, ...]) -> bool:
    elements = segment.elements
    for condition in conditions:
        element, component = condition.position
        try:
            value = elements[element][component]
        except IndexError:
            value = ""
        if condition.values is None:
            if not value:
                return False
        elif (value in condition.values) is condition.negate:
            return False
    return True


_NONE: list[Segment] = []


def segments(path: Path, context: Instance) -> list[Segment]:
    """The segments a path ending in a segment step selects, in message order."""
    steps = path.steps
    last = steps[-1]
    tag, conditions = last.name, last.conditions
    if len(steps) == 1:
        found = context.tags.get(tag, _NONE)
    elif steps[0].name not in context.groups:
        return _NONE  # the usual miss, answered without building lists
    elif len(steps) == 2 and not steps[0].conditions:
        holders = context.groups[steps[0].name]
        if len(holders) == 1:
            found = holders[0].tags.get(tag, _NONE)
        else:
            found = [s for holder in holders for s in holder.tags.get(tag, _NONE)]
    else:
        found = [
            s for holder in groups_along(steps[:-1], context) for s in holder.tags.get(tag, _NONE)
        ]
    if not conditions:
        return found
    return [s for s in found if matches(s, conditions)]


def groups_along(steps: tuple[Step, ...], context: Instance) -> list[Instance]:
    current = [context]
    for step in steps:
        name, conditions = step.name, step.conditions
        current = [
            child
            for instance in current
            for child in instance.groups.get(name, ())
            if not conditions or (child.first is not None and matches(child.first, conditions))
        ]
    return current


def contexts(path: Path, context: Instance) -> list[Instance]:
    """What `each`/`at` iterate: group occurrences, or single segments wrapped as contexts."""
    if path.steps[-1].group:
        return groups_along(path.steps, context)
    return [Instance.of(s) for s in segments(path, context)]


def first_value(path: Path, context: Instance) -> Found | None:
    positions = path.positions
    for segment in segments(path, context):
        elements = segment.elements
        for position in positions:
            element, component = position
            if element < len(elements):
                values = elements[element]
                if component < len(values) and values[component]:
                    return values[component], segment, position
    return None


def all_values(path: Path, context: Instance) -> list[Found]:
    found: list[Found] = []
    positions = path.positions
    for segment in segments(path, context):
        elements = segment.elements
        for position in positions:
            element, component = position
            if element < len(elements):
                values = elements[element]
                if component < len(values) and values[component]:
                    found.append((values[component], segment, position))
    return found
