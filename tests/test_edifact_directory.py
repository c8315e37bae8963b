"""EDIFACT directories: the compact format, its loader and catalog, and the XML importer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edi_gateway.formats.edifact.directory import (
    DEFAULT_SCHEMAS,
    CharClass,
    DataFormat,
    DirectoryCatalog,
    DirectoryError,
    GroupNode,
    Ref,
    SegmentNode,
    Status,
    dump_node,
    load_directory,
    parse_node,
    read_directory,
)
from edi_gateway.formats.edifact.directory_import import (
    DirectoryImportError,
    directory_name,
    humanize,
    import_directory,
)
from tests.support import SHARED

DIRECTORIES = SHARED / "edifact" / "directories"
BUSINESS = ["ORDERS", "ORDRSP", "INVOIC", "REQOTE", "QUOTES", "APERAK"]


# The compact format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "low", "high"),
    [
        ("an..35", CharClass.ALPHANUMERIC, 1, 35),
        ("a3", CharClass.ALPHABETIC, 3, 3),
        ("n..15", CharClass.NUMERIC, 1, 15),
        ("n1", CharClass.NUMERIC, 1, 1),
    ],
)
def test_data_formats(text: str, kind: CharClass, low: int, high: int) -> None:
    fmt = DataFormat.parse(text)
    assert (fmt.kind, fmt.min_length, fmt.max_length) == (kind, low, high)
    assert str(fmt) == text


@pytest.mark.parametrize("text", ["x..3", "an..", "an35x", "..35", ""])
def test_invalid_data_formats(text: str) -> None:
    with pytest.raises(DirectoryError, match="invalid data element format"):
        DataFormat.parse(text)


def test_references_and_structure_entries() -> None:
    assert Ref.parse("C002 M") == Ref("C002", Status.MANDATORY)
    assert str(Ref("1004", Status.CONDITIONAL)) == "1004 C"
    with pytest.raises(DirectoryError):
        Ref.parse("C002 X")
    structure = ["SG1 C 10", "RFF M 1", ["SG2 M 5", "DTM M 1"]]
    node = parse_node(structure)
    assert isinstance(node, GroupNode)
    assert (node.name, node.mandatory, node.max_repeat, node.trigger) == ("SG1", False, 10, "RFF")
    assert node.children[0] == SegmentNode("RFF", True, 1)
    assert node.tags() == {"RFF", "DTM"}
    assert dump_node(node) == structure
    with pytest.raises(DirectoryError, match="must start with a segment"):
        parse_node(["SG1 C 10", ["SG2 M 5", "DTM M 1"]])
    with pytest.raises(DirectoryError, match="invalid structure entry"):
        parse_node("DTM C")


# The shipped directories ------------------------------------------------------------------------


def test_the_repository_ships_d96a_d01b_and_the_service_directories() -> None:
    catalog = DirectoryCatalog()
    assert catalog.roots == (DEFAULT_SCHEMAS,)
    assert set(catalog.names()) >= {"D96A", "D01B", "service-v3", "service-v4"}
    for name in ("D96A", "D01B"):
        directory = catalog.directory(name)
        assert sorted(directory.message_types) == sorted(BUSINESS)
        assert {"1001", "3035", "2005", "2379", "6063", "5025", "1153", "4343"} <= set(
            directory.codes
        )
    for name in ("service-v3", "service-v4"):
        service = catalog.directory(name)
        assert "CONTRL" in service.message_types
        assert {"UNB", "UNH", "UNT", "UNZ", "UCI", "UCM", "UCS", "UCD"} <= set(service.segments)
        assert {"0083", "0085"} <= set(service.codes)


def test_the_shipped_files_are_what_the_importer_writes(tmp_path: Path) -> None:
    references = [DIRECTORIES / "D14B", DIRECTORIES / "D96A"]
    import_directory(DIRECTORIES / "D96A", tmp_path, BUSINESS)
    import_directory(DIRECTORIES / "D01B", tmp_path, BUSINESS, fill_from=references)
    for name in ("D96A", "D01B"):
        generated = sorted(
            p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*.json")
        )
        shipped = sorted(
            p.relative_to(DEFAULT_SCHEMAS / name) for p in (DEFAULT_SCHEMAS / name).rglob("*.json")
        )
        assert generated == shipped
        for relative in generated:
            assert (tmp_path / name / relative).read_text() == (
                DEFAULT_SCHEMAS / name / relative
            ).read_text(), f"{name}/{relative} differs: regenerate schemas/edifact"


def test_segments_resolve_to_formats_and_code_lists() -> None:
    d96a = DirectoryCatalog().directory("D96A")
    bgm = d96a.segment_spec("BGM")
    assert bgm is not None
    assert [(e.id, e.composite, e.mandatory) for e in bgm.elements] == [
        ("C002", True, False),
        ("1004", False, False),
        ("1225", False, False),
        ("4343", False, False),
    ]
    document = bgm.elements[0].components[0]
    assert (document.id, document.format, document.codes is not None) == ("1001", "an..3", True)
    assert document.codes is not None and "220" in document.codes and "380" in document.codes
    assert bgm.elements[1].components[0].codes is None  # 1004 is free text
    assert d96a.segment_spec("UNH") is None  # service segments live in the service directory
    dtm = d96a.segment_spec("DTM")
    assert dtm is not None and dtm.elements[0].components[0].mandatory  # 2005 in C507


def test_the_d01b_country_subdivision_composite_is_repaired() -> None:
    d01b = DirectoryCatalog().directory("D01B")
    assert [r.id for r in d01b.composites["C819"].components] == ["3229", "1131", "3055", "3228"]


def test_messages_are_loaded_lazily_and_directories_once(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_SCHEMAS / "D96A", tmp_path / "D96A")
    first = load_directory(tmp_path / "D96A")
    assert load_directory(tmp_path / "D96A") is first
    assert read_directory(tmp_path / "D96A") is not first
    assert first._messages == {}
    orders = first.message("ORDERS")
    assert first.message("ORDERS") is orders
    assert list(first._messages) == ["ORDERS"]
    assert orders.identifier == "ORDERS:D:96A:UN"
    assert [c.label for c in orders.root.children[:3]] == ["UNH", "BGM", "DTM"]
    with pytest.raises(DirectoryError, match="has no message DESADV"):
        first.message("DESADV")


def test_catalog_resolves_unh_identifiers() -> None:
    catalog = DirectoryCatalog()
    orders = catalog.schema("ORDERS", "D", "96A", "UN", 3)
    assert orders is not None and orders.directory.name == "D96A"
    assert orders.service is not None and orders.service.name == "service-v3"
    assert catalog.schema("ORDERS", "D", "96A", "UN", 3) is orders
    v4 = catalog.schema("ORDERS", "D", "96A", "UN", 4)
    assert v4 is not None and v4.service is not None and v4.service.name == "service-v4"
    contrl3 = catalog.schema("CONTRL", "D", "3", "UN", 3)
    assert contrl3 is not None and contrl3.directory.name == "service-v3"
    contrl4 = catalog.schema("CONTRL", "4", "1", "UN", 4)
    assert contrl4 is not None and contrl4.directory.name == "service-v4"
    assert catalog.schema("DESADV", "D", "96A", "UN", 3) is None  # not shipped
    assert catalog.schema("ORDERS", "D", "93A", "UN", 3) is None
    assert catalog.schema("PAORES", "93", "1", "IA", 1) is None
    with pytest.raises(DirectoryError, match="no EDIFACT directory 'D93A'"):
        catalog.directory("D93A")


def test_a_corrupt_directory_file_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "BAD"
    folder.mkdir()
    (folder / "directory.json").write_text('{"format": 99}')
    with pytest.raises(DirectoryError, match='"format": 1'):
        read_directory(folder)
    (folder / "directory.json").write_text("{")
    with pytest.raises(DirectoryError, match="not valid JSON"):
        read_directory(folder)


# The importer -----------------------------------------------------------------------------------


def test_names_of_imported_directories() -> None:
    assert directory_name(Path("x/D96A")) == "D96A"
    assert directory_name(Path("x/Service_V4")) == "service-v4"
    assert humanize("beginningOfMessage") == "Beginning of message"
    assert humanize("messageReferenceNumber") == "Message reference number"


def test_import_selected_messages(tmp_path: Path) -> None:
    report = import_directory(DIRECTORIES / "D96A", tmp_path, ["orders", "DESADV", "NOSUCH"])
    assert report.directory == "D96A" and report.path == tmp_path / "D96A"
    assert report.messages == ["DESADV", "ORDERS"]
    assert report.missing_messages == ["NOSUCH"]
    assert report.warnings == []
    assert "NOSUCH" in str(report)
    files = sorted(p.name for p in (tmp_path / "D96A" / "messages").iterdir())
    assert files == ["DESADV.json", "ORDERS.json"]
    segments = json.loads((tmp_path / "D96A" / "segments.json").read_text())
    assert "BGM" in segments["segments"] and "CPS" in segments["segments"]  # DESADV's CPS
    assert "BUS" not in segments["segments"]  # used by neither message
    # a second import with fewer messages removes what is no longer wanted
    import_directory(DIRECTORIES / "D96A", tmp_path, ["ORDERS"])
    assert [p.name for p in (tmp_path / "D96A" / "messages").iterdir()] == ["ORDERS.json"]


def test_import_writes_one_entry_per_line(tmp_path: Path) -> None:
    import_directory(DIRECTORIES / "D96A", tmp_path, ["ORDERS"], code_lists=["1001"])
    lines = (tmp_path / "D96A" / "segments.json").read_text().splitlines()
    assert '    "BGM": ["Beginning of message", "C002 C", "1004 C", "1225 C", "4343 C"],' in lines
    codes = (tmp_path / "D96A" / "codes.json").read_text().splitlines()
    assert '      "220": "Order",' in codes
    assert list(json.loads("\n".join(codes))["codes"]) == ["1001"]
    message = (tmp_path / "D96A" / "messages" / "ORDERS.json").read_text().splitlines()
    assert '    ["SG1 C 10",' in message and '      "RFF M 1",' in message


@pytest.mark.parametrize("name", ["D96A", "D01B", "D14B"])
def test_import_whole_directories_from_shared(tmp_path: Path, name: str) -> None:
    references = [DIRECTORIES / "D96A", DIRECTORIES / "D14B"]
    report = import_directory(DIRECTORIES / name, tmp_path, None, fill_from=references)
    folder = tmp_path / name
    assert len(report.messages) == len(list((DIRECTORIES / name / "messages").glob("*.xml")))
    directory = read_directory(folder)
    for message_type in directory.message_types:
        message = directory.message(message_type)
        assert message.root.children[0] == SegmentNode("UNH", True, 1)
        assert message.root.children[-1] == SegmentNode("UNT", True, 1)
        assert message.version + message.release == name
        for tag in message.root.tags() - {"UNH", "UNT", "UNS", "UGH", "UGT"}:
            assert directory.segment_spec(tag) is not None, (message_type, tag)
    if name == "D01B":
        assert report.warnings == [
            "composite C819: the source lists 3055 C; repaired to 3229 C 1131 C 3055 C 3228 C "
            "from D96A, D14B"
        ]
    else:
        assert report.warnings == []


def test_import_of_a_service_directory_with_its_codes(tmp_path: Path) -> None:
    codes = DIRECTORIES / "D14B" / "service_codes_v4.xml"
    report = import_directory(DIRECTORIES / "Service_V4", tmp_path, None, service_codes=[codes])
    assert report.directory == "service-v4"
    assert report.messages == ["AUTACK", "CONTRL", "KEYMAN"]
    service = read_directory(tmp_path / "service-v4")
    assert service.kind == "service"
    assert service.codes["0085"]["13"] == "Missing"
    assert service.codes["0085"]["36"] == "Too many segment group repetitions"
    assert set(service.codes["0083"]) == {"4", "7", "8"}
    contrl = service.message("CONTRL")
    assert (contrl.version, contrl.release) == ("4", "1")


def test_import_rejects_a_folder_that_is_no_directory(tmp_path: Path) -> None:
    with pytest.raises(DirectoryImportError, match=r"no segments\.xml"):
        import_directory(tmp_path, tmp_path / "out", None)
    (tmp_path / "segments.xml").write_text("<segments><segment")
    with pytest.raises(DirectoryImportError, match="cannot read"):
        import_directory(tmp_path, tmp_path / "out", None)
