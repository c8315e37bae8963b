"""Envelope checks: UNB/UNZ, UNG/UNE, UNH/UNT, packages, headers, and what the corpus gets."""

from __future__ import annotations

import datetime as dt
import gc
import io
import warnings
import weakref
from collections import Counter
from pathlib import Path

import pytest

from bench.generate import generate_orders_interchange, stream_orders_interchange
from edi_gateway.formats.edifact.envelope import (
    EnvelopeChecker,
    Event,
    Interchange,
    InterchangeEnd,
    InterchangeStart,
    Message,
    Package,
)
from edi_gateway.model import Finding, Severity
from tests.support import SHARED

CORPUS = SHARED / "corpus" / "edifact"
UNB = "UNB+UNOC:3+SENDER:14+RECIPIENT:ZZ+261126:1200+REF1'"
MSG1 = "UNH+1+ORDERS:D:96A:UN'BGM+220+PO1+9'UNT+3+1'"
MSG2 = "UNH+2+ORDERS:D:96A:UN'BGM+220+PO2+9'UNT+3+2'"


def events(data: bytes | str) -> tuple[list[Event], EnvelopeChecker]:
    raw = data.encode("latin-1") if isinstance(data, str) else data
    checker = EnvelopeChecker(io.BytesIO(raw))
    return list(checker), checker


def messages(evts: list[Event]) -> list[Message]:
    return [e for e in evts if isinstance(e, Message)]


def interchanges(evts: list[Event]) -> list[Interchange]:
    return [e.interchange for e in evts if isinstance(e, InterchangeEnd)]


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


# -- a clean interchange and its header ------------------------------------------------------


def test_a_clean_interchange() -> None:
    evts, checker = events(UNB + MSG1 + MSG2 + "UNZ+2+REF1'")
    assert [type(e) for e in evts] == [InterchangeStart, Message, Message, InterchangeEnd]
    first, second = messages(evts)
    assert (first.index, first.reference, first.message_type) == (0, "1", "ORDERS:D:96A:UN")
    assert [s.tag for s in first.segments] == ["UNH", "BGM", "UNT"]
    assert first.complete and not first.findings and not second.findings
    assert checker.findings == []
    (ic,) = interchanges(evts)
    assert ic.findings == [] and ic.message_count == 2 and ic.trailer is not None


def test_header_of_pydifact_order_edi_and_its_missing_unz() -> None:
    evts, _ = events((CORPUS / "pydifact" / "order.edi").read_bytes())
    start = evts[0]
    assert isinstance(start, InterchangeStart)
    ic = start.interchange
    assert (ic.sender_id, ic.sender_qualifier) == ("12345678", "8")
    assert (ic.recipient_id, ic.recipient_qualifier) == ("WBDZDD", "ZZ")
    assert ic.control_reference == "807"
    assert (ic.syntax_identifier, ic.syntax_version, ic.charset) == ("UNOA", "4", "ascii")
    assert ic.prepared_at == dt.datetime(2008, 10, 12, 2, 55)
    assert ic.una and ic.delimiters.decimal == "," and not ic.test
    (message,) = messages(evts)
    assert message.message_type == "ORDERS:D:96A:UN" and message.association_code == "EAN008"
    assert message.complete and message.findings == [] and len(message.segments) == 16
    missing = [f for f in ic.findings if f.code == "13"]
    assert len(missing) == 1 and missing[0].severity is Severity.FATAL
    assert "Expected UNZ" in missing[0].text and "'807'" in missing[0].text
    # A 6-digit date in syntax 4 is readable but not what syntax 4 says: a warning.
    assert [(f.code, f.severity) for f in ic.findings if f.code == "12"] == [
        ("12", Severity.WARNING)
    ]


def test_pydifact_order2_edi_has_no_una_and_no_unz() -> None:
    evts, _ = events((CORPUS / "pydifact" / "order2.edi").read_bytes())
    (ic,) = interchanges(evts)
    assert not ic.una and ic.charset == "iso8859-1"
    assert ic.prepared_at == dt.datetime(2025, 3, 22, 12, 0)
    assert codes(ic.findings) == ["13"]
    assert ic.trailer is None
    (message,) = messages(evts)
    assert message.complete and message.findings == []


def test_to_envelope() -> None:
    evts, _ = events(UNB.replace("REF1'", "REF1++ORDERS++++1'") + MSG1 + "UNZ+1+REF1'")
    envelope = interchanges(evts)[0].to_envelope()
    assert envelope.standard == "edifact"
    assert (envelope.sender[0].value, envelope.sender[0].scheme) == ("SENDER", "14")
    assert envelope.recipient[0].value == "RECIPIENT" and envelope.test
    assert envelope.control_reference == "REF1"
    assert envelope.syntax["syntax_identifier"] == "UNOC"
    assert envelope.syntax["application_reference"] == "ORDERS"


# -- UNH/UNT ----------------------------------------------------------------------------------


def test_wrong_unt_count() -> None:
    evts, _ = events(UNB + MSG1.replace("UNT+3+1", "UNT+4+1") + "UNZ+1+REF1'")
    (message,) = messages(evts)
    (finding,) = message.findings
    assert (finding.code, finding.severity) == ("29", Severity.ERROR)
    loc = finding.location
    assert (loc.message, loc.segment, loc.segment_tag, loc.element) == (0, 4, "UNT", 1)
    assert "count 3 segment(s)" in finding.text and "it says 4" in finding.text
    assert interchanges(evts)[0].findings == []


def test_unt_reference_mismatch() -> None:
    evts, _ = events(UNB + MSG1.replace("UNT+3+1", "UNT+3+9") + "UNZ+1+REF1'")
    (finding,) = messages(evts)[0].findings
    assert finding.code == "28" and finding.location.element == 2
    assert "'1'" in finding.text and "'9'" in finding.text


def test_non_numeric_unt_count() -> None:
    evts, _ = events(UNB + MSG1.replace("UNT+3+1", "UNT+X+1") + "UNZ+1+REF1'")
    assert codes(messages(evts)[0].findings) == ["12"]


def test_missing_unt_before_the_next_unh() -> None:
    evts, _ = events(UNB + "UNH+1+ORDERS:D:96A:UN'BGM+220+PO1+9'" + MSG2 + "UNZ+2+REF1'")
    first, second = messages(evts)
    assert not first.complete and codes(first.findings) == ["13"]
    assert (
        "Expected UNT" in first.findings[0].text and "found segment UNH" in first.findings[0].text
    )
    assert [s.tag for s in first.segments] == ["UNH", "BGM"]
    assert second.complete and second.findings == []
    assert interchanges(evts)[0].findings == []  # UNZ still counts two messages


def test_missing_unt_and_unz_at_the_end_of_the_data() -> None:
    evts, _ = events(UNB + "UNH+1+ORDERS:D:96A:UN'BGM+220+PO1+9'")
    (message,) = messages(evts)
    assert not message.complete and "end of the data" in message.findings[0].text
    assert codes(interchanges(evts)[0].findings) == ["13"]


def test_unh_with_incomplete_message_identifier_and_duplicate_reference() -> None:
    evts, _ = events(UNB + "UNH+1+ORDERS:D'UNT+2+1'" + MSG1 + "UNZ+2+REF1'")
    first, second = messages(evts)
    assert [(f.code, f.location.component) for f in first.findings] == [("13", 3), ("13", 4)]
    assert codes(second.findings) == ["26"]


def test_segment_between_messages() -> None:
    evts, _ = events(UNB + MSG1 + "BGM+220+X+9'" + MSG2 + "UNZ+2+REF1'")
    (finding,) = interchanges(evts)[0].findings
    assert finding.code == "33" and finding.location.segment_tag == "BGM"


def test_too_many_elements_in_a_service_segment() -> None:
    evts, _ = events(UNB + MSG1.replace("UNT+3+1", "UNT+3+1+X") + "UNZ+1+REF1'")
    (finding,) = messages(evts)[0].findings
    assert finding.code == "16" and finding.location.element == 3


def test_pydifact_accepts_wrong_counts_and_references_we_report_them() -> None:
    from pydifact.segmentcollection import Interchange as PyInterchange

    text = (CORPUS / "pydifact" / "APERAK_D96A_v3_accepted.edi").read_text("latin-1")
    text = text.replace("UNZ+1+000000002", "UNZ+5+WRONG")  # and UNT says 8 for 7 segments
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = PyInterchange.from_str(text)
        theirs.validate()  # pydifact: nothing to say (it raises on what it finds wrong)
        assert len(list(theirs.get_messages())) == 1
    evts, _ = events(text)
    assert codes(messages(evts)[0].findings) == ["21", "29"]  # lower case in UNOA; UNT+8 for 7
    assert codes(interchanges(evts)[0].findings) == ["29", "28"]


# -- UNB/UNZ ----------------------------------------------------------------------------------


def test_wrong_unz_count_and_reference() -> None:
    evts, _ = events(UNB + MSG1 + "UNZ+2+REF2'")
    found = interchanges(evts)[0].findings
    assert [(f.code, f.severity, f.location.element) for f in found] == [
        ("29", Severity.FATAL, 1),
        ("28", Severity.FATAL, 2),
    ]


def test_empty_interchange() -> None:
    evts, _ = events(UNB + "UNZ+0+REF1'")
    assert codes(interchanges(evts)[0].findings) == ["32"]


def test_test_indicator() -> None:
    evts, _ = events(UNB.replace("REF1'", "REF1++++++1'") + MSG1 + "UNZ+1+REF1'")
    ic = interchanges(evts)[0]
    assert ic.test and ic.findings == []
    evts, _ = events(UNB.replace("REF1'", "REF1++++++2'") + MSG1 + "UNZ+1+REF1'")
    ic = interchanges(evts)[0]
    assert not ic.test
    assert [(f.code, f.location.element) for f in ic.findings] == [("12", 11)]


@pytest.mark.parametrize(
    ("date_time", "severity"),
    [
        ("261326:1200", Severity.ERROR),  # month 13
        ("261126:2560", Severity.ERROR),  # minute 60
        ("26-11-26:1200", Severity.ERROR),
        ("261126:12", Severity.ERROR),
        ("20261126:1200", Severity.WARNING),  # CCYYMMDD before syntax 4
    ],
)
def test_unb_date_and_time(date_time: str, severity: Severity) -> None:
    evts, _ = events(UNB.replace("261126:1200", date_time) + MSG1 + "UNZ+1+REF1'")
    (finding,) = interchanges(evts)[0].findings
    assert (finding.code, finding.severity, finding.location.element) == ("12", severity, 4)


def test_syntax_4_date_is_ccyymmdd() -> None:
    unb = "UNB+UNOC:4+SENDER:14+RECIPIENT:ZZ+20261126:1200+REF1'"
    evts, _ = events(unb + MSG1 + "UNZ+1+REF1'")
    ic = interchanges(evts)[0]
    assert ic.findings == [] and ic.prepared_at == dt.datetime(2026, 11, 26, 12, 0)


def test_missing_mandatory_unb_parts_and_unsupported_version() -> None:
    evts, _ = events("UNB+UNOC:7++RECIPIENT+261126:1200+'" + MSG1 + "UNZ+1+'")
    found = [
        (f.code, f.location.element, f.location.component) for f in interchanges(evts)[0].findings
    ]
    assert ("13", 2, 1) in found  # sender
    assert ("13", 5, 1) in found  # control reference
    assert ("2", 1, 2) in found  # syntax version 7


def test_una_not_followed_by_unb() -> None:
    evts, checker = events("UNA:+.? 'UNH+1+ORDERS:D:96A:UN'UNT+2+1'")
    assert evts == []
    assert [(f.code, f.severity) for f in checker.findings] == [("13", Severity.FATAL)]
    assert "Expected UNB" in checker.findings[0].text


# -- UNG/UNE ----------------------------------------------------------------------------------

UNG1 = "UNG+ORDERS+APPSENDER+APPRECIPIENT+261126:1200+G1+UN+D:96A'"
UNG2 = UNG1.replace("+G1+", "+G2+")


def test_groups_are_counted_by_unz_and_une_counts_messages() -> None:
    data = UNB + UNG1 + MSG1 + MSG2 + "UNE+2+G1'" + UNG2 + MSG1 + "UNE+1+G2'UNZ+2+REF1'"
    evts, _ = events(data)
    found = messages(evts)
    assert [(m.group.reference if m.group else None) for m in found] == ["G1", "G1", "G2"]
    ic = interchanges(evts)[0]
    assert ic.findings == [] and ic.group_count == 2


def test_une_count_and_reference_mismatch() -> None:
    evts, _ = events(UNB + UNG1 + MSG1 + "UNE+3+G9'UNZ+1+REF1'")
    assert [(f.code, f.location.segment_tag) for f in interchanges(evts)[0].findings] == [
        ("29", "UNE"),
        ("28", "UNE"),
    ]


def test_missing_une_empty_group_and_mixing() -> None:
    evts, _ = events(UNB + UNG1 + MSG1 + UNG2 + "UNE+0+G2'" + MSG2 + "UNZ+2+REF1'")
    found = codes(interchanges(evts)[0].findings)
    assert found == ["13", "32", "30"]


# -- character sets, several interchanges, packages ------------------------------------------


def test_invalid_characters_land_in_the_message_they_concern() -> None:
    data = (
        b"UNB+UNOA:3+SENDER+RECIPIENT+261126:1200+REF1'"
        + MSG1.encode()
        + b"UNH+2+ORDERS:D:96A:UN'NAD+BY+++CAF\xc9'UNT+3+2'UNZ+2+REF1'"
    )
    evts, checker = events(data)
    first, second = messages(evts)
    assert first.findings == []
    (finding,) = second.findings
    assert (finding.code, finding.severity, finding.location.message) == ("21", Severity.ERROR, 1)
    assert finding.location.segment_tag == "NAD"
    assert checker.findings == [] and interchanges(evts)[0].findings == []


def test_invalid_characters_in_unb_are_interchange_findings() -> None:
    evts, _ = events(
        b"UNB+UNOA:3+S\xc9NDER+RECIPIENT+261126:1200+REF1'" + MSG1.encode() + b"UNZ+1+REF1'"
    )
    (finding,) = interchanges(evts)[0].findings
    assert finding.code == "21" and finding.location.segment == 1


def test_two_interchanges_each_with_its_own_una_and_header() -> None:
    first = UNB + MSG1 + "UNZ+1+REF1'"
    second = (
        "UNA|^,\\ ~UNB^UNOC|3^OTHER|ZZ^RECIPIENT^261127|0800^REF2~"
        "UNH^7^INVOIC|D|96A|UN~BGM^380^INV1^9~UNT^3^7~UNZ^1^REF2~"
    )
    evts, _ = events("UNA:+.? '" + first + second)
    assert [type(e).__name__ for e in evts] == [
        "InterchangeStart", "Message", "InterchangeEnd",
        "InterchangeStart", "Message", "InterchangeEnd",
    ]  # fmt: skip
    a, b = interchanges(evts)
    assert (a.index, a.control_reference, a.delimiters.element) == (0, "REF1", "+")
    assert (b.index, b.control_reference, b.delimiters.element) == (1, "REF2", "^")
    assert (b.sender_id, b.delimiters.decimal) == ("OTHER", ",")
    assert a.findings == [] and b.findings == []
    assert messages(evts)[1].message_type == "INVOIC:D:96A:UN"


def test_a_new_unb_cuts_an_interchange_without_unz() -> None:
    evts, _ = events(UNB + MSG1 + UNB.replace("REF1", "REF2") + MSG2 + "UNZ+1+REF2'")
    a, b = interchanges(evts)
    assert codes(a.findings) == ["13"] and "next interchange" in a.findings[0].text
    assert b.findings == []


def test_twenty_four_interchanges_in_one_corpus_file() -> None:
    evts, _ = events((CORPUS / "bots-plugins" / "ORDERS_D96A_orders02_multi.edi").read_bytes())
    found = interchanges(evts)
    assert len(found) == 24
    assert len({ic.control_reference for ic in found}) == 24
    assert all(ic.findings == [] and ic.message_count == 1 for ic in found)


def test_syntax_4_package_and_the_en16931_examples_envelope_defects() -> None:
    evts, _ = events((CORPUS / "en16931-invoic-d14b" / "EDIFACT_EXAMPLE2.TXT").read_bytes())
    (package,) = [e for e in evts if isinstance(e, Package)]
    assert (package.reference, package.object_type) == ("P1", ["13", "application/pdf"])
    assert len(package.data) == 104 and package.data.startswith(b"SlZCRVJp")
    ic = interchanges(evts)[0]
    # UNZ counts messages and packages (ISO 9735-1 0036): 2, not 1; and its reference is
    # the message's, not UNB's 87846595.
    assert [(f.code, f.location.segment_tag) for f in ic.findings] == [("29", "UNZ"), ("28", "UNZ")]


def test_unp_must_match_its_uno() -> None:
    data = (
        b"UNA:+.?*'UNB+UNOW:4+S+R+20261126:1200+1'UNO+P1+1:D+13:text/plain+3'abcUNP+4+P2'UNZ+1+1'"
    )
    evts, _ = events(data)
    assert [(f.code, f.location.element) for f in interchanges(evts)[0].findings] == [
        ("29", 1),
        ("28", 2),
    ]


# -- bounded memory and laziness -------------------------------------------------------------


def test_messages_are_yielded_lazily_and_not_kept() -> None:
    stream = stream_orders_interchange(30)
    checker = EnvelopeChecker(stream)
    refs: list[weakref.ref[Message]] = []
    for count, message in enumerate(checker.messages(), start=1):
        refs.append(weakref.ref(message))
        del message
        if count == 200:
            break
    gc.collect()
    assert stream.bytes_read < 1_000_000  # 200 messages of a 30 MB interchange
    assert sum(r() is not None for r in refs) == 0


def test_a_huge_message_is_counted_but_not_kept() -> None:
    body = "FTX+AAI+++X'" * 20
    data = UNB + "UNH+1+ORDERS:D:96A:UN'" + body + "UNT+22+1'UNZ+1+REF1'"
    checker = EnvelopeChecker(io.BytesIO(data.encode()), max_message_segments=10)
    (message,) = checker.messages()
    assert len(message.segments) == 10 and message.segment_count == 22
    assert [(f.code, f.severity) for f in message.findings] == [("18", Severity.FATAL)]


def test_generated_interchange_is_clean() -> None:
    evts, checker = events(generate_orders_interchange(300))
    assert len(messages(evts)) == 300
    assert all(not m.findings and m.complete for m in messages(evts))
    assert interchanges(evts)[0].findings == [] and checker.findings == []


# -- the corpus: every file's envelope outcome -----------------------------------------------

# (interchanges, messages, {code/severity initial: count}) per file. Each defect was checked by
# reading the file: e.g. pydifact's APERAKs say UNT+8 for 7 segments, smooks' INVOIC_D03B
# says UNT+36 for 35, the EN 16931 examples close with UNZ references that differ from UNB's,
# php-edifact's PAORES_release_character says UNT+14 for 23 segments.
CORPUS_OUTCOMES: dict[str, tuple[int, int, dict[str, int]]] = {
    "bots-plugins/APERAK_D96A_dutchic.edi": (1, 1, {}),
    "bots-plugins/DESADV_D96A_desadv1.edi": (1, 3, {}),
    "bots-plugins/INVOIC_D96A_dutchic.edi": (1, 1, {}),
    "bots-plugins/INVOIC_D96A_invoic01.edi": (1, 2, {}),
    "bots-plugins/INVOIC_D96A_invoic1.edi": (1, 2, {}),
    "bots-plugins/ORDERS_D96A_csvdemo_test.edi": (1, 4, {}),
    "bots-plugins/ORDERS_D96A_dutchic_0T0000000004.edi": (2, 3, {}),
    "bots-plugins/ORDERS_D96A_orders01.edi": (1, 2, {}),
    "bots-plugins/ORDERS_D96A_orders02_multi.edi": (24, 24, {}),
    "bots-plugins/ORDERS_D96A_sap_idoc_1.edi": (1, 12, {}),
    "bots-plugins/PRICAT_D96A_146.edi": (1, 2, {}),
    "bots-plugins/SLSRPT_D96A_slsrpt01.edi": (2, 2, {}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE0.TXT": (1, 1, {"29/e": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE0a.TXT": (1, 1, {"29/e": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE1.TXT": (1, 1, {"28/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE2.TXT": (1, 1, {"28/f": 1, "29/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE3.TXT": (1, 1, {"28/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE4.TXT": (1, 1, {"28/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE5.TXT": (1, 1, {"28/f": 1, "29/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE6.TXT": (1, 1, {"28/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE7.TXT": (1, 1, {"28/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE8.TXT": (1, 1, {"21/e": 1, "28/f": 1}),
    "en16931-invoic-d14b/EDIFACT_EXAMPLE9.TXT": (1, 1, {"28/f": 1}),
    "generated/berrywave_CONTRL_for_synthetic_5msgs.edi": (1, 1, {}),
    "generated/mock-edi_CONTRL_reply.edi": (1, 1, {}),
    "generated/mock-edi_ORDERS_D96A_sent_over_AS2.edi": (1, 1, {}),
    "generated/mock-edi_ORDRSP_reply.edi": (1, 1, {}),
    "generated/synthetic_ORDERS_D96A_5msgs.edi": (1, 5, {}),
    "generated/synthetic_ORDERS_D96A_5msgs_newlines.edi": (1, 5, {}),
    "generated/synthetic_ORDERS_D96A_to_mock.edi": (1, 1, {}),
    "php-edifact/DESADV_D96A.edi": (1, 1, {}),
    "php-edifact/DESADV_utf8.edi": (1, 1, {"21/e": 1}),  # UTF-8 bytes declared as UNOC
    "php-edifact/ORDERS_D01B_example_order_error.edi": (1, 1, {}),  # its defect is structural
    "php-edifact/ORDERS_D01B_example_order_ok.edi": (1, 1, {}),
    "php-edifact/PAORES_release_character.edi": (1, 1, {"29/e": 1}),
    "php-edifact/PAORES_wrapped.edi": (1, 1, {}),
    "pydifact/APERAK_D96A_v3_accepted.edi": (1, 1, {"21/w": 1, "29/e": 1}),
    "pydifact/APERAK_D96A_v3_rejected.edi": (1, 1, {"21/w": 1, "29/e": 1}),
    "pydifact/APERAK_D96A_v4_accepted.edi": (1, 1, {"12/w": 1, "21/w": 1, "29/e": 1}),
    "pydifact/APERAK_D96A_v4_rejected.edi": (1, 1, {"12/w": 1, "21/w": 1, "29/e": 1}),
    "pydifact/invoice1.edi": (1, 1, {}),
    "pydifact/invoice_with_colon_at_end.edi": (1, 1, {}),
    "pydifact/order.edi": (1, 1, {"12/w": 1, "13/f": 1}),  # no UNZ
    "pydifact/order2.edi": (1, 1, {"13/f": 1}),  # no UNZ
    "pydifact/sage_coala.ped": (1, 1, {"29/e": 1, "33/w": 1}),  # COALA header skipped
    "pydifact/wikipedia_en.edi": (1, 1, {}),
    "smooks/INVOIC_D03B_with_UNA.edi": (1, 1, {"12/w": 1, "29/e": 1}),
    "smooks/INVOIC_D96A_input.edi": (0, 0, {"13/f": 1, "33/w": 1}),  # no UNB at all
    "smooks/ORDERS_D03B_BAD.edi": (1, 1, {"21/w": 5, "29/e": 1}),
    "smooks/ORDERS_D03B_Interchange.edi": (1, 1, {"21/w": 5}),  # lower case in UNOA
    "smooks/RECADV_D01B.edi": (1, 1, {"21/e": 1, "21/w": 2}),  # a byte 0xE6 in UNOA
}


def test_every_corpus_file_has_an_expected_outcome() -> None:
    files = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix.lower() not in (".xml", ".tsv")
    }
    assert files == set(CORPUS_OUTCOMES)


@pytest.mark.parametrize("name", sorted(CORPUS_OUTCOMES))
def test_corpus_envelope_outcome(name: str) -> None:
    checker = EnvelopeChecker(io.BytesIO((CORPUS / Path(name)).read_bytes()))
    found: list[Finding] = []
    count = 0
    for event in checker:
        if isinstance(event, Message):
            count += 1
            found += event.findings
    found += checker.findings
    summary = dict(Counter(f"{f.code}/{f.severity.value[0]}" for f in found))
    assert (checker.interchanges, count, summary) == CORPUS_OUTCOMES[name]
    assert all(f.text.startswith("Expected") for f in found)
