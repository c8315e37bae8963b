"""Folder channel adapter: a drop directory per partner.

Layout under the configured root, per partner with `folder = true`:
`<partner>/in/` (the partner renames complete files into it), `<partner>/archive/` (taken
files, after intake committed), `<partner>/rejected/` (files refused, with a `.reason`),
`<partner>/out/` (our acknowledgements). Files in `in/` whose names start with a dot or end
in `.tmp`/`.part` are still being written and are left alone.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import structlog

from edi_gateway.config import Config
from edi_gateway.intake import Intake, IntakeUnavailable, Origin, PayloadTooLarge

log = structlog.get_logger("edi_gateway.channels.folder")

SUBDIRS = ("in", "archive", "rejected", "out")


def prepare(root: Path, partner_id: str) -> Path:
    base = root / partner_id
    for sub in SUBDIRS:
        (base / sub).mkdir(parents=True, exist_ok=True)
    return base


class FolderChannel:
    def __init__(self, config: Config, intake: Intake) -> None:
        self.config = config
        self.intake = intake
        self.root = config.folder_root
        self.interval = config.settings.folder.poll_seconds
        self.limit = config.settings.limits.max_submission_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def partners(self) -> list[str]:
        return [p.id for p in self.config.partners.values() if p.folder and p.enabled]

    def start(self) -> None:
        for pid in self.partners():
            prepare(self.root, pid)
        self._thread = threading.Thread(target=self._run, name="folder-channel", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("folder.poll_failed")
            self._stop.wait(self.interval)

    def poll_once(self) -> int:
        taken = 0
        for pid in self.partners():
            inbox = self.root / pid / "in"
            for path in sorted(inbox.iterdir()) if inbox.is_dir() else []:
                if self._stop.is_set():
                    return taken
                if (
                    not path.is_file()
                    or path.name.startswith(".")
                    or path.suffix in (".tmp", ".part")
                ):
                    continue
                taken += self._take(pid, path)
        return taken

    def _take(self, partner_id: str, path: Path) -> int:
        st = path.stat()
        origin = Origin(
            channel="folder",
            partner_id=partner_id,
            filename=path.name,
            transport_id=f"{path.name}:{st.st_size}:{st.st_mtime_ns}",
        )
        bound = log.bind(partner=partner_id, file=path.name)
        try:
            with path.open("rb") as fh:
                receipt = self.intake.receive(fh, origin, max_bytes=self.limit)
        except IntakeUnavailable as exc:
            bound.warning("folder.intake_unavailable", reason=exc.reason)
            return 0  # stays in in/, taken on a later poll
        except PayloadTooLarge as exc:
            self._move(path, partner_id, "rejected", reason=str(exc))
            bound.warning("folder.rejected", reason=str(exc))
            return 0
        self._move(path, partner_id, "archive", suffix=receipt.interchange_id)
        bound.info("folder.taken", interchange_id=receipt.interchange_id)
        return 1

    def _move(
        self, path: Path, partner_id: str, where: str, suffix: str = "", reason: str = ""
    ) -> None:
        day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        dest_dir = self.root / partner_id / where / day
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / (f"{path.name}.{suffix}" if suffix else path.name)
        path.replace(dest)
        if reason:
            dest.with_name(dest.name + ".reason").write_text(reason + "\n")
