"""Return route `sftp`: acknowledgements written into the partner's SFTP `outbox/`.

The file is written under a staging directory beside the partner areas (invisible to every
partner), fsynced and renamed into `outbox/`, so a partner never downloads half an ack.
"""

from __future__ import annotations

import os
from pathlib import Path

from edi_gateway.channels.sftp import OUTBOX, area
from edi_gateway.config import Partner
from edi_gateway.store.tables import Ack, AckState


class SftpSender:
    def __init__(self, root: Path) -> None:
        self.root = root  # the SFTP channel's partner areas (SftpChannel.root)
        self.staging = root / ".staging"

    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        if partner is None or partner.sftp is None:
            raise LookupError("the partner has no SFTP account to put acknowledgements in")
        outbox = area(self.root, partner.id) / OUTBOX
        self.staging.mkdir(parents=True, exist_ok=True)
        name = Path(ack.filename).name  # a name, never a path from content
        if not name or name.startswith("."):
            name = f"{ack.id}.{ack.kind}"
        temp = self.staging / f"{ack.id}.tmp"
        with open(temp, "wb") as fh:
            fh.write(ack.content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, outbox / name)
        fd = os.open(outbox, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return AckState.DELIVERED
