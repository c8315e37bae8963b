"""The message translator for XML: declarative mapping files (TOML + XPath) → canonical documents.

A mapping file (`mappings/xml/<name>.toml`) names its XPath prefixes in `[namespaces]`, the
canonical kind, and describes the document as a tree of *specs*, each evaluated against a
context node (the document root at the top):

A file may `extends = "<other mapping>"`: its `[namespaces]`, `[templates]` and `[document]`
entries then replace the other file's entries of the same name (a partner's variant is a
small file).

- a string is an XPath; its first non-empty result, whitespace-normalised, is the value;
- a list concatenates: each item's value is appended, an `each` item's values are spliced in;
- a table holds one of
  - `const = ...`: a fixed value;
  - `each = "xpath"`: one value per selected node, built with the table's `fields` (an
    object) or `value` (a spec, default ".") relative to that node;
  - `at = "xpath"`: move to the first selected node (no node, no value), then `fields`/`value`;
  - `fields = {...}`: an object whose keys are specs; empty values are left out, and an object
    with nothing but constants in it is no value at all;
  - `path = "xpath"` (default "."): a value;
  and optionally `required = [keys]` (an object missing one of them is no value),
  `use = "<template>"` (merge a table from `[templates]` under this one),
  `map = {code = value}` with `otherwise = value`, and `convert` (see `CONVERTERS`).

The resulting dict is validated by the canonical pydantic model; anything it refuses becomes a
finding, so a translation never raises for bad input.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import TypeAdapter, ValidationError

from edi_gateway.model import Document, DocumentKind, Finding, Location, Severity
from edi_gateway.resources import data_root

MAPPINGS_DIR = data_root() / "mappings" / "xml"
SOURCE = "mapping"

_DOCUMENT = TypeAdapter(Document)
_Empty: tuple[Any, ...] = (None, "", [], {})


class MappingError(ValueError):
    """A mapping file is malformed (a deployment defect, found when it is loaded)."""


def _date(value: str) -> str:
    """ISO date, dropping a time zone or time part (`2017-11-13Z`, `2017-11-13T10:00`)."""
    return value.strip()[:10]


def _date102(value: str) -> str:
    """UN/EDIFACT 2379 format 102 (CCYYMMDD) → ISO date."""
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text  # left for the model to refuse with a clear message


def _boolean(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "date": _date,
    "date102": _date102,
    "bool": _boolean,
    "upper": str.upper,
}


def _string(item: Any) -> str | None:
    if isinstance(item, etree._Element):
        text = " ".join("".join(item.itertext()).split())
    elif isinstance(item, bool):
        text = "true" if item else "false"
    elif isinstance(item, float):
        text = str(int(item)) if item.is_integer() else str(item)
    else:
        text = " ".join(str(item).split())
    return text or None


@dataclass
class XmlMapping:
    name: str
    kind: DocumentKind
    namespaces: dict[str, str]
    document: dict[str, Any]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Compiled XPath objects, one cache per thread (lxml evaluators are not shared safely).
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @classmethod
    def load(cls, path: Path) -> XmlMapping:
        raw = _read_with_base(path)
        try:
            mapping = cls(
                name=raw.get("name", path.stem),
                kind=DocumentKind(raw["kind"]),
                namespaces=dict(raw.get("namespaces", {})),
                document=dict(raw["document"]),
                templates=dict(raw.get("templates", {})),
            )
        except (KeyError, ValueError) as exc:
            raise MappingError(f"{path}: {exc!r}") from exc
        mapping.check()
        return mapping

    # -- compile-time checks: every XPath compiles, every template exists --------------------

    def check(self) -> None:
        self._check({"fields": self.document})

    def _check(self, spec: Any) -> None:
        if isinstance(spec, str):
            self._xpath(spec)
        elif isinstance(spec, list):
            for item in spec:
                self._check(item)
        elif isinstance(spec, dict):
            spec = self._expand(spec)
            for key in ("each", "at", "path"):
                if key in spec:
                    self._xpath(spec[key])
            for sub in spec.get("fields", {}).values():
                self._check(sub)
            if "value" in spec:
                self._check(spec["value"])
            if "convert" in spec and spec["convert"] not in CONVERTERS:
                raise MappingError(f"{self.name}: unknown converter {spec['convert']!r}")
        else:
            raise MappingError(f"{self.name}: a spec must be a string, list or table: {spec!r}")

    def _expand(self, spec: dict[str, Any]) -> dict[str, Any]:
        template = spec.get("use")
        if template is None:
            return spec
        if template not in self.templates:
            raise MappingError(f"{self.name}: unknown template {template!r}")
        base = self._expand(self.templates[template])
        merged = {**base, **{k: v for k, v in spec.items() if k != "use"}}
        if "fields" in base and "fields" in spec:
            merged["fields"] = {**base["fields"], **spec["fields"]}
        return merged

    def _xpath(self, expression: str) -> etree.XPath:
        cache: dict[str, etree.XPath] | None = getattr(self._local, "xpaths", None)
        if cache is None:
            cache = self._local.xpaths = {}
        compiled = cache.get(expression)
        if compiled is None:
            try:
                compiled = etree.XPath(expression, namespaces=self.namespaces)
            except etree.XPathSyntaxError as exc:
                raise MappingError(f"{self.name}: bad XPath {expression!r}: {exc}") from exc
            cache[expression] = compiled
        return compiled

    # -- evaluation ---------------------------------------------------------------------------

    def extract(self, root: etree._Element) -> dict[str, Any]:
        """The canonical document as plain data (before model validation)."""
        data = self._object(self.document, root) or {}
        data["kind"] = self.kind.value
        return data

    def translate(
        self, root: etree._Element, message: int | None = None
    ) -> tuple[Document | None, list[Finding]]:
        data = self.extract(root)
        try:
            return _DOCUMENT.validate_python(data), []
        except ValidationError as exc:
            return None, [
                Finding(
                    code="MAPPING",
                    severity=Severity.ERROR,
                    text=f"{'.'.join(str(p) for p in err['loc'][1:]) or 'document'}: {err['msg']}"
                    + (
                        f" (found {err['input']!r})"
                        if not isinstance(err["input"], dict | list)
                        else ""
                    ),
                    location=Location(
                        message=message, path=".".join(str(p) for p in err["loc"][1:]) or None
                    ),
                    source=SOURCE,
                )
                for err in exc.errors()
            ]

    def _eval(self, spec: Any, node: etree._Element) -> Any:
        if isinstance(spec, str):
            return self._first(spec, node)
        if isinstance(spec, list):
            values: list[Any] = []
            for item in spec:
                value = self._eval(item, node)
                if isinstance(item, dict) and "each" in self._expand(item):
                    values.extend(value)
                elif value not in _Empty:
                    values.append(value)
            return values
        spec = self._expand(spec)
        if "const" in spec:
            return spec["const"]
        if "each" in spec:
            results = []
            for target in self._nodes(spec["each"], node):
                value = self._one(spec, target)
                if value not in _Empty:
                    results.append(value)
            return results
        if "at" in spec:
            targets = self._nodes(spec["at"], node)
            if not targets:
                return None
            node = targets[0]
        return self._one(spec, node)

    def _one(self, spec: dict[str, Any], node: etree._Element) -> Any:
        if "fields" in spec:
            obj = self._object(spec["fields"], node)
            if obj is not None and any(key not in obj for key in spec.get("required", ())):
                return None
            return obj
        value = (
            self._eval(spec["value"], node)
            if "value" in spec
            else self._first(spec.get("path", "."), node)
        )
        if value is None:
            return None
        if "map" in spec:
            value = spec["map"].get(value, spec.get("otherwise", value))
        if "convert" in spec and isinstance(value, str):
            value = CONVERTERS[spec["convert"]](value)
        return value

    def _object(self, fields: dict[str, Any], node: etree._Element) -> dict[str, Any] | None:
        """An object, or None when nothing but constants would be in it."""
        result = {}
        found = False
        for key, sub in fields.items():
            value = self._eval(sub, node)
            if value not in _Empty:
                result[key] = value
                found = found or not (isinstance(sub, dict) and "const" in self._expand(sub))
        return result if found else None

    def _results(self, expression: str, node: etree._Element) -> list[Any]:
        found = self._xpath(expression)(node)
        return found if isinstance(found, list) else [found]

    def _nodes(self, expression: str, node: etree._Element) -> list[etree._Element]:
        return [n for n in self._results(expression, node) if isinstance(n, etree._Element)]

    def _first(self, expression: str, node: etree._Element) -> str | None:
        for item in self._results(expression, node):
            text = _string(item)
            if text:
                return text
        return None


def _read_with_base(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's tables over those of the file it `extends` (same folder), key by key."""
    if path in seen:
        raise MappingError(f"{path}: circular 'extends'")
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    base = _read_with_base(path.with_name(f"{base_name}.toml"), (*seen, path))
    merged = {**base, **raw}
    for table in ("namespaces", "templates", "document"):
        merged[table] = {**base.get(table, {}), **raw.get(table, {})}
    return merged


class MappingLibrary:
    """Mapping files loaded on first use and kept for the life of the process."""

    def __init__(self, directory: Path = MAPPINGS_DIR) -> None:
        self.directory = directory
        self._loaded: dict[str, XmlMapping] = {}

    def get(self, name: str) -> XmlMapping:
        mapping = self._loaded.get(name)
        if mapping is None:
            path = self.directory / f"{name}.toml"
            if not path.is_file():
                raise MappingError(f"no mapping file {path}")
            mapping = self._loaded[name] = XmlMapping.load(path)
        return mapping
