"""Return routes of the durable core: pull over HTTP, a partner's folder, a webhook."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from edi_gateway.config import Partner
from edi_gateway.store.tables import Ack, AckState


class PullSender:
    """The partner fetches its acks from the API (GET /api/v1/submissions/{id}/acks)."""

    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        return AckState.AVAILABLE


class NoSender:
    """The partner asked for no acknowledgements: record them, deliver nothing."""

    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        return AckState.DELIVERED


class FolderSender:
    """Writes the ack into the partner's `out/` folder (temp name, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        if partner is None:
            raise LookupError("an ack for an unknown partner has no folder")
        out = self.root / partner.id / "out"
        out.mkdir(parents=True, exist_ok=True)
        name = Path(ack.filename).name  # never a path from content
        temp = out / f".{ack.id}.tmp"
        with open(temp, "wb") as fh:
            fh.write(ack.content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, out / name)
        return AckState.DELIVERED


class WebhookSender:
    """POSTs the ack to the partner's webhook URL; any 2xx is delivery."""

    def __init__(self, timeout: float = 10) -> None:
        self.client = httpx.Client(timeout=timeout)

    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        url = partner.acks.webhook_url if partner else None
        if not url:
            raise LookupError("the partner has no acks.webhook_url")
        r = self.client.post(
            url,
            content=ack.content,
            headers={
                "Content-Type": ack.media_type,
                "X-EDI-Gateway-Interchange": ack.interchange_id,
                "X-EDI-Gateway-Ack-Kind": ack.kind,
                "Content-Disposition": f'attachment; filename="{ack.filename}"',
            },
        )
        r.raise_for_status()
        return AckState.DELIVERED
