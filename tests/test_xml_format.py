"""XmlFormat as the pipeline sees it: sniffing, the SBDH envelope, units, pluggable rule sets,
threads, and the ApplicationResponse it answers with (validated against the UBL XSD)."""

from __future__ import annotations

import datetime as dt
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lxml import etree

from edi_gateway.formats.base import (
    AckOptions,
    AckPolicy,
    Format,
    InterchangeOutcome,
    Limits,
    Reader,
    Registry,
    UnitOutcome,
    Verdict,
)
from edi_gateway.formats.xml import ExtraRuleSet, XmlFormat, XmlSettings, install_schemas
from edi_gateway.formats.xml.ack import AR_NS, CAC_NS, CBC_NS, build_application_response
from edi_gateway.model import DocumentKind, Finding, Identifier, Invoice, Location, Severity
from tests.support import SHARED

EXAMPLES = SHARED / "xml" / "en16931" / "ubl" / "examples"
INVOICE = EXAMPLES / "ubl-tc434-example1.xml"
SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data")
    install_schemas("ubl-2.1", SHARED / "xml" / "ubl-2.1", path)
    install_schemas("ubl-2.2", SHARED / "xml" / "ubl-2.2", path)
    return path


@pytest.fixture(scope="module")
def fmt(data_dir: Path) -> XmlFormat:
    return XmlFormat(
        XmlSettings(
            data_dir=data_dir,
            ack_sender=Identifier(value="0088:5790000000001", scheme="iso6523-actorid-upis"),
        )
    )


def wrap_in_sbdh(document: bytes) -> bytes:
    body = document.split(b"?>", 1)[1] if document.startswith(b"<?xml") else document
    return (
        f"""<?xml version="1.0" encoding="UTF-8"?>
<StandardBusinessDocument xmlns="{SBDH_NS}">
  <StandardBusinessDocumentHeader>
    <HeaderVersion>1.0</HeaderVersion>
    <Sender><Identifier Authority="iso6523-actorid-upis">0088:7315458756324</Identifier></Sender>
    <Receiver><Identifier Authority="iso6523-actorid-upis">0184:87654321</Identifier></Receiver>
    <DocumentIdentification>
      <Standard>urn:oasis:names:specification:ubl:schema:xsd:Invoice-2</Standard>
      <TypeVersion>2.1</TypeVersion>
      <InstanceIdentifier>4f8a2c3e-0b1d-4e57-9c3a-1d2e3f405162</InstanceIdentifier>
      <Type>Invoice</Type>
      <CreationDateAndTime>2026-11-20T10:15:00Z</CreationDateAndTime>
    </DocumentIdentification>
  </StandardBusinessDocumentHeader>
""".encode()
        + body
        + b"\n</StandardBusinessDocument>\n"
    )


def test_xml_format_satisfies_the_format_protocol(fmt: XmlFormat) -> None:
    registered: Format = fmt
    registry = Registry([registered])
    assert registry.detect(INVOICE.read_bytes()[:4096]) is fmt
    reader: Reader = fmt.open(io.BytesIO(INVOICE.read_bytes()), Limits())
    assert reader.trailer_findings() == []


@pytest.mark.parametrize(
    "head",
    [
        INVOICE.read_bytes()[:4096],
        b"\xef\xbb\xbf  \n" + INVOICE.read_bytes()[:4000],
        INVOICE.read_text(encoding="utf-8")[:2000].encode("utf-16"),
        wrap_in_sbdh(b"<x/>")[:4096],
        (SHARED / "xml" / "en16931" / "cii" / "examples" / "CII_example1.xml").read_bytes()[:4096],
    ],
)
def test_sniff_recognises_ubl_cii_and_sbdh(fmt: XmlFormat, head: bytes) -> None:
    assert fmt.sniff(head)


@pytest.mark.parametrize(
    "head",
    [
        b"UNA:+.? 'UNB+UNOC:3+SENDER+RECEIVER+200101:1200+1'",
        b'{"documents": []}',
        b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'/>",
        b"",
    ],
)
def test_sniff_leaves_other_payloads_alone(fmt: XmlFormat, head: bytes) -> None:
    assert not fmt.sniff(head)


def test_a_plain_document_is_one_unit(fmt: XmlFormat) -> None:
    reader = fmt.open(io.BytesIO(INVOICE.read_bytes()), Limits())
    assert reader.envelope.standard == "ubl"
    assert reader.envelope.sender == []
    (unit,) = reader.units()
    assert unit.index == 0
    assert unit.kind == DocumentKind.INVOICE
    assert unit.reference == "12115118"
    assert (
        unit.message_type == "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice::2.1"
    )


def test_sbdh_envelope_is_unwrapped(fmt: XmlFormat) -> None:
    reader = fmt.open(io.BytesIO(wrap_in_sbdh(INVOICE.read_bytes())), Limits())
    envelope = reader.envelope
    assert envelope.findings == []
    assert envelope.standard == "ubl"
    assert envelope.sender == [
        Identifier(value="0088:7315458756324", scheme="iso6523-actorid-upis")
    ]
    assert envelope.recipient == [Identifier(value="0184:87654321", scheme="iso6523-actorid-upis")]
    assert envelope.control_reference == "4f8a2c3e-0b1d-4e57-9c3a-1d2e3f405162"
    assert envelope.prepared_at == dt.datetime(2026, 11, 20, 10, 15, tzinfo=dt.UTC)
    (unit,) = reader.units()
    assert unit.reference == "12115118"
    # the payload inside the envelope is validated and translated as if it stood alone
    assert reader.validate(unit) == []
    translation = reader.translate(unit)
    assert translation.document is not None and translation.document.id == "12115118"


def test_an_sbdh_without_a_document_is_refused(fmt: XmlFormat) -> None:
    payload = wrap_in_sbdh(b"").replace(
        b"\n</StandardBusinessDocument>", b"</StandardBusinessDocument>"
    )
    reader = fmt.open(io.BytesIO(payload), Limits())
    assert [(f.code, f.rejects) for f in reader.envelope.findings] == [("SBDH", True)]
    assert list(reader.units()) == []


def test_ubl_version_id_selects_the_2_2_schema(fmt: XmlFormat) -> None:
    text = INVOICE.read_text(encoding="utf-8").replace(
        "<cbc:CustomizationID>", "<cbc:UBLVersionID>2.2</cbc:UBLVersionID><cbc:CustomizationID>", 1
    )
    reader = fmt.open(io.BytesIO(text.encode()), Limits())
    (unit,) = reader.units()
    assert unit.message_type.endswith("::2.2")
    assert [f.code for f in reader.validate(unit) if f.source == "xsd"] == []


def test_an_unknown_ubl_version_is_a_warning(fmt: XmlFormat) -> None:
    text = INVOICE.read_text(encoding="utf-8").replace(
        "<cbc:CustomizationID>", "<cbc:UBLVersionID>2.9</cbc:UBLVersionID><cbc:CustomizationID>", 1
    )
    reader = fmt.open(io.BytesIO(text.encode()), Limits())
    assert [(f.code, f.severity) for f in reader.envelope.findings] == [
        ("XML-VERSION", Severity.WARNING)
    ]


def test_schema_errors_are_findings_with_line_and_xpath(fmt: XmlFormat) -> None:
    text = INVOICE.read_text(encoding="utf-8").replace(
        "<cbc:IssueDate>2015-01-09", "<cbc:IssueDate>09.01.2015"
    )
    reader = fmt.open(io.BytesIO(text.encode()), Limits())
    (unit,) = reader.units()
    xsd = [f for f in reader.validate(unit) if f.source == "xsd"]
    assert len(xsd) == 1
    assert xsd[0].code == "XSD" and xsd[0].rejects
    assert xsd[0].location.line == 17
    assert xsd[0].location.xpath == "/*/cbc:IssueDate"
    assert "09.01.2015" in xsd[0].text


NATIONAL_RULE = """<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:svrl="http://purl.oclc.org/dsdl/svrl"
    xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <xsl:template match="/">
    <svrl:schematron-output>
      <xsl:if test="not(starts-with(/*/cbc:BuyerReference, 'NAT-'))">
        <svrl:failed-assert id="NAT-01" flag="fatal" location="/*/cbc:BuyerReference">
          <svrl:text>The buyer reference shall start with NAT-.</svrl:text>
        </svrl:failed-assert>
      </xsl:if>
      <svrl:failed-assert id="NAT-02" flag="warning" location="/*">
        <svrl:text>Always says hello.</svrl:text>
      </svrl:failed-assert>
    </svrl:schematron-output>
  </xsl:template>
</xsl:stylesheet>
"""


def test_a_national_rule_set_is_added_by_configuration(data_dir: Path, tmp_path: Path) -> None:
    xslt = tmp_path / "national.xslt"
    xslt.write_text(NATIONAL_RULE)
    fmt = XmlFormat(
        XmlSettings(
            data_dir=data_dir, extra_rules={"ubl-invoice": [ExtraRuleSet("nat-cius", xslt)]}
        )
    )
    reader = fmt.open(io.BytesIO(INVOICE.read_bytes()), Limits())
    (unit,) = reader.units()
    findings = reader.validate(unit)
    assert [(f.code, f.severity, f.source, f.location.xpath) for f in findings] == [
        ("NAT-01", Severity.FATAL, "nat-cius", "/*/cbc:BuyerReference"),
        ("NAT-02", Severity.WARNING, "nat-cius", "/*"),
    ]
    order = SHARED / "corpus" / "xml" / "ubl-2.1-examples" / "UBL-Order-2.1-Example.xml"
    reader = fmt.open(io.BytesIO(order.read_bytes()), Limits())
    (unit,) = reader.units()
    assert reader.validate(unit) == []  # the national rules are for invoices only


def test_rules_run_in_parallel_threads_with_the_same_results(fmt: XmlFormat) -> None:
    oasis = SHARED / "corpus" / "xml" / "ubl-2.1-examples" / "UBL-Invoice-2.1-Example.xml"
    paths = [*sorted(EXAMPLES.glob("*.xml"))[:8], oasis]

    def codes(path: Path) -> list[str]:
        reader = fmt.open(io.BytesIO(path.read_bytes()), Limits())
        (unit,) = reader.units()
        return sorted(f.code for f in reader.validate(unit))

    sequential = [codes(p) for p in paths]
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = list(pool.map(codes, paths * 2))
    assert parallel == sequential * 2
    assert "BR-01" in sequential[-1]


# -- acknowledgements ------------------------------------------------------------------------


def outcome(verdict: Verdict, findings: list[Finding], envelope_from: bytes) -> InterchangeOutcome:
    fmt = XmlFormat()
    reader = fmt.open(io.BytesIO(envelope_from), Limits())
    (unit,) = reader.units()
    return InterchangeOutcome(
        interchange_id="01JABCDEF",
        partner_id="acme",
        received_at=dt.datetime(2026, 11, 20, 10, 16, tzinfo=dt.UTC),
        raw_sha256="ab" * 32,
        envelope=reader.envelope,
        verdict=verdict,
        findings=[],
        units=[
            UnitOutcome(
                0, unit.message_type, unit.reference, verdict, findings, business_id=unit.reference
            )
        ],
    )


REJECTING = [
    Finding(
        code="BR-01",
        severity=Severity.FATAL,
        text="An Invoice shall have a Specification identifier (BT-24).",
        location=Location(message=0, xpath="/*:Invoice[1]"),
        source="en16931-ubl",
    ),
    Finding(
        code="XSD",
        severity=Severity.ERROR,
        text="Element 'cbc:IssueDate': not a valid value.",
        location=Location(message=0, line=17, xpath="/*/cbc:IssueDate"),
        source="xsd",
    ),
    Finding(
        code="UBL-CR-099",
        severity=Severity.WARNING,
        text="should not include ...",
        source="en16931-ubl",
    ),
]


@pytest.fixture(scope="module")
def application_response_schema(data_dir: Path) -> etree.XMLSchema:
    return etree.XMLSchema(
        etree.parse(
            str(data_dir / "schemas" / "ubl-2.1" / "maindoc" / "UBL-ApplicationResponse-2.1.xsd")
        )
    )


def test_rejection_is_an_schema_valid_mlr_with_one_line_per_finding(
    fmt: XmlFormat, application_response_schema: etree.XMLSchema
) -> None:
    result = outcome(Verdict.REJECTED, REJECTING, wrap_in_sbdh(INVOICE.read_bytes()))
    (ack,) = fmt.acknowledge(result, AckOptions())
    assert (ack.kind, ack.positive, ack.media_type) == (
        "application-response",
        False,
        "application/xml",
    )
    root = etree.fromstring(ack.content)
    application_response_schema.assertValid(root)
    ns = {"ar": AR_NS, "cac": CAC_NS, "cbc": CBC_NS}
    assert (
        root.findtext("cbc:CustomizationID", namespaces=ns) == "urn:fdc:peppol.eu:poacc:trns:mlr:3"
    )
    assert root.findtext("cac:SenderParty/cbc:EndpointID", namespaces=ns) == "5790000000001"
    receiver = root.find("cac:ReceiverParty/cbc:EndpointID", ns)
    assert receiver is not None and (receiver.text, receiver.get("schemeID")) == (
        "7315458756324",
        "0088",
    )
    response = root.find("cac:DocumentResponse", ns)
    assert response is not None
    assert response.findtext("cac:Response/cbc:ResponseCode", namespaces=ns) == "RE"
    assert (
        response.findtext("cac:DocumentReference/cbc:ID", namespaces=ns)
        == "4f8a2c3e-0b1d-4e57-9c3a-1d2e3f405162"
    )
    lines = [
        (
            line.findtext("cac:LineReference/cbc:LineID", namespaces=ns),
            line.findtext("cac:Response/cac:Status/cbc:StatusReasonCode", namespaces=ns),
            line.findtext("cac:Response/cbc:Description", namespaces=ns)[:7],
        )
        for line in response.iterfind("cac:LineResponse", ns)
    ]
    assert lines == [
        ("/*:Invoice[1]", "BV", "[BR-01]"),
        ("/*/cbc:IssueDate", "SV", "[XSD] E"),
        ("NA", "BW", "[UBL-CR"),
    ]


def test_acceptance_is_ap_and_only_sent_when_asked(
    fmt: XmlFormat, application_response_schema: etree.XMLSchema
) -> None:
    result = outcome(Verdict.ACCEPTED, [], INVOICE.read_bytes())
    assert fmt.acknowledge(result, AckOptions(application_ack=AckPolicy.ON_ERROR)) == []
    assert fmt.acknowledge(result, AckOptions(application_ack=AckPolicy.NEVER)) == []
    (ack,) = fmt.acknowledge(result, AckOptions(application_ack=AckPolicy.ALWAYS))
    assert ack.positive
    root = etree.fromstring(ack.content)
    application_response_schema.assertValid(root)
    assert (
        root.findtext(f"{{{CAC_NS}}}DocumentResponse/{{{CAC_NS}}}Response/{{{CBC_NS}}}ResponseCode")
        == "AP"
    )
    # no SBDH: the raw payload's hash identifies what is answered, the partner id who is answered
    assert (
        root.findtext(f"{{{CAC_NS}}}DocumentResponse/{{{CAC_NS}}}DocumentReference/{{{CBC_NS}}}ID")
        == "ab" * 32
    )
    assert (
        root.findtext(f"{{{CAC_NS}}}ReceiverParty/{{{CAC_NS}}}PartyIdentification/{{{CBC_NS}}}ID")
        == "acme"
    )


def test_a_refused_payload_still_gets_a_valid_rejection(
    application_response_schema: etree.XMLSchema,
) -> None:
    fmt = XmlFormat()
    reader = fmt.open(io.BytesIO(b"<Invoice><broken></Invoice>"), Limits())
    result = InterchangeOutcome(
        "01JXYZ",
        None,
        dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        "cd" * 32,
        reader.envelope,
        Verdict.REJECTED,
        reader.envelope.findings,
        [],
    )
    content = build_application_response(
        result, now=dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), response_id="R1"
    )
    root = etree.fromstring(content)
    application_response_schema.assertValid(root)
    assert root.findtext(f"{{{CBC_NS}}}IssueDate") == "2026-11-20"
    status = root.findtext(
        f".//{{{CAC_NS}}}LineResponse/{{{CAC_NS}}}Response/{{{CAC_NS}}}Status/{{{CBC_NS}}}StatusReason"
    )
    assert status == "XML-SYNTAX"


def test_warm_up_compiles_what_is_installed(data_dir: Path) -> None:
    compiled = XmlFormat(XmlSettings(data_dir=data_dir)).warm_up()
    names = {p.name for p in compiled}
    assert "UBL-Invoice-2.1.xsd" in names and "UBL-Tender-2.2.xsd" in names
    assert "EN16931-UBL-validation.xslt" in names
    assert "EN16931-CII-validation.xslt" not in names  # not installed in this data dir


def test_a_flood_of_rule_findings_is_capped() -> None:
    from edi_gateway.formats.xml.rules import MAX_FINDINGS, svrl_findings

    asserts = '<svrl:failed-assert id="R" flag="fatal" location="/"><svrl:text>t</svrl:text></svrl:failed-assert>'
    svrl = f'<svrl:schematron-output xmlns:svrl="http://purl.oclc.org/dsdl/svrl">{asserts * (MAX_FINDINGS + 5)}</svrl:schematron-output>'
    findings = svrl_findings(svrl.encode(), "r")
    assert len(findings) == MAX_FINDINGS + 1
    assert findings[-1].code == "RULES"


@pytest.mark.parametrize(("flag", "expected"), [("true", True), ("false", False), (None, False)])
def test_the_cii_test_indicator_marks_the_envelope(
    fmt: XmlFormat, flag: str | None, expected: bool
) -> None:
    text = (SHARED / "xml" / "en16931" / "cii" / "examples" / "CII_example1.xml").read_text(
        encoding="utf-8"
    )
    if flag is not None:
        text = text.replace(
            "<rsm:ExchangedDocumentContext>",
            f"<rsm:ExchangedDocumentContext><ram:TestIndicator><udt:Indicator>{flag}</udt:Indicator></ram:TestIndicator>",
        )
    reader = fmt.open(io.BytesIO(text.encode()), Limits())
    assert reader.envelope.test is expected
    (unit,) = reader.units()
    assert unit.reference == "12115118"
    document = reader.translate(unit).document
    assert document is not None and document.test is expected


def test_invoice_response_tells_the_seller_the_buyers_decision(
    application_response_schema: etree.XMLSchema,
) -> None:
    from edi_gateway.formats.xml.invoice_response import (
        InvoiceStatus,
        StatusReason,
        build_invoice_response,
    )

    reader = XmlFormat().open(io.BytesIO(INVOICE.read_bytes()), Limits())
    (unit,) = reader.units()
    invoice = reader.translate(unit).document
    assert isinstance(invoice, Invoice)
    content = build_invoice_response(
        invoice,
        InvoiceStatus.REJECTED,
        [StatusReason("PRI", "Unit price of line 3 differs from the contract")],
        now=dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC),
        response_id="IR-1",
    )
    root = etree.fromstring(content)
    application_response_schema.assertValid(root)
    ns = {"cac": CAC_NS, "cbc": CBC_NS}
    assert (
        root.findtext("cbc:CustomizationID", namespaces=ns)
        == "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
    )
    assert (
        root.findtext("cac:SenderParty/cac:PartyLegalEntity/cbc:RegistrationName", namespaces=ns)
        == "ODIN 59"
    )
    assert (
        root.findtext("cac:ReceiverParty/cac:PartyLegalEntity/cbc:RegistrationName", namespaces=ns)
        == "De Koksmaat"
    )
    response = "cac:DocumentResponse/cac:Response/"
    assert root.findtext(response + "cbc:ResponseCode", namespaces=ns) == "RE"
    assert root.findtext(response + "cac:Status/cbc:StatusReasonCode", namespaces=ns) == "PRI"
    assert (
        root.findtext("cac:DocumentResponse/cac:DocumentReference/cbc:ID", namespaces=ns)
        == "12115118"
    )
