"""The JSON Schema of what back offices receive and API-first partners may submit."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from edi_gateway.model.documents import Batch, Document


def json_schema() -> dict[str, Any]:
    document = TypeAdapter(Document).json_schema(mode="serialization")
    batch = Batch.model_json_schema(mode="serialization")
    defs = {**document.pop("$defs", {}), **batch.pop("$defs", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:edi-gateway:canonical:1",
        "title": "edi-gateway canonical document",
        "description": 'One document (order, invoice or tender), or a batch {"documents": [...]}. '
        "Money and quantities are decimal strings; dates are ISO 8601.",
        "oneOf": [document, {"$ref": "#/$defs/Batch"}],
        "$defs": {**defs, "Batch": batch},
    }
