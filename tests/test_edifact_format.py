"""`EdifactFormat` and its reader: sniffing, the envelope, streaming units, validation,
translation, trailer findings and several interchanges in one payload."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest

from bench.generate import GeneratedStream, iter_orders_interchange
from edi_gateway.formats.base import Limits, Translation
from edi_gateway.formats.edifact.contrl import interchanges_of
from edi_gateway.formats.edifact.format import EdifactFormat, EdifactFormatSettings, EdifactReader
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.model import DocumentKind, Finding, Identifier, PartyRole, Severity
from tests.support import SHARED

GATEWAY = Identifier(value="EDIGATEWAY", scheme="ZZZ")
UNA = "UNA:+.? '"


def order(ref: str, number: str, price: str = "12.50", buyer: str = "8801234000017") -> str:
    """A valid ORDERS D96A message."""
    body = [
        f"UNH+{ref}+ORDERS:D:96A:UN",
        f"BGM+220+{number}+9",
        "DTM+137:20261126:102",
        f"NAD+BY+{buyer}::9",
        "NAD+SU+8809876000015::9",
        "LIN+1++4000862141404:EN",
        "QTY+21:10",
        f"PRI+AAA:{price}",
        "UNS+S",
        "CNT+2:1",
    ]
    body.append(f"UNT+{len(body) + 1}+{ref}")
    return "'".join(body) + "'"


def interchange(
    *messages: str,
    una: str = UNA,
    syntax: str = "UNOC:3",
    sender: str = "8809876000015:14",
    recipient: str = "EDIGATEWAY:ZZZ",
    reference: str = "IC0001",
    tail: str = "",
    unz: bool = True,
) -> str:
    unb = f"UNB+{syntax}+{sender}+{recipient}+261126:0900+{reference}{tail}'"
    end = f"UNZ+{len(messages)}+{reference}'" if unz else ""
    return una + unb + "".join(messages) + end


def settings(**changes: object) -> EdifactFormatSettings:
    base: dict[str, object] = {"own_ids": (GATEWAY,)}
    base.update(changes)
    return EdifactFormatSettings(**base)  # type: ignore[arg-type]


def open_text(text: str, fmt: EdifactFormat | None = None) -> EdifactReader:
    fmt = fmt or EdifactFormat(settings())
    return fmt.open(io.BytesIO(text.encode("latin-1")), Limits())


def codes(findings: list[Finding]) -> list[tuple[str, int | None, str | None]]:
    return [(f.code, f.location.segment, f.location.segment_tag) for f in findings]


# -- sniff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"UNA:+.? 'UNB+UNOC:3+A+B+261126:0900+1'",
        b"UNB+UNOA:2+A+B+261126:0900+1'",
        b"\xef\xbb\xbf\r\n  UNA:+.? 'UNB",
        b"DOC+01=serveur+02=x'UNA:+,? 'UNB+UNOL:3+9:5+9:146+240704:1032+1'",
        b"some header line\nUNB+UNOC:3+A:14+B:14+261126:0900+1'",
    ],
)
def test_sniff_recognises_interchanges(head: bytes) -> None:
    assert EdifactFormat().sniff(head)


@pytest.mark.parametrize(
    "head",
    [
        b'{"kind": "order", "note": "UNB+UNOC:3"}',
        b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>",
        b"Dear supplier, UNB is short for interchange header.",
        b"BGM+220+PO1+9'DTM+137:20261126:102'",  # a body without envelope
        b"",
    ],
)
def test_sniff_refuses_other_payloads(head: bytes) -> None:
    assert not EdifactFormat().sniff(head)


def test_sniff_finds_the_interchange_after_sage_coalas_header() -> None:
    data = (SHARED / "corpus" / "edifact" / "pydifact" / "sage_coala.ped").read_bytes()
    assert not data.startswith((b"UNA", b"UNB")) and EdifactFormat().sniff(data[:4096])


# -- envelope -------------------------------------------------------------------------------


def test_envelope_of_the_first_interchange() -> None:
    reader = open_text(interchange(order("1", "PO1"), tail="++ORDERS++1++1"))
    env = reader.envelope
    assert env.standard == "edifact"
    assert env.sender == [Identifier(value="8809876000015", scheme="14")]
    assert env.recipient == [GATEWAY]
    assert env.control_reference == "IC0001"
    assert env.test is True
    assert env.prepared_at is not None and env.prepared_at.isoformat() == "2026-11-26T09:00:00"
    assert env.syntax["syntax_identifier"] == "UNOC"
    assert env.syntax["syntax_version"] == "3"
    assert env.syntax["una"] is True
    assert env.syntax["application_reference"] == "ORDERS"
    [facts] = interchanges_of(env)
    assert facts.ack_requested is True
    assert facts.delimiters.una() == "UNA:+.? '"
    assert env.findings == []


def test_a_recipient_other_than_the_gateway_is_refused() -> None:
    reader = open_text(interchange(order("1", "PO1"), recipient="4000000000001:14"))
    [finding] = reader.envelope.findings
    assert (finding.code, finding.severity) == ("7", Severity.FATAL)
    assert (finding.location.segment_tag, finding.location.element) == ("UNB", 3)
    assert "EDIGATEWAY:ZZZ" in finding.text and "4000000000001:14" in finding.text


def test_the_recipient_qualifier_must_agree_when_both_give_one() -> None:
    assert open_text(interchange(order("1", "PO1"), recipient="EDIGATEWAY")).envelope.findings == []
    wrong = open_text(interchange(order("1", "PO1"), recipient="EDIGATEWAY:14"))
    assert [f.code for f in wrong.envelope.findings] == ["7"]


def test_without_own_ids_the_recipient_is_not_checked() -> None:
    fmt = EdifactFormat(EdifactFormatSettings())
    reader = open_text(interchange(order("1", "PO1"), recipient="ANYONE"), fmt)
    assert reader.envelope.findings == []


def test_a_payload_without_interchange_has_a_fatal_finding_and_no_units() -> None:
    reader = open_text("BGM+220+PO1+9'DTM+137:20261126:102'")
    assert reader.envelope.control_reference is None
    assert any(f.code == "13" and f.severity == Severity.FATAL for f in reader.envelope.findings)
    assert list(reader.units()) == []


# -- units ---------------------------------------------------------------------------------


def test_one_unit_per_message_with_its_kind_and_reference() -> None:
    reader = open_text(interchange(order("M1", "PO1"), order("M2", "PO2")))
    units = list(reader.units())
    assert [(u.index, u.reference, u.message_type, u.kind) for u in units] == [
        (0, "M1", "ORDERS:D:96A:UN", DocumentKind.ORDER),
        (1, "M2", "ORDERS:D:96A:UN", DocumentKind.ORDER),
    ]
    assert reader.trailer_findings() == []


def test_units_stream_without_reading_the_whole_payload() -> None:
    stream = GeneratedStream(iter_orders_interchange(5000))
    fmt = EdifactFormat(EdifactFormatSettings())
    reader = fmt.open(stream, Limits())  # type: ignore[arg-type]
    units = reader.units()
    first = next(units)
    assert first.index == 0
    assert stream.bytes_read < 200_000  # of about 6 MB
    second = next(units)
    with pytest.raises(RuntimeError, match="released"):
        reader.validate(first)  # its segments went when the next unit was read
    assert reader.validate(second) == []


def test_the_benchmark_interchange_is_valid_d96a_as_generated() -> None:
    # every fourth message has released values; 400 messages cover each of them many times
    fmt = EdifactFormat(EdifactFormatSettings())
    reader = fmt.open(GeneratedStream(iter_orders_interchange(400)), Limits())  # type: ignore[arg-type]
    count = 0
    for unit in reader.units():
        assert [f for f in [*unit.findings, *reader.validate(unit)] if f.rejects] == []
        count += 1
    assert count == 400 and reader.trailer_findings() == []


def test_the_interchanges_of_a_payload_list_their_control_references() -> None:
    reader = open_text(
        interchange(order("M1", "PO1"), reference="A1")
        + interchange(order("M2", "PO2"), reference="A2")
    )
    references = reader.envelope.syntax["control_references"]
    assert references == ["A1"]  # read so far
    assert [u.reference for u in reader.units()] == ["M1", "M2"]
    assert references == ["A1", "A2"]


def test_a_partners_contrl_is_handled_not_translated() -> None:
    contrl = "UNH+1+CONTRL:D:3:UN'UCI+OUR0001+EDIGATEWAY:ZZZ+8809876000015:14+4+26'UNT+3+1'"
    reader = open_text(interchange(contrl))
    [unit] = reader.units()
    assert reader.validate(unit) == []
    translation = reader.translate(unit)
    assert translation.document is None and translation.findings == []
    assert (
        translation.handled
        == "CONTRL received: our interchange OUR0001 was rejected (0085 code 26)"
    )


def test_a_broken_unt_count_is_a_finding_of_its_unit() -> None:
    bad = order("M2", "PO2").replace("UNT+11+M2", "UNT+12+M2")
    reader = open_text(interchange(order("M1", "PO1"), bad))
    units = list(reader.units())
    assert units[0].findings == []
    [finding] = units[1].findings
    assert (finding.code, finding.location.segment_tag, finding.location.message) == (
        "29",
        "UNT",
        1,
    )


def test_a_missing_unz_is_a_trailer_finding() -> None:
    reader = open_text(interchange(order("M1", "PO1"), unz=False))
    assert len(list(reader.units())) == 1
    [finding] = reader.trailer_findings()
    assert (finding.code, finding.severity) == ("13", Severity.FATAL)
    assert "truncated" in finding.text


def test_a_wrong_unz_count_is_a_trailer_finding() -> None:
    text = interchange(order("M1", "PO1")).replace("UNZ+1+", "UNZ+2+")
    reader = open_text(text)
    list(reader.units())
    assert codes(reader.trailer_findings()) == [("29", 13, "UNZ")]


def test_trailer_findings_read_what_the_caller_left() -> None:
    reader = open_text(interchange(order("M1", "PO1"), order("M2", "PO2"), unz=False))
    next(reader.units())
    assert [f.code for f in reader.trailer_findings()] == ["13"]


# -- validate and translate ------------------------------------------------------------------


def test_a_valid_order_validates_clean() -> None:
    reader = open_text(interchange(order("M1", "PO1")))
    [unit] = list(reader.units())
    assert reader.validate(unit) == []


def test_validation_uses_the_decimal_mark_from_una() -> None:
    comma = interchange(order("M1", "PO1", price="12,50"), una="UNA:+,? '")
    reader = open_text(comma)
    [unit] = list(reader.units())
    assert reader.validate(unit) == []
    dot = open_text(interchange(order("M1", "PO1", price="12.50"), una="UNA:+,? '"))
    [unit] = list(dot.units())
    [finding] = dot.validate(unit)
    assert (finding.code, finding.location.segment_tag) == ("12", "PRI")
    assert "decimal mark is ','" in finding.text


def test_a_defect_is_located_in_the_interchange() -> None:
    bad = order("M1", "PO1").replace("QTY+21:10", "QTY+21:TEN")
    reader = open_text(interchange(bad))
    [unit] = list(reader.units())
    [finding] = reader.validate(unit)
    assert (finding.code, finding.location.segment, finding.location.segment_tag) == (
        "37",
        8,
        "QTY",
    )
    assert (finding.location.element, finding.location.component) == (1, 2)


def test_an_unknown_message_type_is_a_finding() -> None:
    message = "UNH+1+ORDERS:D:93A:UN'BGM+220+PO1+9'UNT+3+1'"
    reader = open_text(interchange(message))
    [unit] = list(reader.units())
    [finding] = reader.validate(unit)
    assert (finding.code, finding.severity, finding.location.segment_tag) == (
        "14",
        Severity.ERROR,
        "UNH",
    )
    assert "ORDERS:D:93A:UN" in finding.text


def test_without_a_translator_every_message_says_no_mapping() -> None:
    reader = open_text(interchange(order("M1", "PO1")))
    [unit] = list(reader.units())
    translation = reader.translate(unit)
    assert translation.document is None
    assert [(f.code, f.source) for f in translation.findings] == [("no-mapping", "mapping")]


def test_the_translator_gets_the_segments_and_the_decimal_mark() -> None:
    calls: list[tuple[list[str], str, int | None]] = []

    def translator(segments: Sequence[Segment], mark: str, index: int | None) -> Translation:
        calls.append(([s.tag for s in segments], mark, index))
        return Translation(None, [])

    fmt = EdifactFormat(settings(translator=translator))
    reader = open_text(interchange(order("M1", "PO1", price="1,5"), una="UNA:+,? '"), fmt)
    [unit] = list(reader.units())
    reader.translate(unit)
    assert calls == [
        (["UNH", "BGM", "DTM", "NAD", "NAD", "LIN", "QTY", "PRI", "UNS", "CNT", "UNT"], ",", 0)
    ]


def test_the_mapping_engine_translates_an_order() -> None:
    from edi_gateway.mapping import translate_message

    fmt = EdifactFormat(settings(translator=translate_message))
    reader = open_text(interchange(order("M1", "PO-77")), fmt)
    [unit] = list(reader.units())
    translation = reader.translate(unit)
    assert translation.document is not None and translation.document.id == "PO-77"
    buyer = translation.document.party(PartyRole.BUYER)
    assert buyer is not None
    assert buyer.identifiers == [Identifier(value="8801234000017", scheme="0088")]


# -- several interchanges ---------------------------------------------------------------------


def test_every_interchange_of_a_payload_is_read_and_units_are_numbered_on() -> None:
    first = interchange(order("M1", "PO1"), order("M2", "PO2"), reference="IC1")
    second = interchange(order("M1", "PO3"), una="UNA:+,? '", reference="IC2")
    reader = open_text(first + "\r\n" + second)
    units = list(reader.units())
    assert [(u.index, u.reference) for u in units] == [(0, "M1"), (1, "M2"), (2, "M1")]
    assert reader.trailer_findings() == []
    facts = interchanges_of(reader.envelope)
    assert [(f.control_reference, f.first_unit, len(f.messages)) for f in facts] == [
        ("IC1", 0, 2),
        ("IC2", 2, 1),
    ]
    assert facts[1].delimiters.decimal == ","
    assert reader.envelope.control_reference == "IC1"


def test_later_findings_carry_the_unit_index_of_the_payload() -> None:
    bad = order("M1", "PO3").replace("UNT+11+M1", "UNT+9+M1")
    reader = open_text(interchange(order("M1", "PO1"), reference="A") + interchange(bad))
    units = list(reader.units())
    assert [f.location.message for f in units[1].findings] == [1]


def test_a_later_interchange_from_another_sender_is_refused() -> None:
    first = interchange(order("M1", "PO1"), reference="IC1")
    second = interchange(order("M1", "PO2"), sender="4000000000001:14", reference="IC2")
    reader = open_text(first + second)
    list(reader.units())
    [finding] = reader.trailer_findings()
    assert (finding.code, finding.severity, finding.location.element) == (
        "23",
        Severity.FATAL,
        2,
    )
    assert "'IC2'" in finding.text


def test_a_later_interchange_for_someone_else_is_refused() -> None:
    first = interchange(order("M1", "PO1"), reference="IC1")
    second = interchange(order("M1", "PO2"), recipient="OTHER:ZZZ", reference="IC2")
    reader = open_text(first + second)
    list(reader.units())
    assert [f.code for f in reader.trailer_findings()] == ["7"]
    assert [f.code for f in interchanges_of(reader.envelope)[1].findings] == ["7"]


def test_groups_are_remembered_for_the_contrl() -> None:
    text = (
        UNA
        + "UNB+UNOC:3+8809876000015:14+EDIGATEWAY:ZZZ+261126:0900+IC9'"
        + "UNG+ORDERS+SALES:14+EDIGATEWAY:ZZZ+261126:0900+G1+UN+D:96A'"
        + order("M1", "PO1")
        + "UNE+1+G1'UNZ+1+IC9'"
    )
    reader = open_text(text)
    assert len(list(reader.units())) == 1
    assert reader.trailer_findings() == []
    [facts] = interchanges_of(reader.envelope)
    assert [(g.reference, g.sender, g.recipient) for g in facts.groups] == [
        ("G1", ("SALES", "14"), ("EDIGATEWAY", "ZZZ"))
    ]
    assert facts.messages[0].group == 0


def test_the_format_takes_the_configuration(tmp_path: object) -> None:
    from pathlib import Path

    from edi_gateway.config import load
    from edi_gateway.samples import write_sample_config

    directory = Path(str(tmp_path)) / "config"
    write_sample_config(directory, port=0)
    fmt = EdifactFormat(load(directory / "gateway.toml"))
    assert fmt.name == "edifact"
    assert fmt.settings.own_ids == (GATEWAY,)


# -- inspect --------------------------------------------------------------------------------


def test_inspect_prints_the_tree_with_names_and_findings() -> None:
    from edi_gateway.formats.edifact.inspect import render

    bad = order("M2", "PO2").replace("QTY+21:10", "QTY+21:TEN")
    text = render(interchange(order("M1", "PO1"), bad).encode("latin-1"))
    lines = text.splitlines()
    assert lines[:3] == [
        "UNA :+.? '",
        "UNB Interchange header  [1]",
        "  S001 Syntax identifier: UNOC:3",
    ]
    assert "  UNH Message header  [2]  ORDERS:D:96A:UN" in lines
    assert "    SG2 (NAD)" in lines
    assert "      NAD Name and address  [5]" in lines
    assert "        C082 Party identification details: 8801234000017::9" in lines
    assert "    SG25 (LIN)" in lines
    qty = lines.index("      QTY Quantity  [19]")
    assert lines[qty + 1] == "        C186 Quantity details: 21:TEN"
    assert lines[qty + 2].startswith("        ! error 37: QTY element 1 component 2 (6060")
    assert lines[-3:] == [
        "UNZ Interchange trailer  [24]",
        "  0036 Interchange control count: 2",
        "  0020 Interchange control reference: IC0001",
    ]


def test_inspect_shows_interchange_findings_and_unknown_messages() -> None:
    from edi_gateway.formats.edifact.inspect import render

    unknown = "UNH+1+ZZZZZZ:D:96A:UN'BGM+220+PO1+9'UNT+3+1'"
    text = render(interchange(unknown, unz=False).encode("latin-1"))
    assert "    (no directory for ZZZZZZ:D:96A:UN: names unknown)" in text
    assert "    BGM  [3]" in text
    assert text.rstrip().endswith("The interchange is truncated.")
