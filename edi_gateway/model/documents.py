"""The canonical data model: the one shape every document has after translation.

Back offices receive these documents (as JSON) from their queues, whatever the standard and
channel the sender used. Money and quantities are `Decimal` (serialised as strings so no
precision is lost in JSON), dates are ISO 8601.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Decimal in, JSON string out: "12.50" keeps its scale and survives every JSON parser.
Amount = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]
Code = Annotated[str, Field(min_length=1, max_length=35)]
Text = Annotated[str, Field(max_length=512)]


class DocumentKind(StrEnum):
    ORDER = "order"
    INVOICE = "invoice"
    TENDER = "tender"


class InvoiceType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    CORRECTIVE = "corrective"
    PREPAYMENT = "prepayment"
    SELF_BILLED = "self_billed"


class PartyRole(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    INVOICEE = "invoicee"
    DELIVERY = "delivery"
    PAYEE = "payee"
    TENDERER = "tenderer"
    CONTRACTING_AUTHORITY = "contracting_authority"
    OTHER = "other"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


class Identifier(_Model):
    """An identifier and the scheme it belongs to (ISO 6523 ICD such as 0088 GLN, a VAT number
    scheme such as `VAT`, an EDIFACT code list agency such as `9`)."""

    value: Code
    scheme: Code | None = None


class Address(_Model):
    street: list[Text] = Field(default_factory=list)
    city: Text | None = None
    postal_code: Code | None = None
    subdivision: Text | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class Contact(_Model):
    name: Text | None = None
    phone: Text | None = None
    email: Text | None = None


class Party(_Model):
    role: PartyRole
    names: list[Text] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(default_factory=list)
    tax_ids: list[Identifier] = Field(default_factory=list)
    address: Address | None = None
    contact: Contact | None = None


class Reference(_Model):
    """A reference to another business object (an order, a contract, a call for tenders...)."""

    type: Literal[
        "order", "contract", "call_for_tenders", "lot", "invoice", "despatch", "project", "other"
    ]
    id: Code
    date: dt.date | None = None


class Tax(_Model):
    category: Code = Field(description="UNCL5305 tax category, e.g. S, Z, E, AE")
    rate: Amount | None = Field(default=None, description="percent")
    scheme: Code = "VAT"
    taxable_amount: Amount | None = None
    amount: Amount | None = None


class Line(_Model):
    id: Code
    item_name: Text | None = None
    description: Text | None = None
    item_ids: list[Identifier] = Field(default_factory=list)
    quantity: Amount
    unit: Code | None = Field(default=None, description="UN/ECE Rec 20 unit code")
    unit_price: Amount | None = None
    price_base_quantity: Amount | None = None
    line_amount: Amount | None = None
    tax: Tax | None = None
    delivery_date: dt.date | None = None
    references: list[Reference] = Field(default_factory=list)


class Totals(_Model):
    line_total: Amount | None = None
    allowance_total: Amount | None = None
    charge_total: Amount | None = None
    tax_exclusive: Amount | None = None
    tax_total: Amount | None = None
    tax_inclusive: Amount | None = None
    prepaid: Amount | None = None
    payable: Amount | None = None


class _Document(_Model):
    id: Code = Field(description="the business number: order, invoice or tender number")
    issue_date: dt.date
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    test: bool = False
    parties: list[Party] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    notes: list[Text] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)
    taxes: list[Tax] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)

    def party(self, role: PartyRole) -> Party | None:
        return next((p for p in self.parties if p.role == role), None)

    def reference(self, type_: str) -> Reference | None:
        return next((r for r in self.references if r.type == type_), None)


class Order(_Document):
    kind: Literal[DocumentKind.ORDER] = DocumentKind.ORDER
    requested_delivery_date: dt.date | None = None


class Invoice(_Document):
    kind: Literal[DocumentKind.INVOICE] = DocumentKind.INVOICE
    invoice_type: InvoiceType = InvoiceType.INVOICE
    due_date: dt.date | None = None
    tax_point_date: dt.date | None = None
    buyer_reference: Text | None = None
    payment_means: list[Code] = Field(default_factory=list)
    payment_accounts: list[Identifier] = Field(default_factory=list)


class Tender(_Document):
    """A supplier's bid in answer to a call for tenders (reference type `call_for_tenders`)."""

    kind: Literal[DocumentKind.TENDER] = DocumentKind.TENDER
    lots: list[Code] = Field(default_factory=list)
    validity_end: dt.date | None = None


Document = Annotated[Order | Invoice | Tender, Field(discriminator="kind")]


class Batch(_Model):
    """Several canonical documents submitted together."""

    documents: Annotated[list[Document], Field(min_length=1, max_length=10_000)]


BUYER_ROLE = {
    DocumentKind.ORDER: PartyRole.BUYER,
    DocumentKind.INVOICE: PartyRole.BUYER,
    DocumentKind.TENDER: PartyRole.CONTRACTING_AUTHORITY,
}
