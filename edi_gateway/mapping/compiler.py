"""Compiling the specs of one mapping file into `specs` nodes (see `specs` for the rules).

Everything that can be wrong with a rule (an unknown key, template, code table or converter, a
path that does not fit the directory) is a `MappingError` here, when the file is loaded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from edi_gateway.mapping.paths import Context, MappingError, PathCompiler
from edi_gateway.mapping.specs import (
    Concat,
    Const,
    DateValue,
    Each,
    Fields,
    First,
    Node,
    Value,
    make_value,
)

_CONVERTERS = ("decimal", "upper")
_VALUE_KEYS = {
    "path", "convert", "map", "otherwise", "default", "join", "required", "label", "use",
}  # fmt: skip


class SpecCompiler:
    """Compiles the specs of one mapping file (after `extends` and `use` are resolved)."""

    def __init__(
        self,
        paths: PathCompiler,
        templates: dict[str, dict[str, Any]],
        codes: dict[str, dict[str, Any]],
        source: str,
    ) -> None:
        self.paths = paths
        self.templates = templates
        self.codes = codes
        self.source = source

    def compile(self, spec: Any, context: Context, field: str) -> Node:
        if isinstance(spec, str):
            return make_value(field, self.paths.compile(spec, context, value=True))
        if isinstance(spec, list):
            return Concat(field, [self.compile(item, context, field) for item in spec])
        if not isinstance(spec, dict):
            self._fail(field, f"a rule must be a string, a list or a table, not {spec!r}")
        spec = self._expand(spec, field)
        if "const" in spec:
            return Const(field, spec["const"])
        if "first" in spec:
            return First(field, [self.compile(item, context, field) for item in spec["first"]])
        for key in ("each", "at"):
            if key in spec:
                path = self.paths.compile(spec[key], context, value=False)
                inner = self._inner(spec, path.target, field)
                return Each(field, path, inner, first_only=key == "at")
        if "date" in spec:
            return self._date(spec, context, field)
        if "path" in spec:
            return self._value(spec, context, field)
        if "fields" in spec:
            return self._fields(spec, context, field)
        self._fail(
            field, f"a rule table needs one of path, date, const, first, each, at, fields: {spec!r}"
        )

    def _inner(self, spec: dict[str, Any], context: Context, field: str) -> Node:
        if "fields" in spec:
            return self._fields(spec, context, field)
        if "value" in spec:
            return self.compile(spec["value"], context, field)
        self._fail(field, "'each' and 'at' need 'fields' or 'value'")

    def _fields(self, spec: dict[str, Any], context: Context, field: str) -> Fields:
        fields = spec["fields"]
        if not isinstance(fields, dict):
            self._fail(field, "'fields' must be a table")
        required = spec.get("required", [])
        if not isinstance(required, list):
            self._fail(field, "'required' of an object is a list of keys")
        prefix = f"{field}." if field else ""
        nodes = [
            (key, self.compile(sub, context, prefix + key))
            for key, sub in fields.items()
            if sub is not False
        ]
        return Fields(field, nodes, tuple(required))

    def _value(self, spec: dict[str, Any], context: Context, field: str) -> Value:
        unknown = set(spec) - _VALUE_KEYS
        if unknown:
            self._fail(field, f"unknown keys {sorted(unknown)} in a value rule")
        convert = spec.get("convert")
        if convert is not None and convert not in _CONVERTERS:
            self._fail(field, f"unknown convert {convert!r}; expected one of {_CONVERTERS}")
        codes = spec.get("map")
        if isinstance(codes, str):
            if codes not in self.codes:
                self._fail(field, f"unknown code table {codes!r}")
            codes = self.codes[codes]
        path = self.paths.compile(spec["path"], context, value=True)
        default = spec.get("default")
        if convert == "decimal" and default is not None:
            default = Decimal(str(default))
        return make_value(
            field,
            path,
            convert=convert,
            codes=codes,
            otherwise=spec.get("otherwise"),
            default=default,
            join=spec.get("join"),
            required=spec.get("required") is True,
            label=spec.get("label"),
        )

    def _date(self, spec: dict[str, Any], context: Context, field: str) -> DateValue:
        path = self.paths.compile(spec["date"], context, value=False)
        if path.segment is None:
            self._fail(field, f"'date' must select a DTM segment, not {spec['date']!r}")
        value_at = self.paths.compile(f"{spec['date']}.2380", context, value=True)
        format_at = self.paths.compile(f"{spec['date']}.2379", context, value=True)
        return DateValue(
            field,
            path,
            value_at.positions[0],
            format_at.positions[0],
            f"a date in {self.paths.describe(path)}",
            required=spec.get("required") is True,
            label=spec.get("label"),
        )

    def _expand(self, spec: dict[str, Any], field: str, depth: int = 0) -> dict[str, Any]:
        name = spec.get("use")
        if name is None:
            return spec
        if name not in self.templates or depth > 10:
            self._fail(field, f"unknown template {name!r}")
        base = self._expand(self.templates[name], field, depth + 1)
        merged = {**base, **{k: v for k, v in spec.items() if k != "use"}}
        if isinstance(base.get("fields"), dict) and isinstance(spec.get("fields"), dict):
            merged["fields"] = {**base["fields"], **spec["fields"]}
        return merged

    def _fail(self, field: str, problem: str) -> NoReturn:
        raise MappingError(f"{self.source}: {field or 'document'}: {problem}")
