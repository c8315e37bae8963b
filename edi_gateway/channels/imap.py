"""IMAP channel adapter: polls existing procurement mail accounts (the institutions' own mail
servers) over TLS with the standard `imaplib`, in a thread.

For each mail of the watched mailbox: its EDIFACT, XML and JSON attachments go to intake (as
from SMTP), then the mail is recorded under (account, mailbox, UIDVALIDITY, UID) and moved to
the processed folder. Mails that cannot be taken for good (unknown sender, no documents) are
recorded as refused, reported as an event and left where they are. A temporary failure (full
spool, store down, server gone) leaves the mail unrecorded: it is taken on a later poll.

Exactly once, whatever the crash: if the gateway stops after intake committed but before the
mail was recorded, the next poll finds the mail's interchanges by Message-ID and attachment
index and records them instead of taking the mail again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import os
import re
import ssl
import threading
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.channel_settings import ImapAccount, ImapSettings
from edi_gateway.channels.mail import (
    CHANNEL,
    Mailbox,
    MailIntake,
    MailRefused,
    attachments,
    message_id,
    parse,
    sender_address,
)
from edi_gateway.config import Config, Partner
from edi_gateway.intake import Intake, IntakeUnavailable
from edi_gateway.store.mail import MailOutcome, MailSeen
from edi_gateway.store.tables import Interchange

log = structlog.get_logger("edi_gateway.channels.imap")


class ImapError(Exception):
    """The IMAP server answered something other than OK."""


def partner_by_address(config: Config, address: str) -> Partner | None:
    """Mail read from a mailbox carries no AUTH: the From address names the partner."""
    for p in config.partners.values():
        if p.enabled and p.email and address in (a.lower() for a in p.email.addresses):
            return p
    return None


class ImapPoller:
    def __init__(
        self,
        config: Config,
        intake: Intake,
        sessions: sessionmaker[Session],
        settings: ImapSettings,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.settings = settings
        self.mail = MailIntake(config, intake, sessions)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="imap-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.settings.poll_seconds)

    def poll_once(self) -> int:
        """One pass over every account; returns the number of mails taken."""
        taken = 0
        for account in self.settings.accounts:
            try:
                taken += AccountPoll(self, account).run()
            except (OSError, imaplib.IMAP4.error, ImapError, IntakeUnavailable) as exc:
                log.warning("imap.poll_failed", account=account.name, error=str(exc))
                self.mail.event("imap-poll-failed", None, account=account.name, error=str(exc))
        return taken


class AccountPoll:
    """One pass over one account's mailbox."""

    def __init__(self, poller: ImapPoller, account: ImapAccount) -> None:
        self.poller = poller
        self.account = account
        self.box = Mailbox(
            address=account.address, institution=account.institution, kind=account.kind
        )
        self.log = log.bind(account=account.name)

    def run(self) -> int:
        imap = self._connect()
        try:
            uidvalidity = self._select(imap)
            seen = self._seen(uidvalidity)
            taken = 0
            for uid in self._uids(imap)[: self.account.batch]:
                if self.poller._stop.is_set():
                    break
                record = seen.get(uid)
                if record is not None and record.outcome == MailOutcome.REFUSED:
                    continue
                if record is None:
                    record = self._take(imap, uidvalidity, uid)
                    taken += record.outcome == MailOutcome.TAKEN
                if record.outcome == MailOutcome.TAKEN:
                    self._move(imap, uid)
                    self._mark_moved(uidvalidity, uid)
            return taken
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()

    # -- IMAP ------------------------------------------------------------------------------

    def _connect(self) -> imaplib.IMAP4:
        a = self.account
        context = ssl.create_default_context(cafile=a.ca_file)
        imap: imaplib.IMAP4
        if a.security == "tls":
            imap = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=context, timeout=a.timeout_seconds)
        else:
            imap = imaplib.IMAP4(a.host, a.port, timeout=a.timeout_seconds)
            imap.starttls(ssl_context=context)
        password = os.environ.get(a.password_env)
        if password is None:
            imap.shutdown()
            raise ImapError(f"the environment variable {a.password_env} holds no password")
        imap.login(a.user, password)
        data = _ok(imap.capability())  # the list after login is the one that counts
        imap.capabilities = tuple(data[-1].decode().upper().split())
        return imap

    def _select(self, imap: imaplib.IMAP4) -> int:
        _ok(imap.select(_quote(self.account.mailbox)))
        _, data = imap.response("UIDVALIDITY")
        if not data or data[0] is None:
            raise ImapError("the server reported no UIDVALIDITY")
        return int(data[0])

    def _uids(self, imap: imaplib.IMAP4) -> list[int]:
        data = _ok(imap.uid("SEARCH", "UNDELETED"))
        return sorted(int(u) for u in (data[0] or b"").split())

    def _fetch(self, imap: imaplib.IMAP4, uid: int) -> bytes:
        data = _ok(imap.uid("FETCH", str(uid), "(BODY.PEEK[])"))
        for item in data:
            if isinstance(item, tuple) and isinstance(item[1], bytes):
                return item[1]
        raise ImapError(f"mail UID {uid} has no body in the FETCH answer")

    def _move(self, imap: imaplib.IMAP4, uid: int) -> None:
        folder = _quote(self.account.processed_folder)
        imap.create(folder)  # NO when it exists; that is fine
        if "MOVE" in imap.capabilities:
            _ok(imap.uid("MOVE", str(uid), folder))
            return
        _ok(imap.uid("COPY", str(uid), folder))
        _ok(imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"))
        if "UIDPLUS" in imap.capabilities:
            _ok(imap.uid("EXPUNGE", str(uid)))
        else:
            _ok(imap.expunge())

    # -- taking one mail -------------------------------------------------------------------

    def _take(self, imap: imaplib.IMAP4, uidvalidity: int, uid: int) -> MailSeen:
        raw = self._fetch(imap, uid)
        msg = parse(raw)
        mid = message_id(msg, raw)
        bound = self.log.bind(uid=uid, message_id=mid)
        already = self._already_taken(mid, len(attachments(msg)))
        if already:
            bound.info("imap.already_taken", interchanges=already)
            return self._record(uidvalidity, uid, mid, MailOutcome.TAKEN, already)
        sender = sender_address(msg)
        partner = partner_by_address(self.poller.config, sender)
        try:
            if partner is None:
                raise MailRefused("550 5.7.1", f"the sender {sender or '(none)'} is no partner")
            extra = {"account": self.account.name, "uid": uid, "uidvalidity": uidvalidity}
            taken = self.poller.mail.take(raw, partner, [self.box], "imap", extra)
        except MailRefused as exc:
            bound.warning("imap.refused", reason=exc.reason)
            self.poller.mail.event(
                "imap-refused",
                partner.id if partner else None,
                account=self.account.name,
                uid=uid,
                message_id=mid,
                sender=sender,
                reason=exc.reason,
            )
            return self._record(uidvalidity, uid, mid, MailOutcome.REFUSED, [], exc.reason)
        ids = [r.interchange_id for r in taken.receipts]
        bound.info("imap.taken", interchanges=ids)
        return self._record(uidvalidity, uid, mid, MailOutcome.TAKEN, ids)

    def _already_taken(self, mid: str, count: int) -> list[str]:
        """The interchanges an earlier, interrupted pass made of this mail (all of them, or
        none counts: intake commits a mail's attachments together)."""
        if count == 0:
            return []
        with self.poller.sessions() as s:
            rows = s.execute(
                select(Interchange.id, Interchange.transport_id).where(
                    Interchange.channel == CHANNEL,
                    Interchange.transport_id.startswith(f"{mid}#", autoescape=True),
                )
            ).all()
        first: dict[str, str] = {}
        for iid, tid in sorted(rows):
            if tid is not None:
                first.setdefault(tid, iid)
        return list(first.values()) if len(first) >= count else []

    # -- bookkeeping -----------------------------------------------------------------------

    def _seen(self, uidvalidity: int) -> dict[int, MailSeen]:
        with self.poller.sessions() as s:
            rows = s.scalars(
                select(MailSeen).where(
                    MailSeen.account == self.account.name,
                    MailSeen.mailbox == self.account.mailbox,
                    MailSeen.uidvalidity == uidvalidity,
                )
            )
            return {r.uid: r for r in rows}

    def _record(
        self,
        uidvalidity: int,
        uid: int,
        mid: str,
        outcome: MailOutcome,
        interchanges: list[str],
        reason: str | None = None,
    ) -> MailSeen:
        row = MailSeen(
            account=self.account.name,
            mailbox=self.account.mailbox,
            uidvalidity=uidvalidity,
            uid=uid,
            message_id=mid,
            outcome=outcome.value,
            interchanges=interchanges,
            reason=reason,
            moved=False,
            at=dt.datetime.now(dt.UTC),
        )
        with self.poller.sessions.begin() as s:
            s.merge(row)
        return row

    def _mark_moved(self, uidvalidity: int, uid: int) -> None:
        with self.poller.sessions.begin() as s:
            row = s.get(MailSeen, (self.account.name, self.account.mailbox, uidvalidity, uid))
            if row is not None:
                row.moved = True


def _ok(answer: tuple[str, list[Any]]) -> list[Any]:
    status, data = answer
    if status != "OK":
        raise ImapError(f"IMAP answered {status}: {data!r}")
    return data


_ATOM = re.compile(r"^[A-Za-z0-9._/-]+$")


def _quote(mailbox: str) -> str:
    if _ATOM.match(mailbox):
        return mailbox
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'
