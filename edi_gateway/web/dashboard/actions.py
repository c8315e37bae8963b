"""Operator actions shared by the pages: each one done through the pipeline's commands and
written to the audit trail, refused or not."""

from __future__ import annotations

from edi_gateway.pipeline.commands import reprocess
from edi_gateway.web.dashboard import audit
from edi_gateway.web.dashboard.context import Dashboard


def reprocess_audited(
    d: Dashboard, iid: str, actor: str, address: str, *, wake: bool = True
) -> str | None:
    """Reprocess one interchange; None when done, else why it was refused."""
    now = d.gateway.clock()
    try:
        reprocess(d.gateway.sessions, iid, f"operator:{actor}", now)
    except LookupError as exc:
        audit.record(
            d.gateway.sessions,
            at=now,
            actor=actor,
            action="reprocess",
            target=iid,
            outcome="refused",
            remote=address,
            reason=str(exc),
        )
        return str(exc)
    audit.record(
        d.gateway.sessions, at=now, actor=actor, action="reprocess", target=iid, remote=address
    )
    if wake:
        d.wake_worker()
    return None
