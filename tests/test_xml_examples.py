"""Every public example document, end to end through XmlFormat, with its expected verdict.

The EN 16931 examples and test files are valid: schema-valid, no fatal business rule, and
translated. The OASIS UBL 2.1 examples are schema-valid, but the Invoice and CreditNote fail
EN 16931 (they predate it); the exact rule sets observed are asserted, so a change in the rules
or in how we run them shows up here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from edi_gateway.formats.base import Limits
from edi_gateway.formats.xml import XmlFormat, XmlSettings, install_schemas
from edi_gateway.model import Finding, Invoice, InvoiceType, Order
from tests.support import SHARED

EN16931 = SHARED / "xml" / "en16931"
OASIS = SHARED / "corpus" / "xml" / "ubl-2.1-examples"

VALID = sorted(
    [
        *(EN16931 / "ubl" / "examples").iterdir(),
        *(EN16931 / "cii" / "examples").iterdir(),
        *(EN16931 / "test" / "testfiles").iterdir(),
    ]
)


@pytest.fixture(scope="module")
def fmt(tmp_path_factory: pytest.TempPathFactory) -> XmlFormat:
    data_dir = tmp_path_factory.mktemp("data")
    install_schemas("ubl-2.1", SHARED / "xml" / "ubl-2.1", data_dir)
    install_schemas("ubl-2.2", SHARED / "xml" / "ubl-2.2", data_dir)
    install_schemas("cii-d16b", EN16931 / "cii" / "schema", data_dir)
    install_schemas("en16931", EN16931, data_dir)
    return XmlFormat(XmlSettings(data_dir=data_dir))


@dataclass
class Run:
    envelope_findings: list[Finding]
    xsd: list[Finding]
    rules: list[Finding]
    document: object
    translation_findings: list[Finding]

    @property
    def fatal_rules(self) -> set[str]:
        return {f.code for f in self.rules if f.rejects}


def run(fmt: XmlFormat, path: Path) -> Run:
    reader = fmt.open(io.BytesIO(path.read_bytes()), Limits())
    units = list(reader.units())
    if not units:
        return Run(reader.envelope.findings, [], [], None, [])
    assert len(units) == 1
    findings = reader.validate(units[0])
    translation = reader.translate(units[0])
    return Run(
        reader.envelope.findings,
        [f for f in findings if f.source == "xsd"],
        [f for f in findings if f.source != "xsd"],
        translation.document,
        translation.findings,
    )


def test_the_corpus_is_there() -> None:
    assert len(VALID) == 15 + 19 + 29


@pytest.mark.parametrize(
    "path", VALID, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}"
)
def test_en16931_example_is_valid_and_translated(fmt: XmlFormat, path: Path) -> None:
    result = run(fmt, path)
    assert result.envelope_findings == []
    assert result.xsd == []
    assert [f for f in result.rules if f.rejects] == []
    assert not any(f.code.endswith("NOT-INSTALLED") for f in result.rules)
    assert isinstance(result.document, Invoice), result.translation_findings
    assert result.document.lines


OASIS_INVOICE_RULES = {
    "BR-01",
    "BR-32",
    "BR-37",
    "BR-CL-10",
    "BR-CL-11",
    "BR-CL-13",
    "BR-CL-17",
    "BR-CL-18",
    "BR-CL-21",
    "BR-CL-22",
    "BR-CL-25",
    "BR-CL-26",
    "BR-CO-15",
    "BR-CO-16",
    "UBL-DT-01",
    "UBL-DT-07",
}
OASIS_CREDIT_NOTE_RULES = {
    "BR-01",
    "BR-04",
    "BR-32",
    "BR-37",
    "BR-CL-10",
    "BR-CL-11",
    "BR-CL-13",
    "BR-CL-17",
    "BR-CL-18",
    "BR-CL-21",
    "BR-CL-22",
    "BR-CL-25",
    "BR-CO-15",
    "BR-CO-16",
    "UBL-DT-01",
    "UBL-DT-07",
}
OASIS_TRIVIAL_RULES = {
    "BR-01",
    "BR-04",
    "BR-05",
    "BR-06",
    "BR-07",
    "BR-08",
    "BR-10",
    "BR-12",
    "BR-13",
    "BR-14",
    "BR-22",
    "BR-23",
    "BR-25",
    "BR-26",
    "BR-27",
    "BR-CO-04",
    "BR-CO-10",
    "BR-CO-13",
    "BR-CO-16",
    "BR-CO-18",
    "BR-CO-26",
    "UBL-SR-48",
}


def test_oasis_invoice_passes_the_schema_and_fails_en16931(fmt: XmlFormat) -> None:
    result = run(fmt, OASIS / "UBL-Invoice-2.1-Example.xml")
    assert result.xsd == []
    assert result.fatal_rules == OASIS_INVOICE_RULES
    assert isinstance(result.document, Invoice)
    assert result.document.id == "TOSL108"


def test_oasis_credit_note_passes_the_schema_and_fails_en16931(fmt: XmlFormat) -> None:
    result = run(fmt, OASIS / "UBL-CreditNote-2.1-Example.xml")
    assert result.xsd == []
    assert result.fatal_rules == OASIS_CREDIT_NOTE_RULES
    assert isinstance(result.document, Invoice)
    assert result.document.invoice_type == InvoiceType.CREDIT_NOTE


def test_oasis_trivial_invoice_fails_rules_and_has_no_quantity(fmt: XmlFormat) -> None:
    result = run(fmt, OASIS / "UBL-Invoice-2.1-Example-Trivial.xml")
    assert result.xsd == []
    assert result.fatal_rules == OASIS_TRIVIAL_RULES
    assert result.document is None
    assert [(f.code, f.location.path) for f in result.translation_findings] == [
        ("MAPPING", "lines.0.quantity")
    ]


def test_oasis_order_is_valid_and_translated(fmt: XmlFormat) -> None:
    result = run(fmt, OASIS / "UBL-Order-2.1-Example.xml")
    assert result.xsd == [] and result.rules == []
    assert isinstance(result.document, Order)
    assert result.document.id == "34"
    assert len(result.document.lines) == 2


def test_oasis_order_response_is_valid_but_not_translated(fmt: XmlFormat) -> None:
    result = run(fmt, OASIS / "UBL-OrderResponse-2.1-Example.xml")
    assert result.xsd == [] and result.rules == []
    assert result.document is None
    assert [f.code for f in result.translation_findings] == ["XML-NO-MAPPING"]


@pytest.mark.parametrize(
    "name",
    [
        "DebitNote",
        "OrderCancellation",
        "OrderChange",
        "OrderResponseSimple",
        "Quotation",
        "Reminder",
        "RequestForQuotation",
    ],
)
def test_oasis_documents_outside_the_catalogue_are_refused(fmt: XmlFormat, name: str) -> None:
    result = run(fmt, OASIS / f"UBL-{name}-2.1-Example.xml")
    assert [(f.code, f.rejects) for f in result.envelope_findings] == [("XML-UNKNOWN", True)]
