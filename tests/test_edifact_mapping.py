"""EDIFACT → canonical translation: the mapping files in mappings/edifact and their engine.

The corpus in ../shared is translated message by message; the EN 16931 INVOIC D14B examples are
checked against the XML rendering of the same content beside them (read here with lxml, so the
segment groups come from the XML and not from our own group tracking).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from edi_gateway.formats.edifact.directory import DEFAULT_SCHEMAS
from edi_gateway.formats.edifact.directory_import import import_directory
from edi_gateway.formats.edifact.envelope import EnvelopeChecker, Message
from edi_gateway.formats.edifact.segments import Delimiters, Segment
from edi_gateway.formats.edifact.tokenizer import split_segment
from edi_gateway.mapping import (
    MappingCode,
    MappingError,
    load_mapping,
    translate,
    translate_message,
)
from edi_gateway.mapping.loader import read_mapping
from edi_gateway.mapping.values import to_date, to_decimal
from edi_gateway.model import Invoice, InvoiceType, Order, PartyRole, Severity, Tender
from tests.support import SHARED

CORPUS = SHARED / "corpus" / "edifact"
EN16931 = CORPUS / "en16931-invoic-d14b"
SUPPORTED = {("D96A", "ORDERS"), ("D96A", "INVOIC"), ("D01B", "ORDERS"), ("D01B", "INVOIC")}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    """The project's directories plus D14B, imported here from the public XML rendering."""
    extra = tmp_path_factory.mktemp("schemas")
    import_directory(SHARED / "edifact" / "directories" / "D14B", extra, ["INVOIC"])
    return (DEFAULT_SCHEMAS, extra)


def messages(payload: bytes) -> list[Message]:
    return list(EnvelopeChecker(io.BytesIO(payload)).messages())


def interchange(body: str, una: str = "UNA:+.? '") -> bytes:
    """Wrap message segments (one per line, each ending in ') in an interchange."""
    segments = [s for s in body.split("\n") if s.strip()]
    text = una + "UNB+UNOC:3+SENDER:14+GATEWAY:14+260101:1200+1'" + "".join(segments) + "UNZ+1+1'"
    return text.encode("latin-1")


def translate_file(path: Path, schemas: tuple[Path, ...] = (DEFAULT_SCHEMAS,)) -> list:
    out = []
    for message in messages(path.read_bytes()):
        decimal = message.interchange.delimiters.decimal
        out.append(translate_message(message.segments, decimal, message.index, schemas=schemas))
    return out


def errors(findings: list) -> list[str]:
    return [str(f) for f in findings if f.severity.rejects]


# -- the corpus -------------------------------------------------------------------------------


def corpus_messages() -> Iterator[tuple[str, int]]:
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.suffix.lower() in (".edi", ".txt") and path.parent != EN16931:
            for message in messages(path.read_bytes()):
                ident = message.identifier
                if len(ident) > 2 and (ident[1] + ident[2], ident[0]) in SUPPORTED:
                    yield str(path.relative_to(CORPUS)), message.index


CORPUS_MESSAGES = list(corpus_messages())


def test_the_corpus_has_messages_of_every_supported_kind() -> None:
    files = {name for name, _ in CORPUS_MESSAGES}
    assert len(CORPUS_MESSAGES) >= 25
    assert any("INVOIC_D96A" in f for f in files)
    assert any("ORDERS_D01B" in f for f in files)
    assert any("ORDERS_D96A" in f for f in files)


@pytest.mark.parametrize(("name", "index"), CORPUS_MESSAGES)
def test_every_corpus_message_translates(name: str, index: int) -> None:
    message = messages((CORPUS / name).read_bytes())[index]
    t = translate_message(message.segments, message.interchange.delimiters.decimal, index)
    assert t.document is not None, errors(t.findings)
    assert errors(t.findings) == []
    assert t.document.id
    assert t.document.lines


def test_orders_d96a_with_comma_decimal_and_203_dates() -> None:
    (t,) = translate_file(CORPUS / "pydifact" / "order.edi")
    order = t.document
    assert isinstance(order, Order)
    assert order.id == "801715918011"
    assert order.issue_date == dt.date(2015, 8, 3)  # DTM+137:201508030000:203
    assert order.requested_delivery_date == dt.date(2015, 8, 6)
    seller, buyer = order.party(PartyRole.SELLER), order.party(PartyRole.BUYER)
    assert seller is not None and buyer is not None
    assert [(i.value, i.scheme) for i in seller.identifiers] == [("5020436000004", "0088")]
    assert [(i.value, i.scheme) for i in buyer.identifiers] == [("8711576000012", "0088")]
    assert order.party(PartyRole.DELIVERY) is not None
    assert len(order.lines) == 2
    assert order.lines[0].quantity == Decimal("8")
    assert [(r.type, r.id) for r in order.lines[0].references] == [("other", "99")]
    assert [(r.type, r.id) for r in order.references] == [("other", "50515")]


def test_orders_d96a_with_prices_amounts_contacts_and_contract() -> None:
    (t,) = translate_file(CORPUS / "generated" / "synthetic_ORDERS_D96A_to_mock.edi")
    order = t.document
    assert isinstance(order, Order) and t.findings == []
    assert (order.id, order.issue_date, order.currency) == (
        "PO53464097",
        dt.date(2026, 3, 13),
        "EUR",
    )
    assert order.references[0].type == "contract"
    assert order.references[0].id == "TENDER-2021-0764"
    assert order.references[0].date == dt.date(2026, 9, 28)  # the DTM in the RFF group
    buyer = order.party(PartyRole.BUYER)
    assert buyer is not None and buyer.address is not None
    assert buyer.names == ["Comune di Bruxelles"]
    assert buyer.address.street == ["Hauptstrasse 141", "Building 1"]
    assert (buyer.address.city, buyer.address.postal_code, buyer.address.country) == (
        "Graz",
        "82134",
        "AT",
    )
    invoicee = order.party(PartyRole.INVOICEE)
    assert invoicee is not None and invoicee.contact is not None
    assert invoicee.names == ["Mueller+Partner AG Innsbruck"]  # released '+'
    assert (invoicee.contact.name, invoicee.contact.phone) == ("Region Hovedstaden", "276211")
    assert len(order.lines) == 3
    first = order.lines[0]
    assert (first.quantity, first.unit, first.unit_price) == (
        Decimal("60"),
        "PCE",
        Decimal("444.58"),
    )
    assert first.line_amount == Decimal("26674.80")
    assert first.delivery_date == dt.date(2026, 3, 8)
    assert [(i.value, i.scheme) for i in first.item_ids] == [
        ("3423667127684", "0160"),
        ("ART18947", "SA"),
    ]
    assert order.totals.line_total == Decimal("103289.02")
    assert order.notes[1] == "Deliver to gate 3: ask for Mr. O'Brien? (+43 1 2345)"


def test_orders_d96a_from_another_generator_keeps_other_agencies() -> None:
    (t,) = translate_file(CORPUS / "generated" / "mock-edi_ORDERS_D96A_sent_over_AS2.edi")
    order = t.document
    assert isinstance(order, Order)
    buyer = order.party(PartyRole.BUYER)
    assert buyer is not None and buyer.address is not None
    assert [(i.value, i.scheme) for i in buyer.identifiers] == [("MOCKEDI", "92")]
    assert buyer.address.subdivision == "MA"
    assert order.currency == "USD"
    assert [line.unit_price for line in order.lines] == [Decimal("12.50"), Decimal("4.15")]


def test_orders_d01b() -> None:
    (t,) = translate_file(CORPUS / "php-edifact" / "ORDERS_D01B_example_order_ok.edi")
    order = t.document
    assert isinstance(order, Order)
    assert (order.id, order.issue_date) == ("2019265563", dt.date(2018, 12, 5))
    assert order.requested_delivery_date == dt.date(2018, 12, 6)
    buyer = order.party(PartyRole.BUYER)
    assert buyer is not None and buyer.contact is not None
    assert buyer.identifiers[0].value == "4250159300001"
    assert buyer.contact.name == "Herr Foo"  # CTA 3413 when 3412 is empty
    assert (buyer.contact.phone, buyer.contact.email) == ("020994125-32", None)
    assert len(order.lines) > 30
    assert order.lines[0].quantity == Decimal("2")
    assert order.lines[0].unit == "GBND"
    # both IMD 7008 components, joined (the file holds UTF-8 bytes in a UNOC interchange)
    assert (order.lines[2].item_name or "").endswith("uteressig 5% 10l Branntweinessig Kanister")


def test_invoic_d96a() -> None:
    first, second = translate_file(CORPUS / "bots-plugins" / "INVOIC_D96A_invoic01.edi")
    invoice = first.document
    assert isinstance(invoice, Invoice) and second.document is not None
    assert (invoice.id, invoice.issue_date, invoice.currency) == (
        "20051098",
        dt.date(2005, 8, 29),
        "EUR",
    )
    assert invoice.invoice_type is InvoiceType.INVOICE
    seller = invoice.party(PartyRole.SELLER)
    assert seller is not None
    assert [(i.value, i.scheme) for i in seller.tax_ids] == [("NL00XXXXXXXXXXXX", "VAT")]
    # the RFF+VA segments belong to the parties' groups, not to the message's references
    assert [(r.type, r.id) for r in invoice.references] == [
        ("order", "4500094576"),
        ("despatch", "2028"),
    ]
    assert len(invoice.lines) == 3
    line = invoice.lines[0]
    assert (line.quantity, line.unit_price, line.line_amount) == (
        Decimal("2"),
        Decimal("6.5"),
        Decimal("13"),
    )
    assert line.tax is not None and (line.tax.category, line.tax.rate) == ("S", Decimal("19"))
    assert invoice.totals.line_total == Decimal("240.5")
    assert invoice.totals.tax_total == Decimal("45.7")
    assert invoice.totals.tax_inclusive == Decimal("286.2")
    assert [(t.category, t.taxable_amount, t.amount) for t in invoice.taxes] == [
        ("S", Decimal("1111.11"), Decimal("11.11"))
    ]


def test_invoic_d96a_without_envelope_and_with_comma_decimals() -> None:
    """smooks' file is a bare message body (no UNB, no UNH) with ',' decimals and no UNA."""
    segments = bare_segments(CORPUS / "smooks" / "INVOIC_D96A_input.edi")
    mapping = load_mapping("D96A", "INVOIC")
    t = translate(segments, mapping, decimal_mark=",")
    invoice = t.document
    assert isinstance(invoice, Invoice), errors(t.findings)
    assert (invoice.id, invoice.currency) == ("500000000020", "SEK")
    assert invoice.due_date == dt.date(2008, 6, 5)  # DTM+13 in the CUX group
    assert len(invoice.lines) == 14
    assert invoice.lines[0].quantity == Decimal("16.94")
    assert invoice.lines[0].unit_price == Decimal("0.1901")
    assert invoice.lines[0].tax is not None
    assert invoice.lines[0].tax.amount == Decimal("0.81")
    assert invoice.totals.payable == Decimal("342.7")
    seller = invoice.party(PartyRole.SELLER)
    assert seller is not None and seller.contact is not None
    assert (seller.contact.name, seller.contact.phone) == ("reference", "phonenumber")
    assert invoice.payment_accounts[0].value == "BankGiroNumber"


def test_the_advised_decimal_mark_is_the_only_one() -> None:
    segments = bare_segments(CORPUS / "smooks" / "INVOIC_D96A_input.edi")
    t = translate(segments, load_mapping("D96A", "INVOIC"), decimal_mark=".")
    bad = [f for f in t.findings if f.code == MappingCode.INVALID_VALUE]
    assert bad and all(f.source == "mapping" for f in bad)
    assert "'16,94'" in bad[0].text and "decimal mark '.'" in bad[0].text
    assert (bad[0].location.segment_tag, bad[0].location.element) == ("QTY", 1)
    assert bad[0].location.component == 2
    assert t.document is None  # a line without its quantity cannot be translated


def bare_segments(path: Path) -> list[Segment]:
    text = path.read_text("latin-1").replace("\r", "").replace("\n", "")
    out = []
    for number, piece in enumerate(p for p in text.split("'") if p):
        tag, elements, repeats = split_segment(piece, Delimiters())
        out.append(Segment(tag, elements, number=number + 1, repeats=repeats))
    return out


# -- EN 16931 INVOIC D14B against the XML beside each example ----------------------------------


EXAMPLES = sorted(EN16931.glob("*.TXT"))


def test_all_en16931_examples_are_here() -> None:
    assert len(EXAMPLES) == 11


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_en16931_example_translates(path: Path, schemas: tuple[Path, ...]) -> None:
    (t,) = translate_file(path, schemas)
    assert t.document is not None, errors(t.findings)
    assert errors(t.findings) == []
    assert isinstance(t.document, Invoice)
    xml = path.with_suffix(".xml")
    if xml.exists():
        assert_matches_xml(t.document, etree.parse(str(xml)).getroot())


def assert_matches_xml(invoice: Invoice, root: etree._Element) -> None:
    def text(node: etree._Element, xpath: str) -> str | None:
        found = node.xpath(xpath)
        return found[0].text if found else None

    def amount(node: etree._Element, xpath: str) -> Decimal | None:
        value = text(node, xpath)
        return Decimal(value) if value is not None else None

    assert invoice.id == text(root, "S_BGM/C_C106/D_1004")
    issued = text(root, "S_DTM/C_C507[D_2005='137']/D_2380")
    assert (
        issued is not None and invoice.issue_date == dt.datetime.strptime(issued, "%Y%m%d").date()
    )
    assert invoice.currency == text(root, "G_SG7/S_CUX/C_C504[D_6347='2']/D_6345")
    for code, role in (("SE", PartyRole.SELLER), ("BY", PartyRole.BUYER)):
        group = root.xpath(f"G_SG2[S_NAD/D_3035='{code}']")[0]
        party = invoice.party(role)
        assert party is not None
        names = group.xpath("S_NAD/C_C080/*[starts-with(local-name(), 'D_3036')]")  # D_3036_2...
        assert party.names == [n.text for n in names]
        vat = [n.text for n in group.xpath("G_SG3/S_RFF/C_C506[D_1153='VA']/D_1154")]
        assert [t.value for t in party.tax_ids] == vat
    lines = root.xpath("G_SG27")
    assert len(invoice.lines) == len(lines)
    for line, node in zip(invoice.lines, lines, strict=True):
        assert line.id == text(node, "S_LIN/D_1082")
        assert line.line_amount == amount(node, "G_SG28/S_MOA/C_C516[D_5025='203']/D_5004")
        assert line.quantity == amount(node, "S_QTY/C_C186[D_6063='47']/D_6060")
    totals = "G_SG52/S_MOA/C_C516[D_5025='{}']/D_5004"
    assert invoice.totals.tax_total == amount(root, totals.format("176"))
    assert invoice.totals.payable == amount(root, totals.format("9"))
    assert invoice.totals.line_total == amount(root, totals.format("79"))
    assert len(invoice.taxes) == len(root.xpath("G_SG54"))


def test_en16931_example_details(schemas: tuple[Path, ...]) -> None:
    (t,) = translate_file(EN16931 / "EDIFACT_EXAMPLE2.TXT", schemas)
    invoice = t.document
    assert isinstance(invoice, Invoice)
    seller = invoice.party(PartyRole.SELLER)
    assert seller is not None and seller.address is not None and seller.contact is not None
    assert [(i.value, i.scheme) for i in seller.identifiers] == [("1238764941386", "0088")]
    assert seller.address.subdivision == "RegionA"  # C819 3228
    assert seller.contact.email == "antonio@salescompany.no"
    assert invoice.due_date == dt.date(2013, 7, 20)
    assert invoice.tax_point_date == dt.date(2013, 6, 30)
    assert invoice.payment_means == ["30"]
    assert invoice.payment_accounts[0].value == "NO9386011117947"
    assert all("urn:cen.eu" not in note for note in invoice.notes)  # FTX+DOC is not a note


# -- QUOTES → Tender ---------------------------------------------------------------------------


QUOTES = """
UNH+1+QUOTES:D:{release}:UN'
BGM+310+Q-2026-17+9'
DTM+137:20260105:102'
DTM+36:20260331:102'
RFF+AHU:CFT-2025-88'
CUX+2:EUR:4'
NAD+BY+5400000000003::9++Ville de Namur'
NAD+SU+5412345000013::9++Fournitures SA+Rue Haute 5+Namur++5000+BE'
RFF+VA:BE0123456789'
CTA+OC+:Marie Dupont'
COM+marie@fournitures.be:EM'
LIN+1++4012345000016:EN'
IMD+F++:::Chaise de bureau'
QTY+21:40:PCE'
MOA+203:3400'
PRI+AAA:85'
LIN+2++4012345000023:EN'
QTY+21:10:PCE'
MOA+203:1250'
PRI+AAA:125'
UNS+S'
MOA+79:4650'
UNT+21+1'
"""


@pytest.mark.parametrize("release", ["96A", "01B"])
def test_quotes_translate_to_a_tender(release: str) -> None:
    (message,) = messages(interchange(QUOTES.format(release=release)))
    t = translate_message(message.segments, ".", 0)
    tender = t.document
    assert isinstance(tender, Tender), errors(t.findings)
    assert t.findings == []
    assert (tender.id, tender.issue_date, tender.validity_end) == (
        "Q-2026-17",
        dt.date(2026, 1, 5),
        dt.date(2026, 3, 31),
    )
    assert tender.reference("call_for_tenders") is not None
    authority = tender.party(PartyRole.CONTRACTING_AUTHORITY)
    tenderer = tender.party(PartyRole.TENDERER)
    assert authority is not None and authority.names == ["Ville de Namur"]
    assert tenderer is not None and tenderer.contact is not None
    assert [t.value for t in tenderer.tax_ids] == ["BE0123456789"]
    assert tenderer.contact.email == "marie@fournitures.be"
    assert [(line.quantity, line.unit_price, line.line_amount) for line in tender.lines] == [
        (Decimal("40"), Decimal("85"), Decimal("3400")),
        (Decimal("10"), Decimal("125"), Decimal("1250")),
    ]
    assert tender.totals.line_total == Decimal("4650")


# -- broken messages ---------------------------------------------------------------------------

ORDER = """
UNH+1+ORDERS:D:96A:UN'
BGM+220+{number}+9'
DTM+137:{date}:{format}'
NAD+BY+5412345000013::9++Buyer+Street 1+City++1000+{country}'
LIN+1++4012345000016:EN'
QTY+21:{quantity}'
UNS+S'
UNT+8+1'
"""


def order(**changes: str) -> list[Segment]:
    values = {"number": "PO-1", "date": "20260105", "format": "102", "country": "BE"}
    values |= {"quantity": "5"} | changes
    (message,) = messages(interchange(ORDER.format(**values)))
    return message.segments


def test_a_good_order_has_no_findings() -> None:
    t = translate(order(), load_mapping("D96A", "ORDERS"))
    assert t.document is not None and t.findings == []


def test_missing_document_number_is_a_mapping_finding() -> None:
    t = translate(order(number=""), load_mapping("D96A", "ORDERS"), message_index=3)
    assert t.document is None
    (finding,) = t.findings
    assert (finding.code, finding.source, finding.severity) == (
        "mapping",
        "mapping",
        Severity.ERROR,
    )
    assert "order number" in finding.text and "BGM" in finding.text and "1004" in finding.text
    assert finding.location.message == 3
    assert finding.location.path == "id"


def test_a_date_that_does_not_fit_its_format() -> None:
    t = translate(order(date="20261340"), load_mapping("D96A", "ORDERS"))
    assert t.document is None
    (finding,) = t.findings
    assert finding.code == MappingCode.INVALID_VALUE
    assert "'20261340'" in finding.text and "format 102" in finding.text
    assert (finding.location.segment_tag, finding.location.segment) == ("DTM", 4)


def test_a_date_in_another_format() -> None:
    t = translate(order(date="2026010512", format="203"), load_mapping("D96A", "ORDERS"))
    assert [f.code for f in t.findings] == [MappingCode.INVALID_VALUE]  # 203 needs 12 digits
    t = translate(order(date="202601051230", format="203"), load_mapping("D96A", "ORDERS"))
    assert t.document is not None and t.document.issue_date == dt.date(2026, 1, 5)


def test_a_missing_line_quantity_names_the_line() -> None:
    t = translate(order(quantity=""), load_mapping("D96A", "ORDERS"))
    assert t.document is None
    (finding,) = t.findings
    assert finding.code == "mapping"
    assert "QTY with 6063 = 21" in finding.text
    assert (finding.location.segment_tag, finding.location.path) == ("LIN", "lines.quantity")


def test_a_value_the_model_refuses_is_left_out_with_a_warning() -> None:
    t = translate(order(country="Belgium"), load_mapping("D96A", "ORDERS"))
    assert t.document is not None
    buyer = t.document.party(PartyRole.BUYER)
    assert buyer is not None and buyer.address is not None and buyer.address.country is None
    (finding,) = t.findings
    assert (finding.code, finding.severity) == (MappingCode.REFUSED, Severity.WARNING)
    assert "'BELGIUM'" in finding.text


def test_an_unknown_directory_is_unsupported() -> None:
    (message,) = messages(
        interchange(
            ORDER.replace("96A", "97A").format(
                number="1", date="20260105", format="102", country="BE", quantity="1"
            )
        )
    )
    t = translate_message(message.segments)
    assert t.document is None
    assert [f.code for f in t.findings] == [MappingCode.UNSUPPORTED]
    assert "ORDERS D97A" in t.findings[0].text


# -- mapping files -----------------------------------------------------------------------------


def test_a_partner_variant_is_a_small_file(tmp_path: Path) -> None:
    (tmp_path / "D96A_ORDERS_acme.toml").write_text(
        'extends = "D96A_ORDERS"\n'
        "[codes.party_role]\n"
        'UC = "delivery"\n'
        "[templates.line.fields]\n"
        'quantity = { path = "QTY[6063=21|59].6060", convert = "decimal", required = true }\n'
    )
    mapping = load_mapping("D96A", "ORDERS", "acme", folder=tmp_path)
    segments = order(quantity="7")
    segments.insert(4, Segment("NAD", [["UC"], ["5400000000010", "", "9"]]))
    qty = next(s for s in segments if s.tag == "QTY")
    qty.elements[0][0] = "59"
    t = translate(segments, mapping)
    assert t.document is not None, errors(t.findings)
    assert t.document.lines[0].quantity == Decimal("7")
    assert [p.role for p in t.document.parties] == [PartyRole.BUYER, PartyRole.DELIVERY]
    standard = translate(segments, load_mapping("D96A", "ORDERS"))
    assert standard.document is None  # QTY+59 is not an ordered quantity there


def test_mapping_files_are_checked_against_the_directory(tmp_path: Path) -> None:
    bad = tmp_path / "D96A_ORDERS_bad.toml"
    bad.write_text('extends = "D96A_ORDERS"\n[document]\nid = "SG25/BGM.1004"\n')
    with pytest.raises(
        MappingError, match="BGM is not a segment or segment group directly in SG25"
    ):
        read_mapping(bad)
    bad.write_text('extends = "D96A_ORDERS"\n[document]\nid = "BGM.9999"\n')
    with pytest.raises(MappingError, match="BGM has no data element 9999"):
        read_mapping(bad)


def test_every_shipped_mapping_compiles(schemas: tuple[Path, ...]) -> None:
    for directory, message in [*SUPPORTED, ("D96A", "QUOTES"), ("D01B", "QUOTES")]:
        assert load_mapping(directory, message).message.type == message
    assert load_mapping("D14B", "INVOIC", schemas=schemas).directory == "D14B"


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        ("20150109", "102", dt.date(2015, 1, 9)),
        ("150109", "101", dt.date(2015, 1, 9)),
        ("970830", "101", dt.date(1997, 8, 30)),
        ("201508030000", "203", dt.date(2015, 8, 3)),
        ("20150803235959", "204", dt.date(2015, 8, 3)),
        ("20130101-20131231", "718", dt.date(2013, 1, 1)),
        ("202601", "616", dt.date(2025, 12, 29)),  # ISO week 1 of 2026 starts on a Monday in 2025
        ("202602", "610", dt.date(2026, 2, 1)),
        ("20150230", "102", None),
        ("2015010", "102", None),
        ("201508032460", "203", None),
        ("20130101-2013123", "718", None),
        ("1", "804", None),  # a duration, not a day
    ],
)
def test_dates_by_format_qualifier(text: str, code: str, expected: dt.date | None) -> None:
    assert to_date(text, code) == expected


@pytest.mark.parametrize(
    ("text", "mark", "expected"),
    [
        ("12.50", ".", Decimal("12.50")),
        ("12,50", ",", Decimal("12.50")),
        ("-109.98", ".", Decimal("-109.98")),
        ("7", ",", Decimal("7")),
        ("12.50", ",", None),
        ("12,50", ".", None),
        ("1e5", ".", None),
        ("", ".", None),
    ],
)
def test_decimals_with_the_advised_mark(text: str, mark: str, expected: Decimal | None) -> None:
    assert to_decimal(text, mark) == expected


# -- robustness: bad input is an answer, not a crash ---------------------------------------------

VALUES = st.sampled_from(
    ["", "1", "21", "137", "BY", "9", "20260105", "102", "203", "1,5", "-", "ZZZ"]
)
ELEMENTS = st.lists(st.lists(VALUES | st.text(max_size=6), max_size=4), max_size=7)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(load_mapping("D96A", "ORDERS").message.root.tags())), ELEMENTS
        ),
        max_size=40,
    ),
    st.sampled_from(["ORDERS", "INVOIC", "QUOTES"]),
)
def test_any_segment_soup_translates_without_raising(
    soup: list[tuple[str, list[list[str]]]], message: str
) -> None:
    segments = [Segment(tag, elements, number=n + 1) for n, (tag, elements) in enumerate(soup)]
    t = translate(segments, load_mapping("D96A", message), decimal_mark=",")
    assert t.document is not None or any(f.severity.rejects for f in t.findings)
    assert all(f.source == "mapping" and f.code.startswith("mapping") for f in t.findings)


def test_an_empty_message_names_what_is_missing() -> None:
    t = translate([], load_mapping("D96A", "INVOIC"))
    assert t.document is None
    assert [f.location.path for f in t.findings] == ["id", "issue_date"]
    assert all(f.code == MappingCode.MISSING for f in t.findings)
