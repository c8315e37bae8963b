"""The partner form: the fields an admin edits, read from and written into the partner file's
data. Keys the form does not show (cipher and digest, password and token hashes, anything
added by hand) are kept as they are in the file."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edi_gateway.config import AckSettings, PartnerRole
from edi_gateway.model import DocumentKind

ACK_ROUTES = list(AckSettings.model_fields["route"].annotation.__args__)  # type: ignore[union-attr]
ACK_POLICIES = {"always": "Always", "on_error": "On error", "never": "Never"}
MDN_MODES = ["sync", "async", "none"]
AS2_FLAGS = {
    "require_signature": "Require signed messages",
    "require_encryption": "Require encrypted messages",
    "sign_outgoing": "Sign what we send",
    "encrypt_outgoing": "Encrypt what we send",
}


@dataclass(frozen=True)
class Choices:
    """What the selects and checkboxes of the form offer."""

    roles: tuple[str, ...] = tuple(r.value for r in PartnerRole)
    kinds: tuple[str, ...] = tuple(k.value for k in DocumentKind)
    ack_routes: tuple[str, ...] = tuple(ACK_ROUTES)
    ack_policies: tuple[tuple[str, str], ...] = tuple(ACK_POLICIES.items())
    mdn_modes: tuple[str, ...] = tuple(MDN_MODES)
    as2_flags: tuple[tuple[str, str], ...] = tuple(AS2_FLAGS.items())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _set(section: dict[str, Any], key: str, value: str) -> None:
    """An optional string key: set when given, removed when blank (TOML has no null)."""
    if value:
        section[key] = value
    else:
        section.pop(key, None)


def identifiers_text(doc: Mapping[str, Any]) -> str:
    return "\n".join(
        f"{i['scheme']}:{i['value']}" if i.get("scheme") else str(i.get("value", ""))
        for i in doc.get("identifiers", [])
    )


def edifact_text(doc: Mapping[str, Any]) -> str:
    return "\n".join(
        f"{e['id']}/{e['qualifier']}" if e.get("qualifier") else str(e.get("id", ""))
        for e in doc.get("edifact", {}).get("ids", [])
    )


def apply(doc: Mapping[str, Any], form: Mapping[str, Any], *, pid: str) -> dict[str, Any]:
    """The partner file's data after the form's changes (the loader validates it later)."""
    out = copy.deepcopy(dict(doc))
    out["id"] = pid
    out["name"] = _text(form, "name")
    out["role"] = _text(form, "role")
    out.setdefault("enabled", True)
    out["identifiers"] = [
        {"scheme": scheme, "value": value} if sep else {"value": scheme}
        for scheme, sep, value in (
            line.partition(":") for line in _lines(_text(form, "identifiers"))
        )
    ]
    out["may_send"] = [k for k in Choices.kinds if form.get(f"may_send_{k}")]
    edifact = dict(out.get("edifact", {}))
    edifact["ids"] = [
        {"id": id_, "qualifier": qualifier} if sep else {"id": id_}
        for id_, sep, qualifier in (line.partition("/") for line in _lines(_text(form, "edifact")))
    ]
    out["edifact"] = edifact
    out["folder"] = bool(form.get("folder"))

    if form.get("as2_on"):
        as2 = dict(out.get("as2", {}))
        as2["name"] = _text(form, "as2_name")
        for key in ("url", "certificate", "certificate_next"):
            _set(as2, key, _text(form, f"as2_{key}"))
        as2["mdn"] = _text(form, "as2_mdn") or "sync"
        for flag in AS2_FLAGS:
            as2[flag] = bool(form.get(f"as2_{flag}"))
        out["as2"] = as2
    else:
        out.pop("as2", None)

    if form.get("sftp_on"):
        sftp = dict(out.get("sftp", {}))
        sftp["user"] = _text(form, "sftp_user")
        sftp["public_keys"] = _lines(_text(form, "sftp_public_keys"))
        out["sftp"] = sftp
    else:
        out.pop("sftp", None)

    if form.get("email_on"):
        email = dict(out.get("email", {}))
        email["addresses"] = _lines(_text(form, "email_addresses"))
        _set(email, "reply_to", _text(form, "email_reply_to"))
        _set(email, "smtp_user", _text(form, "email_smtp_user"))
        out["email"] = email
    else:
        out.pop("email", None)

    acks = dict(out.get("acks", {}))
    acks["route"] = _text(form, "acks_route") or "channel"
    _set(acks, "webhook_url", _text(form, "acks_webhook_url"))
    for key in ("contrl", "aperak", "application_response"):
        acks[key] = _text(form, f"acks_{key}") or "always"
    out["acks"] = acks

    queues = _lines(_text(form, "backoffice_queues"))
    if queues or "backoffice" in out:
        backoffice = dict(out.get("backoffice", {}))
        backoffice["queues"] = queues
        out["backoffice"] = backoffice
    return out
