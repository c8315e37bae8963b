"""XML: UBL, Peppol and EN 16931, CII.

One module per idea: `parse` (hardened parsing), `detect` (SBDH, root and version),
`catalogue` (which XSD, rule sets and mapping apply), `install` (operator-installed schema
sets), `xsd` and `rules` (the two validators), `validate` (both, per document), `mapping`
(the message translator), `ack` (ApplicationResponse) and `format` (the `Format` the app
registers).
"""

from edi_gateway.formats.xml.format import XmlFormat, XmlReader, XmlSettings
from edi_gateway.formats.xml.install import InstallError, InstallResult, install_schemas
from edi_gateway.formats.xml.parse import XmlLimits
from edi_gateway.formats.xml.validate import ExtraRuleSet

__all__ = [
    "ExtraRuleSet",
    "InstallError",
    "InstallResult",
    "XmlFormat",
    "XmlLimits",
    "XmlReader",
    "XmlSettings",
    "install_schemas",
]
