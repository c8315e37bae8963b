"""CONTRL and APERAK: what they say, and that they are written the partner's way."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pydifact.segmentcollection import Interchange as PydifactInterchange

from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    AckPolicy,
    InterchangeOutcome,
    Limits,
    UnitOutcome,
    Verdict,
)
from edi_gateway.formats.edifact.contrl import control_reference
from edi_gateway.formats.edifact.directory import DirectoryCatalog
from edi_gateway.formats.edifact.envelope import EnvelopeChecker, Message
from edi_gateway.formats.edifact.format import EdifactFormat, EdifactFormatSettings
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.formats.edifact.structure import schema_for, validate_message
from edi_gateway.formats.edifact.tokenizer import Tokenizer
from edi_gateway.model import Finding, Identifier, Location, Severity, rejects
from tests.test_edifact_format import interchange, order

# pydifact's parser looks for its own XML directories, which its wheel does not ship
PYDIFACT_WARNINGS = pytest.mark.filterwarnings(
    "ignore::pydifact.exceptions.MissingImplementationWarning"
)
NOW = dt.datetime(2026, 11, 26, 13, 45, tzinfo=dt.UTC)
FMT = EdifactFormat(
    EdifactFormatSettings(
        own_ids=(Identifier(value="EDIGATEWAY", scheme="ZZZ"),), clock=lambda: NOW
    )
)
ALWAYS = AckOptions(syntax_ack=AckPolicy.ALWAYS, application_ack=AckPolicy.ALWAYS)
CATALOG = DirectoryCatalog()


def unknown_buyer(index: int) -> Finding:
    return Finding(
        code="unknown-buyer",
        severity=Severity.ERROR,
        text="no public institution is registered with the buyer's identifiers (0088:1)",
        location=Location(message=index),
        source="route",
    )


def process(
    data: str | bytes,
    application: dict[int, list[Finding]] | None = None,
    gateway_findings: list[Finding] | None = None,
    duplicate: bool = False,
) -> InterchangeOutcome:
    """What the pipeline would make of `data`: syntax findings from the reader, application
    findings as given."""
    raw = data.encode("latin-1") if isinstance(data, str) else data
    reader = FMT.open(io.BytesIO(raw), Limits())
    findings = [*reader.envelope.findings, *(gateway_findings or [])]
    units = []
    if not duplicate and not rejects(findings):  # as the pipeline: a fatal envelope stops
        for unit in reader.units():
            found = [*unit.findings, *reader.validate(unit)]
            found += (application or {}).get(unit.index, [])
            verdict = Verdict.REJECTED if rejects(found) else Verdict.ACCEPTED
            units.append(
                UnitOutcome(
                    unit.index,
                    unit.message_type,
                    unit.reference,
                    verdict,
                    found,
                    business_id=f"PO{unit.index + 1}",
                )
            )
        findings += reader.trailer_findings()
    if duplicate:
        verdict = Verdict.DUPLICATE
        findings = [*reader.envelope.findings, *(gateway_findings or [])]
    elif rejects(findings) or all(u.verdict == Verdict.REJECTED for u in units):
        verdict = Verdict.REJECTED
    else:
        verdict = Verdict.ACCEPTED
    return InterchangeOutcome(
        "01JDQX7ICTEST", "hanil-office", NOW, "0" * 64, reader.envelope, verdict, findings, units
    )


def acks(outcome: InterchangeOutcome, options: AckOptions = ALWAYS) -> dict[str, AckDocument]:
    found = FMT.acknowledge(outcome, options)
    by_kind = {a.kind: a for a in found}
    assert len(by_kind) == len(found)
    return by_kind


def segments_of(ack: AckDocument, codec: str = "latin-1") -> list[str]:
    """The segments as text, for exact comparisons (separators of the default UNA)."""
    text = ack.content.decode(codec)
    if text.startswith("UNA"):
        text = text[9:]
    return [s for s in text.split("'") if s]


def parsed_segments(ack: AckDocument) -> list[Segment]:
    return list(Tokenizer.from_bytes(ack.content))


def assert_valid(ack: AckDocument) -> None:
    checker = EnvelopeChecker(io.BytesIO(ack.content))
    messages = [e for e in checker if isinstance(e, Message)]
    assert messages and checker.findings == []
    for message in messages:
        assert message.findings == []
        version = int(message.interchange.syntax_version)
        schema = schema_for(message.segments[0], CATALOG, version)
        assert schema is not None
        assert [f for f in validate_message(message.segments, schema) if f.rejects] == []


TWO_GOOD = interchange(order("M1", "PO1"), order("M2", "PO2"), reference="IC77")
BROKEN_QTY = order("M2", "PO2").replace("QTY+21:10", "QTY+21:TEN")


# -- CONTRL ---------------------------------------------------------------------------------


def test_an_accepted_interchange_gets_uci_7_and_a_ucm_per_message() -> None:
    found = acks(process(TWO_GOOD))
    contrl = found["contrl"]
    reference = control_reference("01JDQX7ICTEST", "contrl/1")
    assert segments_of(contrl) == [
        f"UNB+UNOC:3+EDIGATEWAY:ZZZ+8809876000015:14+261126:1345+{reference}",
        "UNH+1+CONTRL:D:3:UN",
        "UCI+IC77+8809876000015:14+EDIGATEWAY:ZZZ+7",
        "UCM+M1+ORDERS:D:96A:UN+7",
        "UCM+M2+ORDERS:D:96A:UN+7",
        "UNT+5+1",
        f"UNZ+1+{reference}",
    ]
    assert contrl.positive and contrl.content.startswith(b"UNA:+.? 'UNB")
    assert contrl.media_type == "application/EDIFACT"
    assert_valid(contrl)


def test_a_broken_message_gets_ucm_4_pointing_at_segment_element_and_component() -> None:
    contrl = acks(process(interchange(order("M1", "PO1"), BROKEN_QTY)))["contrl"]
    lines = segments_of(contrl)
    assert lines[2:6] == [
        "UCI+IC0001+8809876000015:14+EDIGATEWAY:ZZZ+7",
        "UCM+M1+ORDERS:D:96A:UN+7",
        "UCM+M2+ORDERS:D:96A:UN+4",
        ["UCS+7", "UCD+37+2:2"][0],
    ]
    assert lines[6] == "UCD+37+2:2"  # QTY is the 7th segment; C186 is position 2 (tag = 1)
    assert not contrl.positive
    assert_valid(contrl)


def test_a_segment_level_defect_is_coded_on_ucs() -> None:
    extra = order("M1", "PO1").replace("UNS+S", "UNS+S'UNS+S").replace("UNT+11", "UNT+12")
    contrl = acks(process(interchange(extra)))["contrl"]
    # the second UNS is the 10th segment of the message: a segment repeated too often
    assert segments_of(contrl)[3:5] == ["UCM+M1+ORDERS:D:96A:UN+4", "UCS+10+35"]
    assert_valid(contrl)


def test_a_message_cut_off_before_its_unt_is_answered_on_the_ucm() -> None:
    cut = order("M1", "PO1").split("UNT+")[0]
    contrl = acks(process(interchange(cut, order("M2", "PO2"))))["contrl"]
    assert "UCM+M1+ORDERS:D:96A:UN+4+13" in segments_of(contrl)
    assert_valid(contrl)


def test_an_interchange_for_someone_else_is_rejected_at_unb() -> None:
    text = interchange(order("M1", "PO1"), recipient="4000000000001:14")
    outcome = process(text)
    assert outcome.units == []  # the pipeline stops at a fatal envelope
    contrl = acks(outcome)["contrl"]
    assert segments_of(contrl)[2] == "UCI+IC0001+8809876000015:14+4000000000001:14+4+7+UNB+4:1"
    assert not contrl.positive
    assert_valid(contrl)


def test_a_wrong_unz_count_rejects_the_interchange_and_lists_only_rejected_messages() -> None:
    text = interchange(order("M1", "PO1"), BROKEN_QTY).replace("UNZ+2+", "UNZ+3+")
    lines = segments_of(acks(process(text))["contrl"])
    assert lines[2] == "UCI+IC0001+8809876000015:14+EDIGATEWAY:ZZZ+4+29+UNZ+2:1"
    assert [s for s in lines if s.startswith("UCM")] == ["UCM+M2+ORDERS:D:96A:UN+4"]


def test_a_duplicate_interchange_is_answered_with_code_26_and_nothing_else() -> None:
    duplicate = Finding(
        code="duplicate",
        severity=Severity.FATAL,
        text="this interchange was already received as 01JDQ",
        source="intake",
    )
    found = acks(process(TWO_GOOD, gateway_findings=[duplicate], duplicate=True))
    assert set(found) == {"contrl"}
    lines = segments_of(found["contrl"])
    assert lines[2] == "UCI+IC77+8809876000015:14+EDIGATEWAY:ZZZ+4+26"
    assert not any(s.startswith("UCM") for s in lines)


def test_an_unknown_sender_is_code_23() -> None:
    mismatch = Finding(
        code="sender-mismatch",
        severity=Severity.FATAL,
        text="the envelope names another sender",
        source="envelope",
    )
    lines = segments_of(acks(process(TWO_GOOD, gateway_findings=[mismatch]))["contrl"])
    assert lines[2] == "UCI+IC77+8809876000015:14+EDIGATEWAY:ZZZ+4+23"


@PYDIFACT_WARNINGS
def test_the_partners_separators_and_release_character_are_echoed() -> None:
    message = (
        "UNH|R\\~1|ORDERS*D*96A*UN~BGM|220|PO1|9~DTM|137*20261126*102~NAD|BY|8801234000017**9~"
        "LIN|1||4000862141404*EN~QTY|21*10~PRI|AAA*12,5~UNS|S~CNT|2*1~UNT|10|R\\~1~"
    )
    text = (
        "UNA*|,\\ ~UNB|UNOC*3|8809876000015*14|EDIGATEWAY*ZZZ|261126*0900|IC5~"
        + message
        + "UNZ|1|IC5~"
    )
    outcome = process(text)
    assert outcome.units[0].reference == "R~1" and outcome.units[0].verdict == Verdict.ACCEPTED
    contrl = acks(outcome)["contrl"]
    content = contrl.content.decode("latin-1")
    assert content.startswith("UNA*|,\\ ~UNB|UNOC*3|EDIGATEWAY*ZZZ|8809876000015*14|")
    assert "UCM|R\\~1|ORDERS*D*96A*UN|7~" in content
    parsed = PydifactInterchange.from_str(content)
    assert [s.tag for s in parsed.segments][:3] == ["UNH", "UCI", "UCM"]
    assert parsed.segments[2].elements[0] == "R~1"


def test_no_una_is_written_when_the_partner_sent_none() -> None:
    contrl = acks(process(interchange(order("M1", "PO1"), una="")))["contrl"]
    assert contrl.content.startswith(b"UNB+UNOC:3+EDIGATEWAY:ZZZ+")


def test_syntax_4_gets_the_version_4_contrl_and_a_four_digit_year() -> None:
    text = interchange(order("M*1", "PO1"), syntax="UNOC:4", una="UNA:+.? '")
    outcome = process(text)
    contrl = acks(outcome)["contrl"]
    lines = segments_of(contrl)
    assert lines[0].startswith("UNB+UNOC:4+EDIGATEWAY:ZZZ+8809876000015:14+20261126:1345+")
    assert lines[1] == "UNH+1+CONTRL:4:1:UN"
    assert_valid(contrl)


def test_the_syntax_4_repetition_separator_is_released() -> None:
    text = interchange(order("M?*1", "PO1"), syntax="UNOC:4", una="UNA:+.?*'")
    outcome = process(text)
    assert outcome.units[0].reference == "M*1"
    assert b"UCM+M?*1+ORDERS:D:96A:UN+7'" in acks(outcome)["contrl"].content


def test_routing_addresses_are_swapped_too() -> None:
    text = interchange(
        order("M1", "PO1"), sender="8809876000015:14:SALES", recipient="EDIGATEWAY:ZZZ:IN"
    )
    lines = segments_of(acks(process(text))["contrl"])
    assert lines[0].startswith("UNB+UNOC:3+EDIGATEWAY:ZZZ:SALES+8809876000015:14:IN+")


def test_the_test_indicator_is_echoed() -> None:
    text = interchange(order("M1", "PO1"), tail="++++++1")
    assert segments_of(acks(process(text))["contrl"])[0].endswith("++++++1")


def test_groups_are_answered_with_ucf() -> None:
    text = (
        "UNA:+.? 'UNB+UNOC:3+8809876000015:14+EDIGATEWAY:ZZZ+261126:0900+IC9'"
        "UNG+ORDERS+SALES:14+EDIGATEWAY:ZZZ+261126:0900+G1+UN+D:96A'"
        + order("M1", "PO1")
        + "UNE+1+G1'UNZ+1+IC9'"
    )
    contrl = acks(process(text))["contrl"]
    assert segments_of(contrl)[2:5] == [
        "UCI+IC9+8809876000015:14+EDIGATEWAY:ZZZ+7",
        "UCF+G1+SALES:14+EDIGATEWAY:ZZZ+7",
        "UCM+M1+ORDERS:D:96A:UN+7",
    ]
    assert_valid(contrl)


def test_each_interchange_of_a_payload_gets_its_own_contrl() -> None:
    first = interchange(order("M1", "PO1"), reference="IC1")
    second = interchange(BROKEN_QTY, una="UNA:+,? '", reference="IC2")
    found = FMT.acknowledge(process(first + second), ALWAYS)
    contrls = [a for a in found if a.kind == "contrl"]
    assert [a.filename for a in contrls] == [
        "CONTRL-01JDQX7ICTEST-1.edi",
        "CONTRL-01JDQX7ICTEST-2.edi",
    ]
    assert [a.positive for a in contrls] == [True, False]
    assert contrls[1].content.startswith(b"UNA:+,? '")
    assert b"UCI+IC2+" in contrls[1].content and b"UCM+M2+ORDERS:D:96A:UN+4'" in contrls[1].content


def test_a_contrl_is_never_answered_with_a_contrl() -> None:
    message = "UNH+1+CONTRL:D:3:UN'UCI+77+EDIGATEWAY:ZZZ+8809876000015:14+7'UNT+3+1'"
    assert "contrl" not in acks(process(interchange(message)))


def test_contrl_options() -> None:
    good = process(TWO_GOOD)
    bad = process(interchange(BROKEN_QTY))
    never = AckOptions(syntax_ack=AckPolicy.NEVER, application_ack=AckPolicy.NEVER)
    on_error = AckOptions(syntax_ack=AckPolicy.ON_ERROR, application_ack=AckPolicy.NEVER)
    assert FMT.acknowledge(bad, never) == []
    assert FMT.acknowledge(good, on_error) == []
    assert [a.kind for a in FMT.acknowledge(bad, on_error)] == ["contrl"]
    asked = process(interchange(order("M1", "PO1"), tail="++++1"))  # UNB 0031 = 1
    assert [a.kind for a in FMT.acknowledge(asked, on_error)] == ["contrl"]


def test_the_acknowledgement_reference_is_stable_and_fits_every_charset() -> None:
    first = control_reference("01JDQX7ICTEST", "contrl/1")
    assert first == control_reference("01JDQX7ICTEST", "contrl/1")
    assert first != control_reference("01JDQX7ICTEST", "contrl/2")
    assert len(first) == 14 and first.isalnum() and first.upper() == first


# -- APERAK ---------------------------------------------------------------------------------


@PYDIFACT_WARNINGS
def test_an_application_rejection_gets_an_aperak_and_a_positive_ucm() -> None:
    outcome = process(TWO_GOOD, application={1: [unknown_buyer(1)]})
    found = acks(outcome, AckOptions())  # CONTRL always, APERAK on error
    assert "UCM+M2+ORDERS:D:96A:UN+7" in segments_of(found["contrl"])
    aperak = found["aperak"]
    reference = control_reference("01JDQX7ICTEST", "aperak/1")
    sentence = (
        "unknown-buyer: no public institution is registered with the buyer's identifiers (0088:1)"
    )
    assert [(s.tag, s.elements) for s in parsed_segments(aperak)] == [
        (
            "UNB",
            [
                ["UNOC", "3"],
                ["EDIGATEWAY", "ZZZ"],
                ["8809876000015", "14"],
                ["261126", "1345"],
                [reference],
                [""],
                ["APERAK"],
            ],
        ),
        ("UNH", [["1"], ["APERAK", "D", "96A", "UN"]]),
        ("BGM", [[""], [f"{reference}-1"], ["27"]]),
        ("DTM", [["137", "202611261345", "203"]]),
        ("RFF", [["ACW", "M2"]]),
        ("RFF", [["ON", "PO2"]]),
        ("ERC", [["BUYER"]]),
        ("FTX", [["AAO"], [""], [""], [sentence[:70], sentence[70:]]]),
        ("UNT", [["8"], ["1"]]),
        ("UNZ", [["1"], [reference]]),
    ]
    assert not aperak.positive
    assert_valid(aperak)
    parsed = PydifactInterchange.from_str(aperak.content.decode("latin-1"))
    [message] = list(parsed.get_messages())
    assert message.type == "APERAK"


def test_a_long_sentence_is_cut_into_five_parts_of_70() -> None:
    long = unknown_buyer(0).model_copy(update={"text": "x" * 400})
    aperak = acks(process(TWO_GOOD, application={0: [long]}))["aperak"]
    [ftx] = [s for s in parsed_segments(aperak) if s.tag == "FTX"]
    parts = ftx.elements[3]
    assert len(parts) == 5 and all(len(p) == 70 for p in parts)
    assert parts[0].startswith("unknown-buyer: xxx")
    assert_valid(aperak)


def test_messages_with_syntax_errors_get_no_aperak() -> None:
    outcome = process(interchange(order("M1", "PO1"), BROKEN_QTY))
    assert "aperak" not in acks(outcome, AckOptions())
    always = acks(outcome)["aperak"]  # the good message only, as accepted
    lines = segments_of(always)
    assert [s for s in lines if s.startswith(("BGM", "RFF+ACW"))] == [
        f"BGM++{control_reference('01JDQX7ICTEST', 'aperak/1')}-1+29",
        "RFF+ACW:M1",
    ]
    assert always.positive


def test_aperak_options() -> None:
    rejected = process(TWO_GOOD, application={0: [unknown_buyer(0)]})
    never = AckOptions(syntax_ack=AckPolicy.NEVER, application_ack=AckPolicy.NEVER)
    assert FMT.acknowledge(rejected, never) == []
    accepted = process(TWO_GOOD)
    on_error = AckOptions(syntax_ack=AckPolicy.NEVER, application_ack=AckPolicy.ON_ERROR)
    assert FMT.acknowledge(accepted, on_error) == []
    assert len(segments_of(acks(accepted)["aperak"])) == 2 + 2 * 6


def test_aperak_text_fits_unoa() -> None:
    text = interchange(order("M1", "PO1"), syntax="UNOA:3", una="")
    finding = unknown_buyer(0).model_copy(update={"text": "Käufer unbekannt; nö @home"})
    aperak = acks(process(text, application={0: [finding]}))["aperak"]
    [ftx] = [s for s in segments_of(aperak, "ascii") if s.startswith("FTX")]
    assert ftx == "FTX+AAO+++UNKNOWN-BUYER?: K.UFER UNBEKANNT; N. .HOME"
    assert_valid(aperak)


def test_aperak_text_in_utf8_keeps_every_character() -> None:
    text = interchange(order("M1", "PO1"), syntax="UNOW:3")
    finding = unknown_buyer(0).model_copy(update={"text": "구매 기관을 찾을 수 없습니다"})
    aperak = acks(process(text.encode("utf-8"), application={0: [finding]}))["aperak"]
    assert "구매 기관을 찾을 수 없습니다".encode() in aperak.content
    latin = interchange(order("M1", "PO1"), syntax="UNOC:3")
    replaced = acks(process(latin, application={0: [finding]}))["aperak"]
    assert b"FTX+AAO+++unknown-buyer?: .. ... .. . ....'" in replaced.content
    assert_valid(replaced)
