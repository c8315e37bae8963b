"""The message translator for UN/EDIFACT: declarative mapping files → canonical documents.

One file per directory and message under ``mappings/edifact/`` (see `loader` for the file,
`specs` for the rules, `paths` for the selectors, `values` for numbers and dates). A file is
compiled once against its directory (`compiler`); the engine arranges a message's segments by
segment group (`tree`), applies the compiled rules (`select`, `specs`) and validates the result
with the canonical model (`engine`). Findings carry the stable codes of `MappingCode`.

>>> mapping = load_mapping("D96A", "ORDERS")
>>> translation = translate(message.segments, mapping, decimal_mark=",")
>>> translation.document, translation.findings
"""

from edi_gateway.mapping.engine import translate, translate_message
from edi_gateway.mapping.findings import MappingCode
from edi_gateway.mapping.loader import MAPPINGS_DIR, Mapping, load_mapping, read_mapping
from edi_gateway.mapping.paths import MappingError

__all__ = [
    "MAPPINGS_DIR",
    "Mapping",
    "MappingCode",
    "MappingError",
    "load_mapping",
    "read_mapping",
    "translate",
    "translate_message",
]
