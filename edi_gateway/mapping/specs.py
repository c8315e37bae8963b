"""Mapping rules ("specs") compiled into small evaluator objects.

A spec describes one canonical value, read from a context (the message, a segment group
occurrence, or one segment):

- a string is a value path (see `paths`): the first non-empty value it reaches;
- a list concatenates: each item's value is appended, lists are spliced in;
- a table holds one of
  - ``path = "..."``: a value, with optional ``convert = "decimal" | "upper"``,
    ``map = "<code table>"`` or an inline table, ``otherwise`` (for codes the table lacks; without
    it such codes are kept as sent), ``default`` (when nothing is found), ``join = " "`` (all the
    values the path reaches, joined; a path ending in ``*`` without ``join`` gives a list);
  - ``date = "DTM[2005=137]"``: the calendar day of a DTM segment, read by its format
    qualifier 2379;
  - ``const = ...``: a fixed value;
  - ``first = [spec, ...]``: the first spec that gives a value;
  - ``each = "path"``: one value per group occurrence or segment selected, built by ``fields``
    (an object) or ``value`` (a spec) in that context;
  - ``at = "path"``: the same for the first one selected only;
  - ``fields = {...}``: an object; empty values are left out, and an object with nothing but
    constants in it is no value at all;
  and optionally ``use = "<template>"`` (merge a table from ``[templates]`` under this one).
  ``required = true`` on a value makes its absence a finding (code ``mapping``) naming the
  segment that was expected; ``required = [keys]`` on an object drops it when a key is missing.
  ``label`` names the value in that finding (default: the canonical field).
"""

from __future__ import annotations

from typing import Any

from edi_gateway.mapping import select
from edi_gateway.mapping.findings import MappingCode, Run
from edi_gateway.mapping.paths import Path, Position
from edi_gateway.mapping.tree import Instance
from edi_gateway.mapping.values import date_format_for, to_date, to_decimal

_CONTAINERS = (str, list, dict)


def _empty(value: Any) -> bool:
    """None, "", [] and {} are no value; Decimal("0") is one."""
    return value is None or (value.__class__ in _CONTAINERS and not value)


class Node:
    """A compiled spec: `evaluate` gives the value in a context, or None."""

    __slots__ = ("field",)

    def __init__(self, field: str) -> None:
        self.field = field  # the canonical field, dotted ("lines.quantity"), for findings

    def evaluate(self, context: Instance, run: Run) -> Any:
        raise NotImplementedError


class Const(Node):
    __slots__ = ("value",)

    def __init__(self, field: str, value: Any) -> None:
        super().__init__(field)
        self.value = value

    def evaluate(self, context: Instance, run: Run) -> Any:
        return self.value


class Value(Node):
    __slots__ = (
        "codes",
        "conditions",
        "convert",
        "default",
        "every",
        "join",
        "label",
        "otherwise",
        "path",
        "plain",
        "position",
        "required",
        "tag",
    )

    def __init__(
        self,
        field: str,
        path: Path,
        *,
        convert: str | None = None,
        codes: dict[str, Any] | None = None,
        otherwise: Any = None,
        default: Any = None,
        join: str | None = None,
        required: bool = False,
        label: str | None = None,
    ) -> None:
        super().__init__(field)
        self.path = path
        self.convert = convert
        self.codes = codes
        self.otherwise = otherwise
        self.default = default
        self.join = join
        self.every = join is None and len(path.positions) > 1
        self.required = required
        self.label = label or field
        last = path.steps[-1]
        self.tag = last.name
        self.conditions = last.conditions
        self.position = path.positions[0]
        self.plain = codes is None and convert is None  # the text as it is

    def evaluate(self, context: Instance, run: Run) -> Any:
        if self.every or self.join is not None:
            found = select.all_values(self.path, context)
            values = [v for f in found if (v := self._typed(f, run)) is not None]
            if not values:
                return self._absent(context, run, bool(found))
            if self.join is not None:
                return self.join.join(str(v) for v in values)
            return values
        hit = select.first_value(self.path, context)
        if hit is None:
            return self._absent(context, run, False)
        value = self._typed(hit, run)
        return self._absent(context, run, True) if value is None else value

    def _typed(self, found: select.Found, run: Run) -> Any:
        text, segment, position = found
        if self.codes is not None:
            if text in self.codes:
                return self.codes[text]
            return self.otherwise if self.otherwise is not None else text
        if self.convert == "decimal":
            number = to_decimal(text, run.decimal_mark)
            if number is None:
                run.add(
                    MappingCode.INVALID_VALUE,
                    f"{self.label}: '{text}' in {self.path.reads(position)} is not a number "
                    f"with decimal mark '{run.decimal_mark}'",
                    self.field,
                    segment,
                    position,
                )
            return number
        if self.convert == "upper":
            return text.upper()
        return text

    def _absent(self, context: Instance, run: Run, reported: bool) -> Any:
        if self.default is not None:
            return self.default
        if self.required and not reported:
            run.add(
                MappingCode.MISSING,
                f"no {self.label}: expected {self.path.description}",
                self.field,
                context.first,
            )
        return None


class SimpleValue(Value):
    """A value from one place of a segment directly in the context, or in a group directly in
    it (``line_price/PRI[5125=AAA].5118``): most rules, kept short."""

    __slots__ = ("hop",)

    def __init__(self, field: str, path: Path, **options: Any) -> None:
        super().__init__(field, path, **options)
        self.hop = path.steps[0].name if len(path.steps) == 2 else None

    def evaluate(self, context: Instance, run: Run) -> Any:
        if self.hop is None:
            candidates = context.tags.get(self.tag)
        else:
            holders = context.groups.get(self.hop)
            if holders is None:
                candidates = None
            elif len(holders) == 1:
                candidates = holders[0].tags.get(self.tag)
            else:
                candidates = [s for h in holders for s in h.tags.get(self.tag, ())]
        if candidates:
            position = self.position
            element, component = position
            conditions = self.conditions
            for segment in candidates:
                if conditions and not select.matches(segment, conditions):
                    continue
                elements = segment.elements
                if element < len(elements):
                    values = elements[element]
                    if component < len(values) and values[component]:
                        if self.plain:
                            return values[component]
                        value = self._typed((values[component], segment, position), run)
                        return self._absent(context, run, True) if value is None else value
        if self.default is None and not self.required:
            return None
        return self._absent(context, run, False)


def make_value(field: str, path: Path, **options: Any) -> Value:
    """A `SimpleValue` where the path allows, a general `Value` otherwise."""
    steps = path.steps
    simple = (
        (len(steps) == 1 or (len(steps) == 2 and steps[0].group and not steps[0].conditions))
        and len(path.positions) == 1
        and options.get("join") is None
    )
    return (SimpleValue if simple else Value)(field, path, **options)


class DateValue(Node):
    """The day a DTM segment names (C507: 2380 the value, 2379 its format)."""

    __slots__ = ("description", "format_at", "label", "path", "required", "value_at")

    def __init__(
        self,
        field: str,
        path: Path,
        value_at: Position,
        format_at: Position,
        description: str,
        *,
        required: bool = False,
        label: str | None = None,
    ) -> None:
        super().__init__(field)
        self.path = path
        self.value_at = value_at
        self.format_at = format_at
        self.description = description
        self.required = required
        self.label = label or field

    def evaluate(self, context: Instance, run: Run) -> Any:
        for segment in select.segments(self.path, context):
            text = _at(segment.elements, self.value_at)
            if not text:
                continue
            given = _at(segment.elements, self.format_at)
            code = date_format_for(text, given)
            day = to_date(text, code) if code else None
            if day is None:
                shown = f"format {code}" if given else "no format qualifier 2379"
                run.add(
                    MappingCode.INVALID_VALUE,
                    f"{self.label}: '{text}' in {segment.tag} is not a valid date in {shown}",
                    self.field,
                    segment,
                    self.value_at,
                )
            return day
        if self.required:
            run.add(
                MappingCode.MISSING,
                f"no {self.label}: expected {self.description}",
                self.field,
                context.first,
            )
        return None


class First(Node):
    __slots__ = ("options",)

    def __init__(self, field: str, options: list[Node]) -> None:
        super().__init__(field)
        self.options = options

    def evaluate(self, context: Instance, run: Run) -> Any:
        for option in self.options:
            value = option.evaluate(context, run)
            if not _empty(value):
                return value
        return None


class Concat(Node):
    __slots__ = ("items",)

    def __init__(self, field: str, items: list[Node]) -> None:
        super().__init__(field)
        self.items = items

    def evaluate(self, context: Instance, run: Run) -> Any:
        out: list[Any] = []
        for item in self.items:
            value = item.evaluate(context, run)
            if isinstance(value, list):
                out.extend(value)
            elif not _empty(value):
                out.append(value)
        return out


class Each(Node):
    __slots__ = ("first_only", "group", "inner", "path")

    def __init__(self, field: str, path: Path, inner: Node, first_only: bool) -> None:
        super().__init__(field)
        self.path = path
        self.inner = inner
        self.first_only = first_only
        step = path.steps[0]
        # one unconditional group step: the group occurrences are looked up directly
        self.group = (
            step.name if len(path.steps) == 1 and step.group and not step.conditions else None
        )

    def evaluate(self, context: Instance, run: Run) -> Any:
        inner = self.inner
        if self.group is not None:
            subs = context.groups.get(self.group)
            if subs is None:
                return None
        else:
            subs = select.contexts(self.path, context)
        if self.first_only:
            for sub in subs:
                return inner.evaluate(sub, run)
            return None
        out = []
        for sub in subs:
            value = inner.evaluate(sub, run)
            if value is not None and (value.__class__ not in _CONTAINERS or value):
                out.append(value)
        return out


class Fields(Node):
    __slots__ = ("_plan", "fields", "required")

    def __init__(self, field: str, fields: list[tuple[str, Node]], required: tuple[str, ...]):
        super().__init__(field)
        self.fields = fields
        self.required = required
        self._plan = [(key, node, isinstance(node, Const)) for key, node in fields]

    def evaluate(self, context: Instance, run: Run) -> Any:
        out: dict[str, Any] = {}
        substantial = False
        for key, node, constant in self._plan:
            value = node.evaluate(context, run)
            if value is not None and (value.__class__ not in _CONTAINERS or value):
                out[key] = value
                substantial = substantial or not constant
        if not substantial:
            return None
        for key in self.required:
            if key not in out:
                return None
        return out


def _at(elements: list[list[str]], position: Position) -> str:
    element, component = position
    if element < len(elements) and component < len(elements[element]):
        return elements[element][component]
    return ""
