"""Canonical documents, findings and identifiers. Imports nothing else of ours."""

from edi_gateway.model.documents import (
    Address,
    Amount,
    Batch,
    Contact,
    Document,
    DocumentKind,
    Identifier,
    Invoice,
    InvoiceType,
    Line,
    Order,
    Party,
    PartyRole,
    Reference,
    Tax,
    Tender,
    Totals,
)
from edi_gateway.model.findings import Finding, Location, Severity, rejects
from edi_gateway.model.ids import new_id

__all__ = [
    "Address", "Amount", "Batch", "Contact", "Document", "DocumentKind", "Finding", "Identifier",
    "Invoice", "InvoiceType", "Line", "Location", "Order", "Party", "PartyRole", "Reference",
    "Severity", "Tax", "Tender", "Totals", "new_id", "rejects",
]
