"""Mapping files: reading, `extends`, compiling against the directory, and the per-process cache.

A file ``mappings/edifact/<directory>_<message>.toml`` (a partner's variant:
``<directory>_<message>_<variant>.toml``) has:

``kind``
    ``order``, ``invoice`` or ``tender``;
``directory``, ``message``
    the directory and message type the paths are written against (``D96A``, ``ORDERS``);
``extends``
    optional: the name (file stem) of another file in the same folder (or, failing that, of a
    file shipped in ``mappings/edifact``). Its tables are the
    starting point; this file's entries replace or extend them (see `merge`). Files whose name
    starts with ``_`` hold shared pieces and are not mappings by themselves;
``[groups]``
    aliases for segment groups (``line = "SG25"``), so shared rules can say ``line/...`` and
    each directory names its own group;
``[codes.<name>]``
    code translations (``BY = "buyer"``), used by ``map = "<name>"``;
``[templates.<name>]``
    specs reused with ``use = "<name>"``;
``[document]``
    the canonical document, one spec per field (see `specs`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from edi_gateway.formats.edifact.directory import (
    DEFAULT_SCHEMAS,
    DirectoryCatalog,
    DirectoryError,
    MessageDef,
)
from edi_gateway.mapping.compiler import SpecCompiler
from edi_gateway.mapping.paths import MappingError, PathCompiler
from edi_gateway.mapping.specs import Fields
from edi_gateway.mapping.tree import TreeBuilder
from edi_gateway.model import DocumentKind
from edi_gateway.resources import data_root

MAPPINGS_DIR = data_root() / "mappings" / "edifact"

# A rule table with one of these keys says where its value comes from: it replaces an
# inherited rule instead of being merged into it.
_SOURCE_KEYS = frozenset({"path", "date", "const", "first", "each", "at"})


@dataclass(frozen=True, eq=False)
class Mapping:
    """A compiled mapping: ready to translate messages of one directory and message type."""

    name: str
    kind: DocumentKind
    directory: str
    message: MessageDef
    document: Fields
    trees: TreeBuilder

    def __repr__(self) -> str:
        return f"Mapping({self.name!r}, {self.directory} {self.message.type} -> {self.kind})"


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: tables merge key by key, except a rule table naming its
    source (``path``, ``date``, ``each``...), which replaces the inherited rule whole; other
    values replace; ``false`` removes the inherited entry."""
    out = dict(base)
    for key, value in override.items():
        if value is False:
            out.pop(key, None)
        elif (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and not (_SOURCE_KEYS & value.keys())
        ):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A mapping file with everything it `extends` merged in."""
    if path in seen:
        raise MappingError(f"{path}: 'extends' goes round in a circle")
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise MappingError(f"no mapping file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path} is not valid TOML: {exc}") from None
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise MappingError(f"{path}: 'extends' names another file, e.g. \"D96A_ORDERS\"")
    base = path.with_name(f"{parent}.toml")
    if not base.exists():  # a partner's file kept elsewhere may extend a shipped one
        base = MAPPINGS_DIR / f"{parent}.toml"
    return merge(read_raw(base, (*seen, path)), raw)


def read_mapping(path: Path, schemas: Sequence[Path] = (DEFAULT_SCHEMAS,)) -> Mapping:
    """Read and compile one mapping file (uncached: see `load_mapping`)."""
    raw = read_raw(path)
    source = path.name
    try:
        kind = DocumentKind(raw["kind"])
        directory_name = str(raw["directory"])
        message_type = str(raw["message"])
        document = raw["document"]
    except (KeyError, ValueError) as exc:
        raise MappingError(
            f"{source}: needs kind, directory, message and [document]: {exc!r}"
        ) from None
    try:
        directory = DirectoryCatalog(schemas).directory(directory_name)
        message = directory.message(message_type)
    except DirectoryError as exc:
        raise MappingError(f"{source}: {exc}") from None
    paths = PathCompiler(directory, dict(raw.get("groups", {})), source)
    specs = SpecCompiler(paths, dict(raw.get("templates", {})), dict(raw.get("codes", {})), source)
    compiled = specs.compile({"fields": document}, message.root, "")
    assert isinstance(compiled, Fields)
    return Mapping(
        name=str(raw.get("name", path.stem)),
        kind=kind,
        directory=directory_name,
        message=message,
        document=compiled,
        trees=TreeBuilder(message),
    )


def mapping_path(
    directory: str, message: str, variant: str | None = None, folder: Path = MAPPINGS_DIR
) -> Path:
    stem = f"{directory}_{message}" + (f"_{variant}" if variant else "")
    return folder / f"{stem}.toml"


def load_mapping(
    directory: str,
    message: str,
    variant: str | None = None,
    *,
    folder: Path = MAPPINGS_DIR,
    schemas: Sequence[Path] = (DEFAULT_SCHEMAS,),
) -> Mapping:
    """The compiled mapping for `directory` and `message` (a partner's `variant`), read once per
    process. Raises `MappingError` when there is none or it does not fit the directory."""
    return _cached(mapping_path(directory, message, variant, folder), tuple(schemas))


@lru_cache(maxsize=256)
def _cached(path: Path, schemas: tuple[Path, ...]) -> Mapping:
    return read_mapping(path, schemas)
