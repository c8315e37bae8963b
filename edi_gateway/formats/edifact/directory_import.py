"""Import a UN/EDIFACT directory from its public XML rendering into the compact format.

The XML rendering (one folder per directory) has ``segments.xml`` (segments with their composites
and data elements, ``type``/``length``/``maxlength``/``required``), ``codes.xml`` (code lists),
``service_codes_v3.xml``/``service_codes_v4.xml`` and ``messages/<type>.xml`` (segments and
segment groups with ``maxrepeat`` and ``required``). `import_directory` reads it and writes
``<dest>/<name>/`` in the layout `edi_gateway.formats.edifact.directory` documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from edi_gateway.formats.edifact.directory import (
    FORMAT_VERSION,
    DataFormat,
    GroupNode,
    SegmentNode,
    Status,
    dump_node,
)

# The code lists the gateway checks by default: the qualifiers and codes the mappings and the
# acknowledgements depend on. Everything else is accepted as sent; 0007 (partner identification
# code qualifier) is left out on purpose: "ZZ" is used everywhere, the lists only know "ZZZ".
DEFAULT_CODE_LISTS: tuple[str, ...] = (
    "1001",  # document name code
    "1153",  # reference code qualifier
    "1225",  # message function code
    "1229",  # action request/notification code
    "1373",  # document status code
    "2005",  # date or time or period function code qualifier
    "2379",  # date or time or period format code
    "3035",  # party function code qualifier
    "3055",  # code list responsible agency code
    "3139",  # contact function code
    "3155",  # communication means type code
    "4343",  # response type code
    "4347",  # product identifier code qualifier
    "4451",  # text subject code qualifier
    "5025",  # monetary amount type code qualifier
    "5125",  # price code qualifier
    "5153",  # duty or tax or fee type name code
    "5283",  # duty or tax or fee function code qualifier
    "5305",  # duty or tax or fee category code
    "5387",  # price specification code
    "5463",  # allowance or charge code qualifier
    "6063",  # quantity type code qualifier
    "6343",  # currency type code qualifier
    "7077",  # description format code
    "7143",  # item type identification code
)
DEFAULT_SERVICE_CODE_LISTS: tuple[str, ...] = (
    "0001",  # syntax identifier
    "0013",  # service segment tag (CONTRL, syntax 3)
    "0051",  # controlling agency
    "0081",  # section identification (UNS)
    "0083",  # action, coded (CONTRL)
    "0085",  # syntax error, coded (CONTRL)
    "0135",  # service segment tag (CONTRL, syntax 4)
)


class DirectoryImportError(Exception):
    """The source folder is not a directory in the expected XML form."""


@dataclass
class ImportReport:
    """What `import_directory` wrote."""

    directory: str
    path: Path
    messages: list[str] = field(default_factory=list)
    segments: int = 0
    composites: int = 0
    elements: int = 0
    code_lists: list[str] = field(default_factory=list)
    missing_messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"{self.directory} -> {self.path}",
            f"  messages: {', '.join(self.messages) or '-'}",
            f"  segments {self.segments}, composites {self.composites}, "
            f"elements {self.elements}, code lists {len(self.code_lists)}",
        ]
        if self.missing_messages:
            lines.append(f"  not in the source: {', '.join(self.missing_messages)}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def directory_name(source: Path) -> str:
    """``D96A`` stays ``D96A``; ``Service_V4`` becomes ``service-v4``."""
    match = re.fullmatch(r"service[_-]?v?(\d)", source.name, re.IGNORECASE)
    return f"service-v{match.group(1)}" if match else source.name.upper()


def import_directory(
    source: Path,
    dest: Path,
    messages: list[str] | None,
    *,
    name: str | None = None,
    code_lists: Sequence[str] | None = None,
    service_codes: Sequence[Path] = (),
    fill_from: Sequence[Path] = (),
) -> ImportReport:
    """Read the XML directory in `source` and write ``dest/<name>/`` in the compact format.

    `messages` limits the message types (``["ORDERS", "INVOIC"]``); None imports all of them.
    Only the segments those messages use are written (all of them for a service directory).
    `code_lists` names the code lists to keep (default: `DEFAULT_CODE_LISTS` plus
    `DEFAULT_SERVICE_CODE_LISTS`). `service_codes` adds service code files for a service
    directory whose folder has none (the public rendering keeps them in the D-directories).

    `fill_from` names other directories in the same XML form used to repair composites the
    rendering lost components of (its D97A drops 3039 from C082, its D01B and D03B reduce C819
    to 3055): a composite with fewer components than in every `fill_from` directory, whose
    components are in order among theirs, while those agree, is taken from them (elements it
    lacks from the first of them). Each repair is listed in the report's warnings.
    """
    if not (source / "segments.xml").exists():
        raise DirectoryImportError(f"{source} has no segments.xml: not a directory in the XML form")
    name = name or directory_name(source)
    service = name.startswith("service")
    report = ImportReport(directory=name, path=dest / name)
    elements, composites, segments = _read_segments(source / "segments.xml", report)
    if fill_from:
        _repair_composites(elements, composites, fill_from, report)

    available = _available_messages(source)
    wanted = [m.upper() for m in messages] if messages is not None else sorted(available)
    report.missing_messages = [m for m in wanted if m not in available]
    structures = {m: _read_message(available[m]) for m in wanted if m in available}
    report.messages = sorted(structures)

    used = set(segments) if service or messages is None else _used_segments(structures)
    kept_segments = {tag: segments[tag] for tag in sorted(segments) if tag in used}
    for tag in sorted(used - set(segments)):
        if not tag.startswith("U"):
            report.warnings.append(f"segment {tag} is used by a message but not defined")
    kept_composites, kept_elements = _referenced(kept_segments, composites, elements)

    lists = (
        set(code_lists)
        if code_lists is not None
        else set(DEFAULT_CODE_LISTS + DEFAULT_SERVICE_CODE_LISTS)
    )
    code_files = [source / "codes.xml"] if not service else []
    code_files += sorted(source.glob("service_codes_v*.xml")) if service else []
    code_files += list(service_codes)
    codes = _read_codes(code_files, lists & set(kept_elements))
    report.code_lists = sorted(codes)
    report.segments, report.composites = len(kept_segments), len(kept_composites)
    report.elements = len(kept_elements)

    out = dest / name
    (out / "messages").mkdir(parents=True, exist_ok=True)
    for stale in (out / "messages").glob("*.json"):
        if stale.stem not in structures:
            stale.unlink()
    manifest = {
        "format": FORMAT_VERSION,
        "directory": name,
        "kind": "service" if service else "messages",
        "source": f"UN/EDIFACT {name}, imported from the XML rendering by edi-gateway",
        "messages": report.messages,
        "code_lists": report.code_lists,
    }
    _write(out / "directory.json", manifest, expand=1)
    _write(
        out / "segments.json",
        {
            "format": FORMAT_VERSION,
            "elements": kept_elements,
            "composites": kept_composites,
            "segments": kept_segments,
        },
        expand=2,
    )
    _write(out / "codes.json", {"format": FORMAT_VERSION, "codes": codes}, expand=3)
    for message_type, (identity, root) in structures.items():
        _write_message(out / "messages" / f"{message_type}.json", message_type, identity, root)
    return report


# Reading the XML rendering -------------------------------------------------------------------


def _parse_xml(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.parse(str(path), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise DirectoryImportError(f"cannot read {path}: {exc}") from None


def humanize(name: str) -> str:
    """``beginningOfMessage`` -> ``Beginning of message``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split()
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def _status(node: etree._Element) -> Status:
    return Status.MANDATORY if node.get("required") == "true" else Status.CONDITIONAL


def _format(node: etree._Element) -> str:
    kind = node.get("type") or "an"
    if node.get("length"):
        return str(DataFormat.parse(f"{kind}{node.get('length')}"))
    return str(DataFormat.parse(f"{kind}..{node.get('maxlength') or '35'}"))


def _read_segments(
    path: Path, report: ImportReport
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
    elements: dict[str, list[str]] = {}
    composites: dict[str, list[str]] = {}
    segments: dict[str, list[str]] = {}
    for segment in _parse_xml(path).iter("segment"):
        refs = []
        for child in segment:
            if child.tag == "composite_data_element":
                entry = [humanize(child.get("name", ""))]
                for component in child:
                    _add_element(elements, component, report)
                    entry.append(f"{component.get('id')} {_status(component)}")
                _merge(composites, child.get("id", ""), entry, report, "composite")
            elif child.tag == "data_element":
                _add_element(elements, child, report)
            else:
                continue
            refs.append(f"{child.get('id')} {_status(child)}")
        segments[segment.get("id", "")] = [humanize(segment.get("name", "")), *refs]
    return elements, composites, segments


def _repair_composites(
    elements: dict[str, list[str]],
    composites: dict[str, list[str]],
    references: Sequence[Path],
    report: ImportReport,
) -> None:
    tables = [_read_segments(path / "segments.xml", ImportReport("", path)) for path in references]
    for ident, entry in composites.items():
        theirs = [table[1].get(ident) for table in tables]
        if any(t is None for t in theirs):
            continue
        shapes = {tuple(t[1:]) for t in theirs if t is not None}
        if len(shapes) != 1:
            continue
        shape = shapes.pop()
        ours = entry[1:]
        if len(ours) < len(shape) and _in_order(ours, list(shape)):
            composites[ident] = [entry[0], *shape]
            for ref in shape:
                element = ref.split()[0]
                if element not in elements:
                    elements[element] = tables[0][0][element]
            report.warnings.append(
                f"composite {ident}: the source lists {' '.join(ours) or 'nothing'}; "
                f"repaired to {' '.join(shape)} from {', '.join(p.name for p in references)}"
            )


def _in_order(part: list[str], whole: list[str]) -> bool:
    remaining = iter(whole)
    return all(item in remaining for item in part)


def _add_element(
    elements: dict[str, list[str]], node: etree._Element, report: ImportReport
) -> None:
    entry = [humanize(node.get("name", "")), _format(node)]
    _merge(elements, node.get("id", ""), entry, report, "data element")


def _merge(
    table: dict[str, list[str]], key: str, entry: list[str], report: ImportReport, what: str
) -> None:
    known = table.setdefault(key, entry)
    if known[1:] != entry[1:]:
        report.warnings.append(f"{what} {key} is defined twice differently; kept {known[1:]}")


def _available_messages(source: Path) -> dict[str, Path]:
    folder = source / "messages"
    if not folder.is_dir():
        return {}
    return {p.stem.upper(): p for p in sorted(folder.glob("*.xml"))}


def _read_message(path: Path) -> tuple[dict[str, str], GroupNode]:
    root = _parse_xml(path)
    defaults = {d.get("id"): d.get("value", "") for d in root.iter("data_element")}
    identity = {
        "version": defaults.get("0052", ""),
        "release": defaults.get("0054", ""),
        "agency": defaults.get("0051", "UN"),
    }
    node = _read_group(root, defaults.get("0065", path.stem.upper()), Status.MANDATORY, 1)
    return identity, node


def _read_group(node: etree._Element, name: str, status: Status, max_repeat: int) -> GroupNode:
    children: list[SegmentNode | GroupNode] = []
    for child in node:
        repeat = int(child.get("maxrepeat", "1"))
        mandatory = _status(child) is Status.MANDATORY
        if child.tag == "segment":
            children.append(SegmentNode(child.get("id", ""), mandatory, repeat))
        elif child.tag == "group":
            children.append(_read_group(child, child.get("id", ""), _status(child), repeat))
    return GroupNode(name, status is Status.MANDATORY, max_repeat, tuple(children))


def _used_segments(structures: dict[str, tuple[dict[str, str], GroupNode]]) -> set[str]:
    used: set[str] = set()
    for _, root in structures.values():
        used |= root.tags()
    return used


def _referenced(
    segments: dict[str, list[str]],
    composites: dict[str, list[str]],
    elements: dict[str, list[str]],
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    composite_ids: set[str] = set()
    element_ids: set[str] = set()
    for entry in segments.values():
        for ref in entry[1:]:
            ident = ref.split()[0]
            if ident in composites:
                composite_ids.add(ident)
                element_ids.update(r.split()[0] for r in composites[ident][1:])
            else:
                element_ids.add(ident)
    return (
        {k: composites[k] for k in sorted(composite_ids)},
        {k: elements[k] for k in sorted(element_ids)},
    )


def _read_codes(files: Iterable[Path], wanted: set[str]) -> dict[str, dict[str, str]]:
    codes: dict[str, dict[str, str]] = {}
    for path in files:
        if not path.exists():
            continue
        for element in _parse_xml(path).iter("data_element"):
            ident = element.get("id", "")
            if ident not in wanted:
                continue
            table = codes.setdefault(ident, {})
            for code in element.iter("code"):
                title = code.get("title") or code.get("desc", "")
                table.setdefault(code.get("id", ""), title)
    return {k: dict(sorted(codes[k].items())) for k in sorted(codes)}


# Writing: one entry per line, so a directory update reads as a small diff --------------------


def _write(path: Path, value: dict[str, Any], expand: int) -> None:
    path.write_text(_render(value, expand, 0) + "\n", encoding="utf-8")


def _write_message(path: Path, message: str, identity: dict[str, str], root: GroupNode) -> None:
    head = {"format": FORMAT_VERSION, "message": message, **identity}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append('  "structure": [')
    body = [_structure_line(dump_node(child), 2) for child in root.children]
    lines.append(",\n".join(body))
    lines += ["  ]", "}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _structure_line(item: str | list[Any], depth: int) -> str:
    """A segment on one line; a group as ``["SG1 C 10",`` then its children indented."""
    pad = "  " * depth
    if isinstance(item, str):
        return pad + json.dumps(item)
    children = [_structure_line(child, depth + 1) for child in item[1:]]
    return f"{pad}[{json.dumps(item[0])},\n" + ",\n".join(children) + "]"


def _render(value: Any, expand: int, indent: int) -> str:
    if expand <= 0 or not isinstance(value, dict) or not value:
        return json.dumps(value, ensure_ascii=False)
    pad = "  " * (indent + 1)
    items = [
        f"{pad}{json.dumps(k, ensure_ascii=False)}: {_render(v, expand - 1, indent + 1)}"
        for k, v in value.items()
    ]
    return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
