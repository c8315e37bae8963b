"""The message translator: one EDIFACT message's segments → a canonical document and findings.

Never raises for bad input: what is missing or does not parse becomes a finding, and what the
canonical model refuses becomes a finding too (the document is then None).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from edi_gateway.formats.base import Translation
from edi_gateway.formats.edifact.directory import DEFAULT_SCHEMAS
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.mapping.findings import MappingCode, Run
from edi_gateway.mapping.loader import MAPPINGS_DIR, Mapping, MappingError, load_mapping
from edi_gateway.model import DocumentKind, Invoice, Order, Severity, Tender

MODELS: dict[DocumentKind, type[BaseModel]] = {
    DocumentKind.ORDER: Order,
    DocumentKind.INVOICE: Invoice,
    DocumentKind.TENDER: Tender,
}


def translate(
    segments: Sequence[Segment],
    mapping: Mapping,
    decimal_mark: str = ".",
    message_index: int | None = None,
) -> Translation:
    """Translate one message (UNH..UNT; a body without UNH works too) with `mapping`.

    `decimal_mark` is the one the interchange advises in UNA (``.`` without UNA)."""
    run = Run(decimal_mark, message_index)
    tree = mapping.trees.build(segments)
    data: dict[str, Any] = mapping.document.evaluate(tree, run) or {}
    data["kind"] = mapping.kind.value
    document = _validate(MODELS[mapping.kind], data, run)
    return Translation(document, run.findings)  # type: ignore[arg-type]


def translate_message(
    segments: Sequence[Segment],
    decimal_mark: str = ".",
    message_index: int | None = None,
    *,
    variant: str | None = None,
    folder: Path = MAPPINGS_DIR,
    schemas: Sequence[Path] = (DEFAULT_SCHEMAS,),
) -> Translation:
    """Translate a message with the mapping its UNH names (S009 type, version and release)."""
    unh = segments[0] if segments else None
    if unh is None or unh.tag != "UNH":
        return _unsupported("the message does not start with UNH", unh, message_index)
    message, version, release = unh.element(2, 1), unh.element(2, 2), unh.element(2, 3)
    try:
        mapping = load_mapping(version + release, message, variant, folder=folder, schemas=schemas)
    except MappingError as exc:
        return _unsupported(
            f"no translation for {message} {version}{release}"
            + (f" (variant {variant})" if variant else "")
            + f": {exc}",
            unh,
            message_index,
        )
    return translate(segments, mapping, decimal_mark, message_index)


def _unsupported(text: str, unh: Segment | None, message_index: int | None) -> Translation:
    run = Run(".", message_index)
    run.add(MappingCode.UNSUPPORTED, text, "document", unh)
    return Translation(None, run.findings)


_DROPPED = object()
ATTEMPTS = 3


def _validate(model: type[BaseModel], data: dict[str, Any], run: Run) -> BaseModel | None:
    """The canonical document, or None. A value the model refuses (a country that is not two
    letters, a note too long) is left out with a warning, and the rest is tried again; only
    when that cannot help (a mandatory field is missing or wrong) is the document refused."""
    for attempt in range(ATTEMPTS):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
        fixable = attempt < ATTEMPTS - 1 and all(
            e["type"] != "missing" and _drop(data, e["loc"]) for e in errors
        )
        for error in errors:
            _refused(error, run, Severity.WARNING if fixable else Severity.ERROR, fixable)
        if not fixable:
            return None
        _sweep(data)
    return None


def _drop(data: Any, loc: tuple[int | str, ...]) -> bool:
    """Mark the value at `loc` to be left out; False when there is no such value."""
    holder = data
    try:
        for part in loc[:-1]:
            holder = holder[part]
        if isinstance(holder, dict) and loc[-1] in holder:
            holder[loc[-1]] = _DROPPED
            return True
        if isinstance(holder, list) and isinstance(loc[-1], int):
            holder[loc[-1]] = _DROPPED
            return True
    except (KeyError, IndexError, TypeError):
        pass
    return False


def _sweep(value: Any) -> None:
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is _DROPPED]:
            del value[key]
        for item in value.values():
            _sweep(item)
    elif isinstance(value, list):
        value[:] = [v for v in value if v is not _DROPPED]
        for item in value:
            _sweep(item)


def _refused(error: Any, run: Run, severity: Severity, dropped: bool) -> None:
    location = [str(p) for p in error["loc"]]
    field = ".".join(location) or "document"
    generic = ".".join(p for p in location if not p.isdigit())
    if field in run.reported or generic in run.reported:
        return  # already explained, in the message's own terms
    found = error.get("input")
    shown = "" if isinstance(found, dict | list) else f" (found {found!r})"
    outcome = "; the value is left out" if dropped else ""
    run.add(
        MappingCode.REFUSED, f"{field}: {error['msg']}{shown}{outcome}", field, None, None, severity
    )
