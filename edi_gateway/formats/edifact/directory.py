"""UN/EDIFACT directories: what a message, segment, composite and data element look like.

A directory (D96A, D01B, the syntax service directories, ...) lives on disk in the project's
compact format, one folder per directory under ``schemas/edifact/<name>/``:

``directory.json``
    ``{"format": 1, "directory": "D96A", "kind": "messages", "messages": [...],
    "code_lists": [...], "source": "..."}``
``segments.json``
    ``elements``: ``"1004": ["Document identifier", "an..35"]`` (name, format);
    ``composites``: ``"C002": ["Document/message name", "1001 C", "1131 C", ...]``;
    ``segments``: ``"BGM": ["Beginning of message", "C002 C", "1004 C", "1225 C"]``.
    A reference is ``"<id> <status>"`` with status ``M`` (mandatory) or ``C`` (conditional),
    optionally followed by the maximum number of occurrences of a data element with the syntax 4
    repetition separator, e.g. ``"C076 M 3"``; without it the count is not checked (the public
    XML renderings the importer reads do not give it).
``codes.json``
    ``"1001": {"220": "Order", ...}``: only the code lists the gateway checks.
``messages/<TYPE>.json``
    ``{"message": "ORDERS", "version": "D", "release": "96A", "agency": "UN", "structure": [...]}``
    where the structure lists ``"<TAG> <status> <max>"`` for a segment and, for a segment group,
    a nested list whose first item is ``"<SGn> <status> <max>"``.

Every entry sits on its own line, so a change to the standard reads as a small diff. Loading is
cheap: a directory is read once per process (see `load_directory`) and each message structure is
read on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from edi_gateway.resources import data_root

FORMAT_VERSION = 1
DEFAULT_SCHEMAS = data_root() / "schemas" / "edifact"

_FORMAT_RE = re.compile(r"^(an|a|n)(\.\.)?(\d+)$")


class DirectoryError(Exception):
    """A directory is missing, or its files are not in the compact format."""


class CharClass(StrEnum):
    ALPHABETIC = "a"
    ALPHANUMERIC = "an"
    NUMERIC = "n"


@dataclass(frozen=True, slots=True)
class DataFormat:
    """A data element's representation: ``an..35`` (up to 35), ``a3`` (exactly 3), ``n..15``."""

    kind: CharClass
    min_length: int
    max_length: int

    @classmethod
    def parse(cls, text: str) -> DataFormat:
        match = _FORMAT_RE.match(text)
        if match is None:
            raise DirectoryError(
                f"invalid data element format {text!r}; expected e.g. an..35 or n3"
            )
        kind, variable, length = match.groups()
        size = int(length)
        return cls(CharClass(kind), 1 if variable else size, size)

    def __str__(self) -> str:
        if self.min_length == self.max_length:
            return f"{self.kind}{self.max_length}"
        return f"{self.kind}..{self.max_length}"


class Status(StrEnum):
    MANDATORY = "M"
    CONDITIONAL = "C"


@dataclass(frozen=True, slots=True)
class Ref:
    """The use of an element or composite at one position of a segment or composite."""

    id: str
    status: Status
    # occurrences allowed with the syntax 4 repetition separator; None: the directory does not
    # say (the XML renderings never do), and the count is not checked
    max_repeat: int | None = None

    @property
    def mandatory(self) -> bool:
        return self.status is Status.MANDATORY

    @classmethod
    def parse(cls, text: str) -> Ref:
        parts = text.split(" ")
        try:
            if len(parts) == 2:
                return cls(parts[0], Status(parts[1]))
            if len(parts) == 3 and parts[2].isdigit() and int(parts[2]) >= 1:
                return cls(parts[0], Status(parts[1]), int(parts[2]))
        except ValueError:
            pass
        raise DirectoryError(
            f"invalid reference {text!r}; expected '<id> M' or '<id> C', "
            "optionally with a repetition count ('<id> C 9')"
        )

    def __str__(self) -> str:
        repeat = f" {self.max_repeat}" if self.max_repeat is not None else ""
        return f"{self.id} {self.status}{repeat}"


@dataclass(frozen=True, slots=True)
class ElementDef:
    id: str
    name: str
    format: DataFormat


@dataclass(frozen=True, slots=True)
class CompositeDef:
    id: str
    name: str
    components: tuple[Ref, ...]


@dataclass(frozen=True, slots=True)
class SegmentDef:
    tag: str
    name: str
    elements: tuple[Ref, ...]


@dataclass(frozen=True, slots=True)
class SegmentNode:
    """A segment at one position of a message structure."""

    tag: str
    mandatory: bool
    max_repeat: int

    @property
    def label(self) -> str:
        return self.tag


@dataclass(frozen=True, slots=True)
class GroupNode:
    """A segment group (or the whole message, the root group). Its first child is its trigger."""

    name: str
    mandatory: bool
    max_repeat: int
    children: tuple[SegmentNode | GroupNode, ...]

    @property
    def trigger(self) -> str:
        first = self.children[0]
        return first.tag if isinstance(first, SegmentNode) else first.trigger

    @property
    def label(self) -> str:
        return f"{self.name} ({self.trigger})"

    def tags(self) -> set[str]:
        """Every segment tag used anywhere in this group."""
        found: set[str] = set()
        for child in self.children:
            if isinstance(child, SegmentNode):
                found.add(child.tag)
            else:
                found |= child.tags()
        return found


@dataclass(frozen=True, slots=True, eq=False)
class MessageDef:
    type: str
    version: str
    release: str
    agency: str
    root: GroupNode

    @property
    def identifier(self) -> str:
        return f"{self.type}:{self.version}:{self.release}:{self.agency}"


# What the structure validator works with: a segment with each position resolved to its
# element formats and code lists, so checking a value needs no further look-ups.


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    position: int  # 1-based inside its composite (1 for a simple element)
    id: str
    name: str
    mandatory: bool
    kind: CharClass
    min_length: int
    max_length: int
    codes: frozenset[str] | None  # None: the value is not checked against a code list

    @property
    def format(self) -> str:
        return str(DataFormat(self.kind, self.min_length, self.max_length))


@dataclass(frozen=True, slots=True)
class ElementSpec:
    position: int  # 1-based in the segment
    id: str
    name: str
    mandatory: bool
    composite: bool
    components: tuple[ComponentSpec, ...]
    max_repeat: int | None = None  # occurrences allowed (syntax 4); None: not stated


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    tag: str
    name: str
    elements: tuple[ElementSpec, ...]


def parse_node(item: str | list[Any]) -> SegmentNode | GroupNode:
    """Read one entry of a message structure (see the module docstring)."""
    if isinstance(item, str):
        tag, status, max_repeat = _node_header(item)
        return SegmentNode(tag, status is Status.MANDATORY, max_repeat)
    if not item or not isinstance(item[0], str):
        raise DirectoryError(f"a segment group must start with its header, found {item!r}")
    name, status, max_repeat = _node_header(item[0])
    children = tuple(parse_node(child) for child in item[1:])
    if not children or not isinstance(children[0], SegmentNode):
        raise DirectoryError(f"segment group {name} must start with a segment")
    return GroupNode(name, status is Status.MANDATORY, max_repeat, children)


def _node_header(text: str) -> tuple[str, Status, int]:
    parts = text.split()
    if len(parts) != 3 or not parts[2].isdigit():
        raise DirectoryError(f"invalid structure entry {text!r}; expected e.g. 'DTM C 35'")
    try:
        return parts[0], Status(parts[1]), int(parts[2])
    except ValueError:
        raise DirectoryError(f"invalid status in structure entry {text!r}") from None


def dump_node(node: SegmentNode | GroupNode) -> str | list[Any]:
    """The inverse of `parse_node`."""
    status = Status.MANDATORY if node.mandatory else Status.CONDITIONAL
    if isinstance(node, SegmentNode):
        return f"{node.tag} {status} {node.max_repeat}"
    return [f"{node.name} {status} {node.max_repeat}", *(dump_node(c) for c in node.children)]


@dataclass(eq=False)
class Directory:
    """One directory: segments, composites, elements and code lists, messages on demand."""

    name: str
    path: Path | None
    kind: str  # "messages" or "service"
    elements: dict[str, ElementDef]
    composites: dict[str, CompositeDef]
    segments: dict[str, SegmentDef]
    codes: dict[str, dict[str, str]]
    message_types: tuple[str, ...]
    _messages: dict[str, MessageDef] = field(default_factory=dict, repr=False)
    _specs: dict[str, SegmentSpec | None] = field(default_factory=dict, repr=False)
    _code_sets: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def message(self, message_type: str) -> MessageDef:
        """The structure of `message_type` (read from disk the first time it is asked for)."""
        found = self._messages.get(message_type)
        if found is None:
            if message_type not in self.message_types or self.path is None:
                raise DirectoryError(f"directory {self.name} has no message {message_type}")
            found = _read_message(self.path / "messages" / f"{message_type}.json")
            self._messages[message_type] = found
        return found

    def add_message(self, message: MessageDef) -> None:
        """Register a structure built in memory (tests, tools)."""
        self._messages[message.type] = message
        if message.type not in self.message_types:
            self.message_types = (*self.message_types, message.type)

    def segment_spec(self, tag: str) -> SegmentSpec | None:
        """`tag` with every position resolved, or None when this directory lacks the segment."""
        if tag not in self._specs:
            definition = self.segments.get(tag)
            self._specs[tag] = None if definition is None else self._resolve(definition)
        return self._specs[tag]

    def code_set(self, element_id: str) -> frozenset[str] | None:
        if element_id not in self.codes:
            return None
        found = self._code_sets.get(element_id)
        if found is None:
            found = self._code_sets[element_id] = frozenset(self.codes[element_id])
        return found

    def _resolve(self, definition: SegmentDef) -> SegmentSpec:
        elements = []
        for position, ref in enumerate(definition.elements, start=1):
            composite = self.composites.get(ref.id)
            if composite is None:
                component = self._component(1, ref)
                elements.append(
                    ElementSpec(
                        position,
                        ref.id,
                        component.name,
                        ref.mandatory,
                        False,
                        (component,),
                        ref.max_repeat,
                    )
                )
            else:
                components = tuple(
                    self._component(index, sub)
                    for index, sub in enumerate(composite.components, start=1)
                )
                elements.append(
                    ElementSpec(
                        position,
                        ref.id,
                        composite.name,
                        ref.mandatory,
                        True,
                        components,
                        ref.max_repeat,
                    )
                )
        return SegmentSpec(definition.tag, definition.name, tuple(elements))

    def _component(self, position: int, ref: Ref) -> ComponentSpec:
        element = self.elements.get(ref.id)
        if element is None:
            raise DirectoryError(f"directory {self.name}: data element {ref.id} is not defined")
        fmt = element.format
        return ComponentSpec(
            position,
            ref.id,
            element.name,
            ref.mandatory,
            fmt.kind,
            fmt.min_length,
            fmt.max_length,
            self.code_set(ref.id),
        )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DirectoryError(f"missing directory file {path}") from None
    except json.JSONDecodeError as exc:
        raise DirectoryError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        raise DirectoryError(f'{path}: expected a JSON object with "format": {FORMAT_VERSION}')
    return data


def _read_message(path: Path) -> MessageDef:
    data = _read_json(path)
    root = parse_node([f"{data['message']} M 1", *data["structure"]])
    assert isinstance(root, GroupNode)
    return MessageDef(data["message"], data["version"], data["release"], data["agency"], root)


def parse_segments(
    data: dict[str, Any],
) -> tuple[dict[str, ElementDef], dict[str, CompositeDef], dict[str, SegmentDef]]:
    """Read the content of a ``segments.json``."""
    elements = {
        ident: ElementDef(ident, name, DataFormat.parse(fmt))
        for ident, (name, fmt) in data["elements"].items()
    }
    composites = {
        ident: CompositeDef(ident, entry[0], tuple(Ref.parse(r) for r in entry[1:]))
        for ident, entry in data["composites"].items()
    }
    segments = {
        tag: SegmentDef(tag, entry[0], tuple(Ref.parse(r) for r in entry[1:]))
        for tag, entry in data["segments"].items()
    }
    return elements, composites, segments


def read_directory(path: Path) -> Directory:
    """Read the directory in folder `path` (uncached: see `load_directory`)."""
    manifest = _read_json(path / "directory.json")
    elements, composites, segments = parse_segments(_read_json(path / "segments.json"))
    codes_file = path / "codes.json"
    codes: dict[str, dict[str, str]] = (
        _read_json(codes_file)["codes"] if codes_file.exists() else {}
    )
    return Directory(
        name=manifest["directory"],
        path=path,
        kind=manifest.get("kind", "messages"),
        elements=elements,
        composites=composites,
        segments=segments,
        codes=codes,
        message_types=tuple(manifest.get("messages", ())),
    )


@lru_cache(maxsize=64)
def _load_cached(path: Path) -> Directory:
    return read_directory(path)


def load_directory(path: Path) -> Directory:
    """The directory in folder `path`, read once per process."""
    return _load_cached(path.resolve())


@dataclass(frozen=True, eq=False)
class MessageSchema:
    """A message structure with the segments it may use: its own directory's, and the service
    segments (UNH, UNT, UNS, ...) of the syntax version the interchange is written in."""

    message: MessageDef
    directory: Directory
    service: Directory | None = None

    def segment(self, tag: str) -> SegmentSpec | None:
        """Service segments (U..) from the service directory when it has them, since some
        directory renderings carry their own, older copies; all others from the directory."""
        if self.service is not None and tag.startswith("U"):
            spec = self.service.segment_spec(tag)
            if spec is not None:
                return spec
        return self.directory.segment_spec(tag)


class DirectoryCatalog:
    """The directories found under one or more roots (the project's `schemas/edifact` first).

    Directories and message schemas are loaded on first use and kept for the catalog's life.
    """

    def __init__(self, roots: Sequence[Path] | None = None) -> None:
        self.roots: tuple[Path, ...] = tuple(roots) if roots else (DEFAULT_SCHEMAS,)
        self._schemas: dict[tuple[str, str, str, str, int], MessageSchema | None] = {}

    def names(self) -> list[str]:
        found: dict[str, None] = {}
        for root in self.roots:
            if root.is_dir():
                for child in sorted(root.iterdir()):
                    if (child / "directory.json").exists():
                        found.setdefault(child.name)
        return list(found)

    def directory(self, name: str) -> Directory:
        for root in self.roots:
            folder = root / name
            if (folder / "directory.json").exists():
                return load_directory(folder)
        raise DirectoryError(
            f"no EDIFACT directory {name!r} under {', '.join(map(str, self.roots))}"
        )

    def service(self, syntax_version: int) -> Directory:
        """The syntax service directory: ``service-v4`` for version 4, ``service-v3`` before."""
        return self.directory("service-v4" if syntax_version >= 4 else "service-v3")

    def schema(
        self,
        message_type: str,
        version: str,
        release: str,
        agency: str = "UN",
        syntax_version: int = 3,
    ) -> MessageSchema | None:
        """The schema for a UNH message identifier (S009), or None when no directory has it."""
        key = (message_type, version, release, agency, syntax_version)
        if key not in self._schemas:
            self._schemas[key] = self._find(*key)
        return self._schemas[key]

    def _find(
        self, message_type: str, version: str, release: str, agency: str, syntax_version: int
    ) -> MessageSchema | None:
        service = self._optional(f"service-v{4 if syntax_version >= 4 else 3}")
        for directory in self._candidates(version + release, service):
            if message_type not in directory.message_types:
                continue
            message = directory.message(message_type)
            if (message.version, message.release, message.agency) == (version, release, agency):
                return MessageSchema(message, directory, service)
        return None

    def _candidates(self, name: str, service: Directory | None) -> Iterable[Directory]:
        named = self._optional(name)
        if named is not None:
            yield named
        if service is not None:
            yield service
        for other in ("service-v3", "service-v4"):
            extra = self._optional(other)
            if extra is not None and extra is not service:
                yield extra

    def _optional(self, name: str) -> Directory | None:
        try:
            return self.directory(name)
        except DirectoryError:
            return None
