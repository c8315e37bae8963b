"""XML: UBL, Peppol and EN 16931, CII.

One module per idea: `parse` (hardened parsing), `detect` (SBDH, root and version),
`catalogue` (which XSD, rule sets and mapping apply), `install` (operator-installed schema
sets), `xsd` and `rules` (the two validators), `validate` (both, per document), `mapping`
(the message translator), `ack` (the Message Level Response), `invoice_response` (the
buyer's decision on an invoice) and `format` (the `Format` the app registers).
"""

from edi_gateway.formats.xml.format import XmlFormat, XmlReader, XmlSettings
from edi_gateway.formats.xml.install import InstallError, InstallResult, install_schemas
from edi_gateway.formats.xml.invoice_response import (
    InvoiceStatus,
    StatusReason,
    build_invoice_response,
)
from edi_gateway.formats.xml.parse import XmlLimits
from edi_gateway.formats.xml.validate import ExtraRuleSet

__all__ = [
    "ExtraRuleSet",
    "InstallError",
    "InstallResult",
    "InvoiceStatus",
    "StatusReason",
    "XmlFormat",
    "XmlLimits",
    "XmlReader",
    "XmlSettings",
    "build_invoice_response",
    "install_schemas",
]
