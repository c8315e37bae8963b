"""Translation: the mapping engine and the mapping files under mappings/xml/.

The central check is that one invoice, written once in UBL and once in CII, gives an equal
canonical Invoice; both texts are first shown to be schema-valid and EN 16931-valid, so the
pair is a real pair and not two documents shaped to fit the mappings.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from edi_gateway.formats.base import Limits
from edi_gateway.formats.xml import XmlFormat, XmlSettings, install_schemas
from edi_gateway.formats.xml.mapping import MappingError, MappingLibrary, XmlMapping
from edi_gateway.model import Identifier, Invoice, InvoiceType, Order, PartyRole, Tender
from tests.support import SHARED

UBL_INVOICE = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
  <cbc:ID>INV-2026-0042</cbc:ID>
  <cbc:IssueDate>2026-11-02</cbc:IssueDate>
  <cbc:DueDate>2026-12-02</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:Note>Delivered in two parts</cbc:Note>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>DEPT-7</cbc:BuyerReference>
  <cac:OrderReference><cbc:ID>PO-981</cbc:ID></cac:OrderReference>
  <cac:ContractDocumentReference><cbc:ID>FW-2025-3</cbc:ID></cac:ContractDocumentReference>
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0088">5790000435968</cbc:EndpointID>
      <cac:PartyIdentification><cbc:ID schemeID="0088">5790000435975</cbc:ID></cac:PartyIdentification>
      <cac:PartyName><cbc:Name>Acme Office</cbc:Name></cac:PartyName>
      <cac:PostalAddress>
        <cbc:StreetName>Main Street 1</cbc:StreetName>
        <cbc:CityName>Copenhagen</cbc:CityName>
        <cbc:PostalZone>1000</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DK</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>DK12345678</cbc:CompanyID>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Acme Office Supplies A/S</cbc:RegistrationName>
        <cbc:CompanyID schemeID="0184">12345678</cbc:CompanyID>
      </cac:PartyLegalEntity>
      <cac:Contact>
        <cbc:Name>Ann Seller</cbc:Name>
        <cbc:Telephone>+45 1234 5678</cbc:Telephone>
        <cbc:ElectronicMail>ann@acme.example</cbc:ElectronicMail>
      </cac:Contact>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0184">87654321</cbc:EndpointID>
      <cac:PostalAddress>
        <cbc:StreetName>Town Hall Square</cbc:StreetName>
        <cbc:CityName>Aarhus</cbc:CityName>
        <cbc:PostalZone>8000</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DK</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyLegalEntity><cbc:RegistrationName>Aarhus Municipality</cbc:RegistrationName></cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingCustomerParty>
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>
    <cac:PayeeFinancialAccount><cbc:ID>DK5000400440116243</cbc:ID></cac:PayeeFinancialAccount>
  </cac:PaymentMeans>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">62.50</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">250.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">62.50</cbc:TaxAmount>
      <cac:TaxCategory>
        <cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">250.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">250.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">312.50</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">312.50</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="C62">10</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">150.00</cbc:LineExtensionAmount>
    <cac:OrderLineReference><cbc:LineID>3</cbc:LineID></cac:OrderLineReference>
    <cac:Item>
      <cbc:Description>A4 paper, 80 g</cbc:Description>
      <cbc:Name>Paper A4</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>P-A4</cbc:ID></cac:SellersItemIdentification>
      <cac:StandardItemIdentification><cbc:ID schemeID="0160">05790000001234</cbc:ID></cac:StandardItemIdentification>
      <cac:ClassifiedTaxCategory>
        <cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">15.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
  <cac:InvoiceLine>
    <cbc:ID>2</cbc:ID>
    <cbc:InvoicedQuantity unitCode="C62">4</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>Toner</cbc:Name>
      <cac:ClassifiedTaxCategory>
        <cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">25.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
</Invoice>
"""

CII_INVOICE = """<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
  xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
  xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext>
    <ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>INV-2026-0042</ram:ID>
    <ram:TypeCode>380</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">20261102</udt:DateTimeString></ram:IssueDateTime>
    <ram:IncludedNote><ram:Content>Delivered in two parts</ram:Content></ram:IncludedNote>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct>
        <ram:GlobalID schemeID="0160">05790000001234</ram:GlobalID>
        <ram:SellerAssignedID>P-A4</ram:SellerAssignedID>
        <ram:Name>Paper A4</ram:Name>
        <ram:Description>A4 paper, 80 g</ram:Description>
      </ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:BuyerOrderReferencedDocument><ram:LineID>3</ram:LineID></ram:BuyerOrderReferencedDocument>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>15.00</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">10</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>
          <ram:RateApplicablePercent>25.00</ram:RateApplicablePercent>
        </ram:ApplicableTradeTax>
        <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>150.00</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>2</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>Toner</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>25.00</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">4</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>
          <ram:RateApplicablePercent>25</ram:RateApplicablePercent>
        </ram:ApplicableTradeTax>
        <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>100.00</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:BuyerReference>DEPT-7</ram:BuyerReference>
      <ram:SellerTradeParty>
        <ram:GlobalID schemeID="0088">5790000435975</ram:GlobalID>
        <ram:Name>Acme Office Supplies A/S</ram:Name>
        <ram:SpecifiedLegalOrganization>
          <ram:ID schemeID="0184">12345678</ram:ID>
          <ram:TradingBusinessName>Acme Office</ram:TradingBusinessName>
        </ram:SpecifiedLegalOrganization>
        <ram:DefinedTradeContact>
          <ram:PersonName>Ann Seller</ram:PersonName>
          <ram:TelephoneUniversalCommunication><ram:CompleteNumber>+45 1234 5678</ram:CompleteNumber></ram:TelephoneUniversalCommunication>
          <ram:EmailURIUniversalCommunication><ram:URIID>ann@acme.example</ram:URIID></ram:EmailURIUniversalCommunication>
        </ram:DefinedTradeContact>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>1000</ram:PostcodeCode>
          <ram:LineOne>Main Street 1</ram:LineOne>
          <ram:CityName>Copenhagen</ram:CityName>
          <ram:CountryID>DK</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication><ram:URIID schemeID="0088">5790000435968</ram:URIID></ram:URIUniversalCommunication>
        <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">DK12345678</ram:ID></ram:SpecifiedTaxRegistration>
      </ram:SellerTradeParty>
      <ram:BuyerTradeParty>
        <ram:Name>Aarhus Municipality</ram:Name>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>8000</ram:PostcodeCode>
          <ram:LineOne>Town Hall Square</ram:LineOne>
          <ram:CityName>Aarhus</ram:CityName>
          <ram:CountryID>DK</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication><ram:URIID schemeID="0184">87654321</ram:URIID></ram:URIUniversalCommunication>
      </ram:BuyerTradeParty>
      <ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>PO-981</ram:IssuerAssignedID></ram:BuyerOrderReferencedDocument>
      <ram:ContractReferencedDocument><ram:IssuerAssignedID>FW-2025-3</ram:IssuerAssignedID></ram:ContractReferencedDocument>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeDelivery/>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementPaymentMeans>
        <ram:TypeCode>58</ram:TypeCode>
        <ram:PayeePartyCreditorFinancialAccount><ram:IBANID>DK5000400440116243</ram:IBANID></ram:PayeePartyCreditorFinancialAccount>
      </ram:SpecifiedTradeSettlementPaymentMeans>
      <ram:ApplicableTradeTax>
        <ram:CalculatedAmount>62.50</ram:CalculatedAmount>
        <ram:TypeCode>VAT</ram:TypeCode>
        <ram:BasisAmount>250.00</ram:BasisAmount>
        <ram:CategoryCode>S</ram:CategoryCode>
        <ram:RateApplicablePercent>25</ram:RateApplicablePercent>
      </ram:ApplicableTradeTax>
      <ram:SpecifiedTradePaymentTerms>
        <ram:DueDateDateTime><udt:DateTimeString format="102">20261202</udt:DateTimeString></ram:DueDateDateTime>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:LineTotalAmount>250.00</ram:LineTotalAmount>
        <ram:TaxBasisTotalAmount>250.00</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">62.50</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>312.50</ram:GrandTotalAmount>
        <ram:DuePayableAmount>312.50</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
"""


@pytest.fixture(scope="module")
def fmt(tmp_path_factory: pytest.TempPathFactory) -> XmlFormat:
    data_dir = tmp_path_factory.mktemp("data")
    install_schemas("cii-d16b", SHARED / "xml" / "en16931" / "cii" / "schema", data_dir)
    install_schemas("en16931", SHARED / "xml" / "en16931", data_dir)
    install_schemas("ubl-2.1", SHARED / "xml" / "ubl-2.1", data_dir)
    install_schemas("ubl-2.2", SHARED / "xml" / "ubl-2.2", data_dir)
    return XmlFormat(XmlSettings(data_dir=data_dir))


def through(fmt: XmlFormat, text: str) -> tuple[list[str], object]:
    reader = fmt.open(io.BytesIO(text.encode("utf-8")), Limits())
    assert reader.envelope.findings == []
    (unit,) = reader.units()
    findings = reader.validate(unit)
    assert not [f for f in findings if f.code.endswith("NOT-INSTALLED")]
    translation = reader.translate(unit)
    assert translation.findings == []
    return [f"{f.code}: {f.text}" for f in findings if f.rejects], translation.document


def test_the_same_invoice_in_ubl_and_cii_is_the_same_canonical_invoice(fmt: XmlFormat) -> None:
    ubl_errors, from_ubl = through(fmt, UBL_INVOICE)
    cii_errors, from_cii = through(fmt, CII_INVOICE)
    assert ubl_errors == [] and cii_errors == []
    assert isinstance(from_ubl, Invoice) and isinstance(from_cii, Invoice)
    assert from_ubl == from_cii


def test_the_pair_carries_every_field_it_was_written_with(fmt: XmlFormat) -> None:
    _, invoice = through(fmt, UBL_INVOICE)
    assert isinstance(invoice, Invoice)
    assert (invoice.id, invoice.issue_date, invoice.due_date) == (
        "INV-2026-0042",
        date(2026, 11, 2),
        date(2026, 12, 2),
    )
    assert invoice.buyer_reference == "DEPT-7"
    assert [(r.type, r.id) for r in invoice.references] == [
        ("order", "PO-981"),
        ("contract", "FW-2025-3"),
    ]
    seller = invoice.party(PartyRole.SELLER)
    assert seller is not None
    assert seller.names == ["Acme Office Supplies A/S", "Acme Office"]
    assert seller.identifiers == [
        Identifier(value="5790000435968", scheme="0088"),
        Identifier(value="5790000435975", scheme="0088"),
        Identifier(value="12345678", scheme="0184"),
    ]
    assert seller.tax_ids == [Identifier(value="DK12345678", scheme="VAT")]
    assert seller.contact is not None and seller.contact.email == "ann@acme.example"
    assert seller.address is not None and seller.address.street == ["Main Street 1"]
    assert invoice.payment_means == ["58"]
    assert invoice.payment_accounts == [Identifier(value="DK5000400440116243")]
    assert [(line.id, line.quantity, line.unit, line.unit_price) for line in invoice.lines] == [
        ("1", Decimal(10), "C62", Decimal("15.00")),
        ("2", Decimal(4), "C62", Decimal("25.00")),
    ]
    assert invoice.lines[0].references[0].id == "3"
    assert invoice.totals.payable == Decimal("312.50")
    assert invoice.totals.tax_total == Decimal("62.50")
    assert [(t.category, t.rate, t.amount) for t in invoice.taxes] == [
        ("S", Decimal(25), Decimal("62.50"))
    ]


def test_a_changed_amount_breaks_the_equality(fmt: XmlFormat) -> None:
    _, from_ubl = through(fmt, UBL_INVOICE)
    _, from_cii = through(
        fmt, CII_INVOICE.replace("<ram:ChargeAmount>25.00", "<ram:ChargeAmount>25.01")
    )
    assert from_ubl != from_cii


def test_credit_note_becomes_an_invoice_of_type_credit_note(fmt: XmlFormat) -> None:
    path = SHARED / "xml" / "en16931" / "test" / "testfiles" / "CreditNote-Max_content.xml"
    errors, document = through(fmt, path.read_text(encoding="utf-8"))
    assert errors == []
    assert isinstance(document, Invoice)
    assert document.invoice_type == InvoiceType.CREDIT_NOTE
    assert all(line.quantity for line in document.lines)


def test_order_is_translated(fmt: XmlFormat) -> None:
    path = SHARED / "corpus" / "xml" / "ubl-2.1-examples" / "UBL-Order-2.1-Example.xml"
    _, order = through(fmt, path.read_text(encoding="utf-8"))
    assert isinstance(order, Order)
    buyer = order.party(PartyRole.BUYER)
    assert buyer is not None and buyer.names[0] == "Johnssons Byggvaror AB"
    assert order.reference("contract") is not None
    assert [(line.id, line.quantity, line.unit) for line in order.lines] == [
        ("1", Decimal(120), "LTR"),
        ("2", Decimal(15), "C62"),
    ]
    assert order.requested_delivery_date == date(2010, 2, 10)
    assert order.totals.payable == Decimal("6225")


UBL_TENDER = """<?xml version="1.0" encoding="UTF-8"?>
<Tender xmlns="urn:oasis:names:specification:ubl:schema:xsd:Tender-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:UBLVersionID>2.2</cbc:UBLVersionID>
  <cbc:ID>TND-77</cbc:ID>
  <cbc:ContractFolderID>CFT-2026-014</cbc:ContractFolderID>
  <cbc:IssueDate>2026-10-15</cbc:IssueDate>
  <cac:ValidityPeriod><cbc:EndDate>2027-01-31</cbc:EndDate></cac:ValidityPeriod>
  <cac:TendererParty>
    <cac:PartyName><cbc:Name>Builders Ltd</cbc:Name></cac:PartyName>
    <cac:PartyLegalEntity><cbc:CompanyID schemeID="0184">11223344</cbc:CompanyID></cac:PartyLegalEntity>
  </cac:TendererParty>
  <cac:ContractingParty>
    <cac:Party><cac:PartyName><cbc:Name>City of Aarhus</cbc:Name></cac:PartyName></cac:Party>
  </cac:ContractingParty>
  <cac:TenderedProject>
    <cac:ProcurementProjectLot><cbc:ID>LOT-2</cbc:ID></cac:ProcurementProjectLot>
    <cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="DKK">1200000</cbc:PayableAmount></cac:LegalMonetaryTotal>
    <cac:TenderLine>
      <cbc:ID>1</cbc:ID>
      <cbc:Quantity unitCode="C62">1</cbc:Quantity>
      <cbc:LineExtensionAmount currencyID="DKK">1200000</cbc:LineExtensionAmount>
      <cac:Item><cbc:Name>School roof renovation</cbc:Name></cac:Item>
    </cac:TenderLine>
  </cac:TenderedProject>
</Tender>
"""


def test_tender_2_2_is_schema_valid_and_translated(fmt: XmlFormat) -> None:
    errors, tender = through(fmt, UBL_TENDER)
    assert errors == []
    assert isinstance(tender, Tender)
    assert tender.id == "TND-77" and tender.currency == "DKK"
    assert tender.lots == ["LOT-2"]
    assert tender.validity_end == date(2027, 1, 31)
    cft = tender.reference("call_for_tenders")
    assert cft is not None and cft.id == "CFT-2026-014"
    tenderer = tender.party(PartyRole.TENDERER)
    assert tenderer is not None and tenderer.names == ["Builders Ltd"]
    authority = tender.party(PartyRole.CONTRACTING_AUTHORITY)
    assert authority is not None and authority.names == ["City of Aarhus"]
    assert tender.totals.payable == Decimal(1200000)


def test_every_mapping_file_loads_and_compiles() -> None:
    library = MappingLibrary()
    names = sorted(p.stem for p in library.directory.glob("*.toml") if p.stem != "ubl-common-2.1")
    assert names == [
        "cii-invoice-d16b",
        "ubl-creditnote-2.1",
        "ubl-invoice-2.1",
        "ubl-order-2.1",
        "ubl-tender-2.2",
    ]
    for name in names:
        library.get(name)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_partner_variant_extends_a_mapping_and_replaces_one_field(tmp_path: Path) -> None:
    write(
        tmp_path / "base.toml",
        """
kind = "order"
[namespaces]
o = "urn:example:o"
[document]
id = "o:Number"
issue_date = "o:Date"
lines = [{ each = "o:Line", fields = { id = "@n", quantity = "." } }]
""",
    )
    write(
        tmp_path / "variant.toml",
        """
extends = "base"
[document]
id = { path = "o:AltNumber", map = { "X" = "mapped" }, otherwise = "unmapped" }
""",
    )
    root = etree.fromstring(
        b'<o:Order xmlns:o="urn:example:o"><o:Number>1</o:Number><o:AltNumber>X</o:AltNumber>'
        b'<o:Date>2026-01-02</o:Date><o:Line n="a">3</o:Line><o:Line n="b"> 4 </o:Line></o:Order>'
    )
    base, _ = XmlMapping.load(tmp_path / "base.toml").translate(root)
    variant, _ = XmlMapping.load(tmp_path / "variant.toml").translate(root)
    assert isinstance(base, Order) and isinstance(variant, Order)
    assert (base.id, variant.id) == ("1", "mapped")
    assert [(line.id, line.quantity) for line in variant.lines] == [
        ("a", Decimal(3)),
        ("b", Decimal(4)),
    ]


def test_a_bad_mapping_is_refused_when_loaded(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="bad XPath"):
        XmlMapping.load(write(tmp_path / "a.toml", 'kind = "order"\n[document]\nid = "o:["\n'))
    with pytest.raises(MappingError, match="unknown template"):
        XmlMapping.load(
            write(tmp_path / "b.toml", 'kind = "order"\n[document]\nid = { use = "nope" }\n')
        )
    with pytest.raises(MappingError, match="circular"):
        XmlMapping.load(write(tmp_path / "c.toml", 'extends = "c"\nkind = "order"\n[document]\n'))


def test_data_the_model_refuses_is_a_finding_not_an_exception(tmp_path: Path) -> None:
    mapping = XmlMapping.load(
        write(
            tmp_path / "m.toml",
            """
kind = "invoice"
[document]
id = "Number"
issue_date = { path = "Date", convert = "date102" }
currency = "Currency"
""",
        )
    )
    root = etree.fromstring(
        b"<I><Number>7</Number><Date>2026-13-45</Date><Currency>euro</Currency></I>"
    )
    document, findings = mapping.translate(root, message=0)
    assert document is None
    assert sorted(f.location.path or "" for f in findings) == ["currency", "issue_date"]
    assert all(f.code == "MAPPING" and f.rejects for f in findings)
