"""Structure validation: the segment-group automaton, element checks, and the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi_gateway.formats.edifact.directory import (
    Directory,
    DirectoryCatalog,
    DirectoryError,
    GroupNode,
    MessageDef,
    MessageSchema,
    Ref,
    parse_node,
    parse_segments,
)
from edi_gateway.formats.edifact.directory_import import import_directory
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.formats.edifact.structure import (
    MessageValidator,
    SyntaxError0085,
    automaton,
    schema_for,
    validate_message,
)
from edi_gateway.model.findings import Finding, Severity
from tests.support import SHARED

CORPUS = SHARED / "corpus" / "edifact"
DIRECTORIES = SHARED / "edifact" / "directories"


# A test-only splitter (the real tokenizer lives in its own module): UNA, release character,
# the syntax 4 repetition separator, CR/LF after terminators, junk before UNA/UNB.


def split_interchange(text: str, skip_junk: bool = True) -> tuple[str, list[Segment]]:
    """(decimal mark, segments numbered from UNB = 1) of one or more interchanges."""
    starts = [i for i in (text.find("UNA"), text.find("UNB"), text.find("UNH")) if i >= 0]
    if skip_junk and starts:
        text = text[min(starts) :]
    component, element, decimal, release, repetition, terminator = ":", "+", ".", "?", "", "'"
    if text.startswith("UNA"):
        component, element, decimal, release, repetition, terminator = list(text[3:9])
        repetition = repetition.strip()
        text = text[9:].lstrip("\r\n")
    elif text[8:10] == ":4":  # UNB+UNOx:4 without UNA: syntax 4 default repetition separator
        repetition = "*"
    segments: list[Segment] = []
    occurrences: list[list[list[str]]] = []  # per element position, its occurrences
    current: list[list[str]] = []  # occurrences of the element being read
    components: list[str] = []
    chars: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if char == release and index < len(text):
            chars.append(text[index])
            index += 1
        elif char == component:
            components.append("".join(chars))
            chars = []
        elif char in (element, terminator) or (repetition and char == repetition):
            components.append("".join(chars))
            current.append(components)
            chars, components = [], []
            if char != repetition:
                occurrences.append(current)
                current = []
            if char == terminator:
                segment = _segment(occurrences, 1)
                if segment.tag != "UNB" and segments:
                    segment.number = segments[-1].number + 1  # numbered per interchange
                segments.append(segment)
                occurrences = []
                while index < len(text) and text[index] in "\r\n":
                    index += 1
        else:
            chars.append(char)
    return decimal, segments


def _segment(occurrences: list[list[list[str]]], number: int) -> Segment:
    tag = occurrences[0][0][0]
    elements = [occ[0] for occ in occurrences[1:]]
    repeats = {i: occ for i, occ in enumerate(occurrences[1:]) if len(occ) > 1}
    return Segment(tag, elements, number=number, repeats=repeats or None)


def messages_of(segments: list[Segment]) -> list[list[Segment]]:
    """UNH..UNT runs (a run without UNT ends the list truncated)."""
    found: list[list[Segment]] = []
    current: list[Segment] | None = None
    for segment in segments:
        if segment.tag == "UNH":
            current = [segment]
            found.append(current)
        elif current is not None:
            current.append(segment)
            if segment.tag == "UNT":
                current = None
    return found


def segments_of(text: str, first_number: int = 2) -> list[Segment]:
    """Segments of a bare message text, numbered as if UNB came first."""
    _, segments = split_interchange(text, skip_junk=False)
    for offset, segment in enumerate(segments):
        segment.number = first_number + offset
    return segments


def brief(
    findings: list[Finding],
) -> list[tuple[str, int | None, str | None, int | None, int | None]]:
    return [
        (
            f.code,
            f.location.segment,
            f.location.segment_tag,
            f.location.element,
            f.location.component,
        )
        for f in findings
    ]


@pytest.fixture(scope="module")
def catalog() -> DirectoryCatalog:
    return DirectoryCatalog()


@pytest.fixture(scope="module")
def orders(catalog: DirectoryCatalog) -> MessageSchema:
    schema = catalog.schema("ORDERS", "D", "96A", "UN", 3)
    assert schema is not None
    return schema


def check(schema: MessageSchema, text: str, decimal_mark: str = ".") -> list[Finding]:
    return validate_message(segments_of(text), schema, decimal_mark)


def test_the_error_codes_mean_what_the_service_directories_say(catalog: DirectoryCatalog) -> None:
    v3 = catalog.directory("service-v3").codes["0085"]
    v4 = catalog.directory("service-v4").codes["0085"]
    expected = {
        "12": "Invalid value",
        "13": "Missing",
        "15": "Not supported in this position",
        "16": "Too many constituents",
        "35": "Too many segment repetitions",
        "36": "Too many segment group repetitions",
        "37": "Invalid type of character(s)",
        "39": "Data element too long",
        "40": "Data element too short",
    }
    v4_only = {"45": "Trailing separator"}
    assert {code.value for code in SyntaxError0085} == set(expected) | set(v4_only)
    for code, title in expected.items():
        assert v3[code] == title, code
    assert v4["35"] == "Too many data element or segment repetitions"  # later wording
    assert all(v4[code] == title for code, title in expected.items() if code != "35")
    for code, title in v4_only.items():
        assert v4[code] == title and code not in v3, code


VALID_ORDER = (
    "UNH+1+ORDERS:D:96A:UN'BGM+220+PO1+9'DTM+137:20240101:102'"
    "NAD+BY+4012345000009::9'LIN+1++4000862141404:EN'QTY+21:5'UNS+S'UNT+8+1'"
)


def test_a_valid_order_has_no_findings(orders: MessageSchema) -> None:
    assert check(orders, VALID_ORDER) == []


def test_a_code_outside_the_code_list_is_invalid_value(orders: MessageSchema) -> None:
    findings = check(orders, VALID_ORDER.replace("BGM+220", "BGM+999"))
    assert brief(findings) == [("12", 3, "BGM", 1, 1)]
    assert findings[0].text == (
        "BGM element 1 component 1 (1001 Documentmessage name coded): '999' is not in the code list"
    )
    assert findings[0].severity is Severity.ERROR
    assert findings[0].source == "edifact"


def test_code_list_misses_in_a_subset_message_are_warnings(orders: MessageSchema) -> None:
    text = VALID_ORDER.replace("ORDERS:D:96A:UN", "ORDERS:D:96A:UN:EAN008").replace(
        "+220+", "+50E+"
    )
    findings = check(orders, text)
    assert brief(findings) == [("12", 3, "BGM", 1, 1)]
    assert findings[0].severity is Severity.WARNING


def test_a_missing_mandatory_segment_is_reported_where_it_was_due(orders: MessageSchema) -> None:
    findings = check(orders, VALID_ORDER.replace("BGM+220+PO1+9'", ""))
    assert brief(findings) == [("13", 3, "DTM", None, None)]
    assert findings[0].text == "mandatory segment BGM is missing before DTM"


def test_a_truncated_message_misses_its_trailer(orders: MessageSchema) -> None:
    findings = check(orders, VALID_ORDER.replace("UNS+S'UNT+8+1'", ""))
    assert [(f.code, f.text) for f in findings] == [
        ("13", "mandatory segment UNS is missing at the end of the message"),
        ("13", "mandatory segment UNT is missing at the end of the message"),
    ]
    assert findings[0].location.segment == 7  # the last segment received (QTY)


def test_too_many_repetitions_of_a_segment(orders: MessageSchema) -> None:
    text = VALID_ORDER.replace("DTM+137:20240101:102'", "DTM+137:20240101:102'" * 36)
    findings = check(orders, text)
    assert brief(findings) == [("35", 39, "DTM", None, None)]
    assert findings[0].text == "segment DTM occurs 36 times here; at most 35 allowed"


def test_too_many_repetitions_of_a_segment_group(orders: MessageSchema) -> None:
    text = VALID_ORDER.replace("NAD+", "RFF+ON:1'" * 11 + "NAD+")
    findings = check(orders, text)
    assert brief(findings) == [("36", 15, "RFF", None, None)]
    assert findings[0].text == "segment group SG1 (RFF) occurs 11 times; at most 10 allowed"


def test_an_unexpected_segment_does_not_hide_the_next_ones(orders: MessageSchema) -> None:
    text = VALID_ORDER.replace("QTY+21:5'", "QTY+21:5'XYZ+1'PIA+1+A:IN'QTY+21:5X'BGM+999'")
    findings = check(orders, text)
    # the automaton stays after the first QTY: the second QTY is a repetition and is checked,
    # the misplaced BGM is reported but its content is not, and UNS/UNT still close the message
    assert brief(findings) == [
        ("15", 8, "XYZ", None, None),
        ("15", 9, "PIA", None, None),
        ("37", 10, "QTY", 1, 2),
        ("15", 11, "BGM", None, None),
    ]
    assert findings[0].text == "segment XYZ is not part of ORDERS:D:96A:UN"
    assert findings[1].text == "segment PIA is not allowed after QTY here"


def test_resynchronises_after_an_unexpected_segment(orders: MessageSchema) -> None:
    # PAI has its place in SG25 after QTY, so the automaton moves on; QTY cannot follow it
    text = VALID_ORDER.replace("QTY+21:5'", "QTY+21:5'PAI+1'QTY+21:ABC'")
    findings = check(orders, text)
    assert brief(findings) == [("15", 9, "QTY", None, None)]
    assert findings[0].text == "segment QTY is not allowed after PAI here"


def test_too_many_data_elements(orders: MessageSchema) -> None:
    findings = check(orders, VALID_ORDER.replace("BGM+220+PO1+9'", "BGM+220+PO1+9+AB+EXTRA'"))
    assert brief(findings) == [("16", 3, "BGM", 5, None)]


def test_empty_trailing_elements_are_not_too_many(orders: MessageSchema) -> None:
    assert check(orders, VALID_ORDER.replace("BGM+220+PO1+9'", "BGM+220+PO1+9+++'")) == []


def test_too_many_components(orders: MessageSchema) -> None:
    findings = check(
        orders, VALID_ORDER.replace("DTM+137:20240101:102'", "DTM+137:20240101:102:X'")
    )
    assert brief(findings) == [("16", 4, "DTM", 1, 4)]
    simple = check(orders, VALID_ORDER.replace("BGM+220+PO1+9'", "BGM+220+PO1:X+9'"))
    assert brief(simple) == [("16", 3, "BGM", 2, 2)]


def test_a_missing_mandatory_component(orders: MessageSchema) -> None:
    findings = check(orders, VALID_ORDER.replace("DTM+137:", "DTM+:"))
    assert brief(findings) == [("13", 4, "DTM", 1, 1)]
    assert findings[0].text.endswith("mandatory value is missing")


def test_a_missing_mandatory_element(orders: MessageSchema) -> None:
    findings = check(orders, VALID_ORDER.replace("NAD+BY+4012345000009::9'", "NAD'"))
    assert brief(findings) == [("13", 5, "NAD", 1, None)]
    composite = check(orders, VALID_ORDER.replace("DTM+137:20240101:102'", "DTM'"))
    assert brief(composite) == [("13", 4, "DTM", 1, None)]
    assert (
        composite[0].text == "DTM element 1 (C507 Datetimeperiod): mandatory composite is missing"
    )


def test_too_long(orders: MessageSchema) -> None:
    findings = check(orders, VALID_ORDER.replace("PO1", "P" * 36))
    assert brief(findings) == [("39", 3, "BGM", 2, None)]
    assert findings[0].text.endswith("is too long: 36 characters, format an..35")


def test_numeric_values(orders: MessageSchema) -> None:
    def qty(value: str, decimal_mark: str = ".") -> list[tuple[str, str]]:
        text = VALID_ORDER.replace("QTY+21:5'", f"QTY+21:{value}'")
        return [(f.code, f.text.split(": ", 1)[1]) for f in check(orders, text, decimal_mark)]

    assert qty("-12.50") == []
    assert qty("2,5", decimal_mark=",") == []
    assert qty("1" * 15) == []
    assert qty("-1234567890123.45") == []  # 15 digits: sign and decimal mark do not count
    assert qty("1" * 16) == [("39", f"'{'1' * 16}' is too long: 16 digits, format n..15")]
    assert qty("2,5") == [
        ("12", "'2,5' uses ',' as decimal mark; the interchange's decimal mark is '.'")
    ]
    assert qty(".5") == [("12", "'.5' needs a digit on each side of the decimal mark")]
    assert qty("5.") == [("12", "'5.' needs a digit on each side of the decimal mark")]
    assert qty("1.2.3") == [("12", "'1.2.3' has more than one decimal mark")]
    assert [code for code, _ in qty("5X")] == ["37"]
    assert [code for code, _ in qty("5-")] == ["37"]


def test_unknown_tags_do_not_grow_the_transition_table(orders: MessageSchema) -> None:
    compiled = automaton(orders.message)
    before = len(compiled._moves)
    for number in range(500):
        assert compiled.moves((1,), f"X{number:03}") == ()
    assert len(compiled._moves) == before


def test_findings_arrive_with_the_segment_that_caused_them(orders: MessageSchema) -> None:
    validator = MessageValidator(orders, message_index=4)
    per_segment = [validator.feed(s) for s in segments_of(VALID_ORDER.replace("+220+", "+999+"))]
    assert [len(f) for f in per_segment] == [0, 1, 0, 0, 0, 0, 0, 0]
    assert per_segment[1][0].location.message == 4
    assert validator.finish() == []


# A small hand-made directory for what ORDERS cannot show (mandatory groups, fixed lengths).

SMALL_SEGMENTS = {
    "format": 1,
    "elements": {
        "0062": ["Message reference", "an..14"],
        "0065": ["Message type", "an..6"],
        "0074": ["Number of segments", "n..6"],
        "1000": ["Alpha code", "a3"],
        "1001": ["Fixed code", "an3"],
        "2000": ["Amount", "n..5"],
    },
    "composites": {"S009": ["Message identifier", "0065 M"]},
    "segments": {
        "UNH": ["Message header", "0062 M", "S009 M"],
        "UNT": ["Message trailer", "0074 M", "0062 M"],
        "AAA": ["First", "1000 C", "1001 C"],
        "BBB": ["Group trigger", "2000 C"],
        "CCC": ["Mandatory in group", "2000 C"],
        "DDD": ["Nested trigger", "2000 C"],
    },
}
SMALL_STRUCTURE = [
    "TEST M 1",
    "UNH M 1",
    "AAA C 2",
    ["SG1 M 3", "BBB M 1", "CCC M 1", ["SG2 C 2", "DDD M 1", "AAA C 1"]],
    "UNT M 1",
]


@pytest.fixture(scope="module")
def small() -> MessageSchema:
    elements, composites, segments = parse_segments(SMALL_SEGMENTS)
    directory = Directory("T1", None, "messages", elements, composites, segments, {}, ())
    root = parse_node(SMALL_STRUCTURE)
    assert isinstance(root, GroupNode)
    directory.add_message(MessageDef("TEST", "T", "1", "UN", root))
    return MessageSchema(directory.message("TEST"), directory)


def test_nested_groups_enter_repeat_and_leave(small: MessageSchema) -> None:
    text = "UNH+1+TEST'AAA+ABC'BBB+1'CCC'DDD'AAA'DDD'BBB+2'CCC'UNT+10+1'"
    assert check(small, text) == []


def test_a_missing_mandatory_group(small: MessageSchema) -> None:
    findings = check(small, "UNH+1+TEST'AAA'UNT+3+1'")
    assert brief(findings) == [("13", 4, "UNT", None, None)]
    assert findings[0].text == "mandatory segment group SG1 (BBB) is missing before UNT"


def test_a_missing_mandatory_segment_inside_a_group(small: MessageSchema) -> None:
    findings = check(small, "UNH+1+TEST'BBB'DDD'BBB'CCC'UNT+6+1'")
    assert [(f.code, f.location.segment, f.text) for f in findings] == [
        ("13", 4, "mandatory segment CCC in SG1 is missing before DDD"),
        # DDD's group ends when BBB starts the next SG1: CCC of the first SG1 was reported once
    ]


def test_a_segment_is_matched_in_the_innermost_group_first(small: MessageSchema) -> None:
    # AAA after DDD belongs to SG2; a third SG2 repetition is one too many
    text = "UNH+1+TEST'BBB'CCC'DDD'AAA'DDD'DDD'UNT+8+1'"
    assert brief(check(small, text)) == [("36", 8, "DDD", None, None)]


def test_fixed_lengths_and_alphabetic_values(small: MessageSchema) -> None:
    findings = check(small, "UNH+1+TEST'AAA+A1C+AB'BBB'CCC'UNT+5+1'")
    assert [(f.code, f.location.element, f.text.split(": ", 1)[1]) for f in findings] == [
        ("37", 1, "'A1C' has digits; the format is a3"),
        ("40", 2, "'AB' is too short: 2 characters, format an3"),
    ]


def test_every_occurrence_of_a_repeated_element_is_checked(small: MessageSchema) -> None:
    segments = segments_of("UNH+1+TEST'AAA'BBB'CCC'UNT+5+1'")
    segments[1] = Segment("AAA", [["ABC"]], number=3, repeats={0: [["ABC"], ["A2C"]]})
    assert brief(validate_message(segments, small)) == [("37", 3, "AAA", 1, None)]


def test_unh_before_anything_else(small: MessageSchema) -> None:
    findings = check(small, "AAA'UNH+1+TEST'BBB'CCC'UNT+5+1'")
    assert [(f.code, f.location.segment_tag) for f in findings] == [("13", "AAA"), ("15", "UNH")]


# Syntax versions: the service segments come from the interchange's syntax version


def test_a_syntax_4_unh_needs_the_version_4_service_segments(catalog: DirectoryCatalog) -> None:
    text = VALID_ORDER.replace("UNH+1+ORDERS:D:96A:UN'", "UNH+1+ORDERS:D:96A:UN::16B'")
    v4 = catalog.schema("ORDERS", "D", "96A", "UN", 4)
    v3 = catalog.schema("ORDERS", "D", "96A", "UN", 3)
    assert v4 is not None and v3 is not None
    assert check(v4, text) == []
    assert brief(check(v3, text)) == [("16", 2, "UNH", 2, 6)]


V4_ORDER = VALID_ORDER.replace("UNH+1+ORDERS:D:96A:UN'", "UNH+1+ORDERS:D:96A:UN::16B'")


@pytest.fixture(scope="module")
def orders_v4(catalog: DirectoryCatalog) -> MessageSchema:
    schema = catalog.schema("ORDERS", "D", "96A", "UN", 4)
    assert schema is not None
    return schema


def check_v4(schema: MessageSchema, text: str) -> list[Finding]:
    return validate_message(segments_of(text), schema, syntax_version=4)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("BGM+220+PO1+9'", "BGM+220+PO1+9+++'", ("45", 3, "BGM", 4, None)),
        ("BGM+220+PO1+9'", "BGM+220+PO1+9+'", ("45", 3, "BGM", 4, None)),
        ("DTM+137:20240101:102'", "DTM+137:20240101:102:'", ("45", 4, "DTM", 1, 4)),
        ("BGM+220+PO1+9'", "BGM+220::+PO1+9'", ("45", 3, "BGM", 1, 3)),
        ("UNS+S'", "UNS+S+'", ("45", 8, "UNS", 2, None)),
    ],
)
def test_a_trailing_separator_in_syntax_4(
    orders_v4: MessageSchema, old: str, new: str, expected: tuple[object, ...]
) -> None:
    assert check_v4(orders_v4, V4_ORDER) == []
    findings = check_v4(orders_v4, V4_ORDER.replace(old, new))
    assert brief(findings) == [expected]
    assert "trailing separator" in findings[0].text
    assert findings[0].severity is Severity.WARNING  # published EN 16931 examples have them


def test_omitted_elements_before_a_value_are_no_trailing_separator(
    orders_v4: MessageSchema,
) -> None:
    assert check_v4(orders_v4, V4_ORDER.replace("BGM+220+PO1+9'", "BGM+220++9'")) == []


def test_syntax_3_has_no_code_for_a_trailing_separator(orders: MessageSchema) -> None:
    text = VALID_ORDER.replace("DTM+137:20240101:102'", "DTM+137:20240101:102:'")
    assert check(orders, text) == []


def test_an_undeclared_repetition_count_is_not_guessed(orders_v4: MessageSchema) -> None:
    # the XML renderings give no repetition counts (COM C076 repeats in later directories)
    unh, *body = segments_of(V4_ORDER)
    nad = next(s for s in body if s.tag == "NAD")
    nad.repeats = {1: [["4012345000009", "", "9"], ["4012345000016", "", "9"]]}
    assert validate_message([unh, *body], orders_v4, syntax_version=4) == []


def test_a_trailing_repetition_separator(orders_v4: MessageSchema) -> None:
    unh, *body = segments_of(V4_ORDER)
    nad = next(s for s in body if s.tag == "NAD")
    nad.repeats = {1: [["4012345000009", "", "9"], [""]]}
    findings = validate_message([unh, *body], orders_v4, syntax_version=4)
    assert brief(findings) == [("45", 5, "NAD", 2, None)]


def test_the_directory_can_allow_repetitions(small: MessageSchema) -> None:
    elements, composites, segments = parse_segments(
        {**SMALL_SEGMENTS, "segments": {**SMALL_SEGMENTS["segments"], "AAA": ["A", "1000 C 2"]}}
    )
    directory = Directory("T2", None, "messages", elements, composites, segments, {}, ())
    directory.add_message(small.message)
    schema = MessageSchema(directory.message("TEST"), directory)
    segs = segments_of("UNH+1+TEST'AAA+ABC'BBB'CCC'UNT+5+1'")
    segs[1].repeats = {0: [["ABC"], ["DEF"]]}
    assert validate_message(segs, schema, syntax_version=4) == []
    segs[1].repeats = {0: [["ABC"], ["DEF"], ["GHI"]]}
    findings = validate_message(segs, schema, syntax_version=4)
    assert brief(findings) == [("35", 3, "AAA", 1, None)]
    assert findings[0].severity is Severity.ERROR
    assert (
        findings[0].text == "AAA element 1 (1000 Alpha code) occurs 3 times; the directory allows 2"
    )
    assert validate_message(segs, schema, syntax_version=3) == []  # no repetition in syntax 3


def test_a_reference_with_a_bad_repetition_count_is_refused() -> None:
    with pytest.raises(DirectoryError, match="repetition count"):
        Ref.parse("C516 C 0")
    assert str(Ref.parse("C076 M 3")) == "C076 M 3" and Ref.parse("C076 M").max_repeat is None


def test_contrl_in_both_syntax_versions(catalog: DirectoryCatalog) -> None:
    v3 = catalog.schema("CONTRL", "D", "3", "UN", 3)
    v4 = catalog.schema("CONTRL", "4", "1", "UN", 4)
    assert v3 is not None and v4 is not None
    text = "UNH+1+CONTRL:D:3:UN'UCI+77+A:14+B:14+4'UCM+1+ORDERS:D:96A:UN+4'UCS+5+13'UNT+5+1'"
    assert check(v3, text) == []
    assert brief(check(v3, text.replace("UCS+5+13", "UCS+5+99"))) == [("12", 5, "UCS", 2, None)]


# The shared corpus, validated with directories imported from ../shared by the test itself


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> DirectoryCatalog:
    root = tmp_path_factory.mktemp("directories")
    for name in ("D96A", "D14B"):
        import_directory(DIRECTORIES / name, root, None)
    # the renderings of D97A, D01B and D03B lost components of some composites: repair them
    references = [DIRECTORIES / "D96A", DIRECTORIES / "D14B"]
    for name in ("D97A", "D01B", "D03B"):
        import_directory(DIRECTORIES / name, root, None, fill_from=references)
    for version, codes in (("3", "service_codes_v3.xml"), ("4", "service_codes_v4.xml")):
        import_directory(
            DIRECTORIES / f"Service_V{version}",
            root,
            None,
            service_codes=[DIRECTORIES / "D14B" / codes],
        )
    return DirectoryCatalog([root])


def read_corpus(relative: str) -> str:
    """UTF-8 when the bytes are UTF-8 (RECADV_D01B declares UNOA but carries Chinese UTF-8),
    else Latin-1 (UNOC); character sets are the tokenizer's business, not this module's."""
    raw = (CORPUS / relative).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def corpus_findings(
    catalog: DirectoryCatalog, relative: str
) -> list[tuple[str, list[Finding]] | tuple[str, None]]:
    """(S009 identifier, findings or None without a schema) for each message of a file."""
    decimal_mark, segments = split_interchange(read_corpus(relative))
    syntax = 3
    if segments and segments[0].tag == "UNB" and segments[0].element(1, 2).isdigit():
        syntax = int(segments[0].element(1, 2))
    results: list[tuple[str, list[Finding]] | tuple[str, None]] = []
    for index, message in enumerate(messages_of(segments)):
        identifier = ":".join(message[0].elements[1][:4])
        schema = schema_for(message[0], catalog, syntax)
        if schema is None:
            results.append((identifier, None))
        else:
            results.append((identifier, validate_message(message, schema, decimal_mark, index)))
    return results


def signature(findings: list[Finding]) -> list[str]:
    """``code severity segment:tag element.component`` for each finding."""
    return [
        f"{f.code}{f.severity.value[0]} {f.location.segment}:{f.location.segment_tag} "
        f"{f.location.element}.{f.location.component}"
        for f in findings
    ]


# file -> per message: "ok", "no schema", or the exact finding signatures
CORPUS_EXPECTED: dict[str, list[str | list[str]]] = {
    "bots-plugins/APERAK_D96A_dutchic.edi": ["ok"],
    "bots-plugins/DESADV_D96A_desadv1.edi": [
        "ok",
        [
            "12w 33:RFF 1.1",
            "12w 37:RFF 1.1",
            "12w 44:NAD 1.None",
            "12w 45:NAD 1.None",
            "12w 46:NAD 1.None",
            "12w 80:DTM 1.1",
            "12w 96:DTM 1.1",
            "12w 133:DTM 1.1",
            "12w 149:DTM 1.1",
        ],
        ["12w 175:DTM 1.1"],
    ],
    "bots-plugins/INVOIC_D96A_dutchic.edi": ["ok"],
    "bots-plugins/INVOIC_D96A_invoic01.edi": ["ok", "ok"],
    "bots-plugins/INVOIC_D96A_invoic1.edi": [["12w 13:RFF 1.1", "12w 17:RFF 1.1"], "ok"],
    "bots-plugins/ORDERS_D96A_dutchic_0T0000000004.edi": [
        ["12w 3:BGM 1.1"],
        ["12w 12:BGM 1.1"],
        ["12w 3:BGM 1.1"],
    ],
    "bots-plugins/ORDERS_D96A_orders01.edi": [["12w 3:BGM 1.1"], ["12w 25:BGM 1.1"]],
    "bots-plugins/ORDERS_D96A_csvdemo_test.edi": [
        ["12w 3:BGM 1.1", "12w 18:TAX 2.1"],
        ["12w 33:BGM 1.1"],
        ["12w 49:BGM 1.1"],
        ["12w 58:BGM 1.1"],
    ],
    "generated/mock-edi_ORDERS_D96A_sent_over_AS2.edi": ["ok"],
    "generated/mock-edi_CONTRL_reply.edi": ["ok"],
    # mock-edi puts line-item FTX after PRI (SG30), which ORDRSP D96A does not allow
    "generated/mock-edi_ORDRSP_reply.edi": [
        ["15e 17:FTX None.None", "15e 24:FTX None.None", "15e 31:FTX None.None"]
    ],
    "generated/berrywave_CONTRL_for_synthetic_5msgs.edi": ["no schema"],  # CONTRL:D:96A
    "generated/synthetic_ORDERS_D96A_5msgs.edi": ["ok"] * 5,
    "generated/synthetic_ORDERS_D96A_5msgs_newlines.edi": ["ok"] * 5,
    "generated/synthetic_ORDERS_D96A_to_mock.edi": ["ok"],
    "php-edifact/DESADV_D96A.edi": ["no schema"],  # DESADV:0:96A, version "0"
    "php-edifact/DESADV_utf8.edi": ["no schema"],
    "php-edifact/PAORES_release_character.edi": ["no schema"],  # IATA PAORES 93:1
    "php-edifact/PAORES_wrapped.edi": ["no schema"],
    "pydifact/APERAK_D96A_v3_accepted.edi": ["ok"],
    "pydifact/APERAK_D96A_v3_rejected.edi": ["ok"],
    "pydifact/APERAK_D96A_v4_accepted.edi": ["ok"],
    "pydifact/APERAK_D96A_v4_rejected.edi": ["ok"],
    "pydifact/order.edi": ["ok"],  # UNA with comma decimal mark
    "pydifact/order2.edi": ["ok"],
    "pydifact/invoice1.edi": ["ok"],  # D97A, with the repaired composites
    "pydifact/invoice_with_colon_at_end.edi": ["ok"],  # the empty trailing component is no error
    "pydifact/wikipedia_en.edi": ["no schema"],
    "pydifact/sage_coala.ped": ["no schema"],  # INFENT D00B
    "smooks/INVOIC_D03B_with_UNA.edi": ["ok"],
    "smooks/ORDERS_D03B_Interchange.edi": ["ok"],
    # the negative smooks test: 36 DTM where ORDERS D03B allows 35
    "smooks/ORDERS_D03B_BAD.edi": [["35e 39:DTM None.None"]],
    # NAD+SU+...+CSP test d?'This is also a test section: 38 characters where C080 allows 35
    "smooks/RECADV_D01B.edi": [
        ["12w 9:RFF 1.1", "12w 11:RFF 1.1", "39e 13:NAD 4.1", "12w 14:RFF 1.1", "12w 23:RFF 1.1"]
    ],
}


@pytest.mark.parametrize("relative", sorted(CORPUS_EXPECTED))
def test_corpus_file(imported: DirectoryCatalog, relative: str) -> None:
    results = corpus_findings(imported, relative)
    outcome = [
        "no schema" if findings is None else signature(findings) or "ok" for _, findings in results
    ]
    assert outcome == CORPUS_EXPECTED[relative]


def test_corpus_expectations_cover_every_file() -> None:
    files = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix.lower() in (".edi", ".ped", ".txt")
    }
    special = {
        "bots-plugins/ORDERS_D96A_orders02_multi.edi",
        "bots-plugins/ORDERS_D96A_sap_idoc_1.edi",
        "bots-plugins/PRICAT_D96A_146.edi",
        "bots-plugins/SLSRPT_D96A_slsrpt01.edi",
        "php-edifact/ORDERS_D01B_example_order_ok.edi",
        "php-edifact/ORDERS_D01B_example_order_error.edi",
        "smooks/INVOIC_D96A_input.edi",
    }
    en16931 = {f for f in files if f.startswith("en16931-invoic-d14b/")}
    assert files == set(CORPUS_EXPECTED) | special | en16931


def test_en16931_invoices_d14b_are_valid(imported: DirectoryCatalog) -> None:
    names = sorted(p.name for p in (CORPUS / "en16931-invoic-d14b").glob("*.TXT"))
    assert len(names) == 11
    for name in names:
        results = corpus_findings(imported, f"en16931-invoic-d14b/{name}")
        assert [(ident, findings) for ident, findings in results] == [("INVOIC:D:14B:UN", [])]


def test_eancom_code_warnings_in_big_d96a_files(imported: DirectoryCatalog) -> None:
    # EANCOM subsets use codes of their own (50E, 352, VAT, ...): warnings only, no errors
    for relative in (
        "bots-plugins/ORDERS_D96A_orders02_multi.edi",
        "bots-plugins/ORDERS_D96A_sap_idoc_1.edi",
        "bots-plugins/PRICAT_D96A_146.edi",
        "bots-plugins/SLSRPT_D96A_slsrpt01.edi",
    ):
        for _, findings in corpus_findings(imported, relative):
            assert findings is not None
            assert {(f.code, f.severity) for f in findings} <= {("12", Severity.WARNING)}, relative


def _php(imported: DirectoryCatalog, name: str) -> list[Finding]:
    results = corpus_findings(imported, f"php-edifact/{name}")
    assert len(results) == 1 and results[0][0] == "ORDERS:D:01B:UN"
    findings = results[0][1]
    assert findings is not None
    return findings


def test_php_edifact_order_ok_only_breaks_the_d01b_unit_length(imported: DirectoryCatalog) -> None:
    # 6411 is an..3 in D01B; the file uses the 4-letter units GBND, PACK and SCHA
    findings = _php(imported, "ORDERS_D01B_example_order_ok.edi")
    assert len(findings) == 123
    assert {
        (f.code, f.location.segment_tag, f.location.element, f.location.component) for f in findings
    } == {("39", "QTY", 1, 3)}
    assert {f.text.split("'")[1] for f in findings} == {"GBND", "PACK", "SCHA"}


def test_php_edifact_order_error_gives_precise_findings(imported: DirectoryCatalog) -> None:
    ok = _php(imported, "ORDERS_D01B_example_order_ok.edi")
    error = _php(imported, "ORDERS_D01B_example_order_error.edi")
    extra = [f for f in error if f not in ok]
    # IMD+F++:::Hühnersuppe Konzentrat ohne:Einlage f Sup 1:10 und Soß 1:6 lost the release
    # characters before "1:10" and "1:6": C273 gets 7 components and 3453 (an..3) a long text
    assert brief(extra) == [("16", 360, "IMD", 3, 7), ("39", 360, "IMD", 3, 6)]
    assert (
        extra[0].text
        == "IMD element 3 (C273 Item description) has 7 components; the composite has 6"
    )
    assert extra[1].text.startswith(
        "IMD element 3 component 6 (3453 Language name code): '10 und So"
    )
    assert extra[1].text.endswith("is too long: 12 characters, format an..3")
    # "1:10" without release in the other IMD (segment 364) still fits C273: 3453 gets "10"
    assert len(error) == len(ok) + 2


def test_a_message_body_without_unh(imported: DirectoryCatalog) -> None:
    _, segments = split_interchange(read_corpus("smooks/INVOIC_D96A_input.edi"))
    schema = imported.schema("INVOIC", "D", "96A", "UN", 3)
    assert schema is not None
    findings = validate_message(segments, schema)
    assert (findings[0].code, findings[0].text) == (
        "13",
        "mandatory segment UNH is missing before BGM",
    )


def test_repaired_d97a_validates_pydifact_invoices(imported: DirectoryCatalog) -> None:
    # Without the repair (fill_from) the D97A rendering lacks 3039 in C082, 6345 in C504 and
    # 5375 in C509, and these two invoices would show findings in NAD, CUX and PRI.
    d97a = imported.directory("D97A")
    assert [r.id for r in d97a.composites["C082"].components] == ["3039", "1131", "3055"]
    for name in ("invoice1.edi", "invoice_with_colon_at_end.edi"):
        assert corpus_findings(imported, f"pydifact/{name}") == [("INVOIC:D:97A:UN", [])]


def test_corpus_messages_are_numbered_from_unb(imported: DirectoryCatalog) -> None:
    _, segments = split_interchange(read_corpus("smooks/ORDERS_D03B_BAD.edi"))
    assert (segments[0].tag, segments[0].number) == ("UNB", 1)
    assert segments[42].tag == "COM" and segments[42].repeats is not None


def test_shared_paths_exist() -> None:
    assert isinstance(CORPUS, Path) and CORPUS.is_dir() and DIRECTORIES.is_dir()
