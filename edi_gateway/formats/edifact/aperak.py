"""APERAK: the application answer for messages that passed the syntax checks.

One APERAK interchange per received interchange, holding one APERAK message (D96A) per message
it answers, in the partner's syntax, character set and separators (see `contrl.AckWriter`):

    UNH+1+APERAK:D:96A:UN'
    BGM++<our document number>+27'        27 not accepted, 29 accepted without amendment
    DTM+137:<now>:203'
    RFF+ACW:<UNH reference of the answered message>'
    RFF+ON:<order number>'                or IV for an invoice, when it is known
    ERC+<error code>'                     one SG3 per application finding, then
    FTX+AAO+++<what was found>'           its sentence in up to five 70-character parts
    UNT+...'

With the partner's application_ack option `on_error`, only messages rejected for an application
reason are answered; with `always`, every message that passed the syntax checks is. Messages
with syntax errors are answered by the CONTRL alone, and a duplicate interchange by its CONTRL;
a partner's CONTRL is never answered. A resent order (same number, sender and buyer as one
accepted before) is rejected with DUPLIC.

Error codes (9321, an..8, assigned by the recipient): see `ERROR_CODES`; other findings of
eight characters or fewer keep their own code, longer ones become APPL.
"""

from __future__ import annotations

import datetime as dt

from pydifact.segments import Segment as OutSegment

from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    AckPolicy,
    InterchangeOutcome,
    UnitOutcome,
    Verdict,
)
from edi_gateway.formats.edifact.contrl import (
    MEDIA_TYPE,
    AckWriter,
    InterchangeFacts,
    control_reference,
    interchanges_of,
    is_syntax,
    segment,
)
from edi_gateway.model import Finding, Severity

APERAK = ["APERAK", "D", "96A", "UN"]
NOT_ACCEPTED = "27"  # 1225 message function
ACCEPTED = "29"
MAX_ERRORS = 999  # SG3 repetitions
TEXT_PARTS = 5  # C108: five 4440 of an..70
TEXT_LENGTH = 70

ERROR_CODES = {
    "unknown-buyer": "BUYER",
    "kind-not-permitted": "NOTPERM",
    "no-route": "NOROUTE",
    "duplicate": "DUPLIC",
    "duplicate-document": "DUPLIC",
    "no-mapping": "NOMAP",
}
# Findings of the mapping engine (source "mapping") without an entry above.
MAPPING_CODE = "MAPPING"
OTHER_CODE = "APPL"

# The reference qualifier (1153) for the business number of each document kind.
_NUMBER_QUALIFIER = {"ORDERS": "ON", "INVOIC": "IV"}


def error_code(finding: Finding) -> str:
    known = ERROR_CODES.get(finding.code)
    if known is not None:
        return known
    if finding.source == "mapping":
        return MAPPING_CODE
    code = finding.code.upper()
    return code if len(code) <= 8 and code.isalnum() else OTHER_CODE


def application_findings(unit: UnitOutcome) -> list[Finding]:
    return [f for f in unit.findings if not is_syntax(f) and f.severity != Severity.INFO]


def _wanted(unit: UnitOutcome, policy: AckPolicy) -> bool:
    if any((is_syntax(f) and f.rejects) or f.code == "duplicate" for f in unit.findings):
        return False  # the CONTRL answers it
    if unit.message_type.startswith("CONTRL"):
        return False  # a partner's CONTRL is not answered
    if policy == AckPolicy.ALWAYS:
        return True
    return unit.verdict == Verdict.REJECTED


def _text_parts(text: str) -> list[str]:
    parts = [text[i : i + TEXT_LENGTH] for i in range(0, len(text), TEXT_LENGTH)]
    return parts[:TEXT_PARTS]


def _message(
    w: AckWriter, number: int, unit: UnitOutcome, reference: str, now: dt.datetime
) -> list[OutSegment]:
    rejected = unit.verdict == Verdict.REJECTED
    content = [
        segment("BGM", "", f"{reference}-{number}", NOT_ACCEPTED if rejected else ACCEPTED),
        segment("DTM", ["137", now.strftime("%Y%m%d%H%M"), "203"]),
    ]
    if unit.reference:
        content.append(segment("RFF", ["ACW", w.value(unit.reference)]))
    qualifier = _NUMBER_QUALIFIER.get(unit.message_type.split(":")[0])
    if qualifier and unit.business_id and unit.business_id != unit.reference:
        content.append(segment("RFF", [qualifier, w.value(unit.business_id)]))
    for finding in application_findings(unit)[:MAX_ERRORS]:
        content.append(segment("ERC", error_code(finding)))
        sentence = w.text(f"{finding.code}: {finding.text}")
        content.append(segment("FTX", "AAO", "", "", _text_parts(sentence)))
    return w.message(str(number), list(APERAK), content)


def build_aperak(
    facts: InterchangeFacts, units: list[UnitOutcome], reference: str, now: dt.datetime
) -> bytes:
    w = AckWriter(facts, reference, now)
    when = now.astimezone(dt.UTC)
    messages = [_message(w, n, unit, reference, when) for n, unit in enumerate(units, start=1)]
    return w.interchange(messages, "APERAK")


def aperak_acks(
    outcome: InterchangeOutcome, options: AckOptions, now: dt.datetime
) -> list[AckDocument]:
    """An APERAK interchange for every received interchange with messages to answer."""
    policy = options.application_ack
    if policy == AckPolicy.NEVER or outcome.verdict == Verdict.DUPLICATE:
        return []
    units = {u.index: u for u in outcome.units}
    acks = []
    for number, facts in enumerate(interchanges_of(outcome.envelope), start=1):
        answered = [
            units[m.index]
            for m in facts.messages
            if m.index in units and _wanted(units[m.index], policy)
        ]
        if not answered:
            continue
        reference = control_reference(outcome.interchange_id, f"aperak/{number}")
        acks.append(
            AckDocument(
                kind="aperak",
                media_type=MEDIA_TYPE,
                filename=f"APERAK-{outcome.interchange_id}-{number}.edi",
                content=build_aperak(facts, answered, reference, now),
                positive=all(u.verdict != Verdict.REJECTED for u in answered),
            )
        )
    return acks
