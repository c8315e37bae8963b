"""IMAP polling against a real Dovecot on loopback (IMAP over TLS, started here): each mail is
taken exactly once, also when the gateway stops in the middle of a batch; taken mail is moved
to the processed folder; mail that cannot be taken stays and is reported once."""

from __future__ import annotations

import imaplib
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.channels import imap as imap_channel
from edi_gateway.channels.imap import ImapAccount, ImapPoller, ImapSettings
from edi_gateway.channels.smtp import self_signed_certificate
from edi_gateway.config import load
from edi_gateway.model import DocumentKind
from edi_gateway.store.mail import MailSeen
from edi_gateway.store.tables import Event, Interchange
from tests.conftest import IN_CI, free_port
from tests.support import wait_for

PASSWORD_ENV = "EDIGW_TEST_IMAP_PASSWORD"
CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:{d}/mail/%u
mail_uid = nobody
mail_gid = nogroup
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {starttls_port}
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
"""


@dataclass
class Dovecot:
    port: int  # IMAP over TLS
    starttls_port: int  # IMAP with STARTTLS (plain login refused before it)
    ca_file: Path
    user: str = "procurement"
    password: str = "procurement-imap-pw-3"

    def connect(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=self.ca_file)
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=30)
        client.login(self.user, self.password)
        return client

    def append(self, msg: EmailMessage) -> None:
        client = self.connect()
        try:
            status, _ = client.append("INBOX", None, None, msg.as_bytes())
            assert status == "OK"
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.connect()
        try:
            status, data = client.select(folder, readonly=True)
            return int(data[0] or 0) if status == "OK" else 0
        finally:
            client.logout()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        if IN_CI:
            pytest.fail("dovecot is not installed; .ci/run must install dovecot-imapd")
        pytest.skip("dovecot is not installed here")
    # Dovecot's unprivileged processes must reach these files: not under pytest's 0700 tmp
    d = Path(tempfile.mkdtemp(prefix="edigw-dovecot-"))
    d.chmod(0o755)
    port, starttls_port = free_port(), free_port()
    self_signed_certificate(d / "cert.pem", d / "key.pem", "localhost", ("127.0.0.1",))
    server = Dovecot(port, starttls_port, d / "cert.pem")
    (d / "users").write_text(f"{server.user}:{{PLAIN}}{server.password}\n")
    for sub in ("mail", "home"):
        (d / sub).mkdir()
        shutil.chown(d / sub, "nobody", "nogroup")
    (d / "dovecot.conf").write_text(CONF.format(d=d, port=port, starttls_port=starttls_port))
    proc = subprocess.Popen([binary, "-F", "-c", str(d / "dovecot.conf")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: proc.poll() is not None or (_listening(port) and _listening(starttls_port)),
                 timeout=30)
        if proc.poll() is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            if IN_CI:
                pytest.fail(f"dovecot did not start: {output}")
            pytest.skip(f"dovecot did not start here (needs root): {output}")
        yield server
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(d, ignore_errors=True)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def mail(n: int, sender: str = "edi@hanil.example", documents: int = 1) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "tenders@moe.example"
    msg["Subject"] = f"Tender documents {n}"
    msg["Message-ID"] = f"<imap-{n}@hanil.example>"
    msg.set_content("See attachments.\n")
    for k in range(documents):
        body = f"UNA:+.? 'UNB+UNOC:3+8809876000015:14+8801234000017:14+261126:1200+T{n}-{k}'".encode()
        msg.add_attachment(body, maintype="application", subtype="edifact", filename=f"T{n}-{k}.edi")
    return msg


def make_gateway(directory: Path, db: Path) -> Gateway:
    return Gateway(load(directory / "gateway.toml", f"sqlite:///{db}"))


def make_poller(gateway: Gateway, server: Dovecot, starttls: bool = False) -> ImapPoller:
    account = ImapAccount(
        name="moe-tenders", host="127.0.0.1", port=server.starttls_port if starttls else server.port,
        security="starttls" if starttls else "tls", ca_file=str(server.ca_file),
        user=server.user, password_env=PASSWORD_ENV, address="tenders@moe.example",
        institution="moe", kind=DocumentKind.TENDER, batch=100)
    return ImapPoller(gateway.config, gateway.intake, gateway.sessions,
                      ImapSettings(enabled=True, accounts=[account]))


@pytest.fixture
def config_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dovecot: Dovecot) -> Path:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    directory = tmp_path / "config"
    samples.write_sample_config(directory)
    with (directory / "partners" / "hanil-office.toml").open("a") as fh:
        fh.write('\n[email]\naddresses = ["edi@hanil.example"]\n')
    return directory


class Crash(BaseException):
    """The gateway process dying at a chosen point."""


def rows(gateway: Gateway, model: Any) -> list[Any]:
    with gateway.sessions() as s:
        return list(s.scalars(select(model)))


def test_each_mail_is_taken_exactly_once_across_a_restart_in_the_middle_of_a_batch(
    dovecot: Dovecot, config_directory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [mail(1), mail(2, sender="stranger@elsewhere.example"), mail(3), mail(4, documents=2),
             mail(5, documents=0), mail(6), mail(7), mail(8)]
    for m in batch:
        dovecot.append(m)
    db = tmp_path / "gw.db"

    # first run: dies after mail 4's documents are committed, before the mail is recorded
    first = make_gateway(config_directory, db)
    calls = {"n": 0}
    original = imap_channel.AccountPoll._record

    def record_then_crash(self: imap_channel.AccountPoll, *args: Any, **kwargs: Any) -> MailSeen:
        calls["n"] += 1
        if calls["n"] == 4:
            raise Crash()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(imap_channel.AccountPoll, "_record", record_then_crash)
    with pytest.raises(Crash):
        make_poller(first, dovecot).poll_once()
    monkeypatch.setattr(imap_channel.AccountPoll, "_record", original)
    assert {i.transport_id for i in rows(first, Interchange)} == {
        "<imap-1@hanil.example>#2", "<imap-3@hanil.example>#2",
        "<imap-4@hanil.example>#2", "<imap-4@hanil.example>#3"}
    first.stop()
    first.engine.dispose()

    # the restarted gateway finishes the batch without taking anything twice
    second = make_gateway(config_directory, db)
    try:
        poller = make_poller(second, dovecot)
        assert poller.poll_once() == 4  # mail 4 (found and recorded, not taken again), 6, 7, 8
        taken = rows(second, Interchange)
        ids = [i.transport_id for i in taken]
        assert len(ids) == len(set(ids)) == 7
        assert all(i.duplicate_of is None and i.channel == "email" for i in taken)
        assert {i.partner_id for i in taken} == {"hanil-office"}
        assert taken[0].origin["mailboxes"] == [
            {"address": "tenders@moe.example", "institution": "moe", "kind": "tender"}]
        assert taken[0].origin["transport"] == "imap" and taken[0].origin["account"] == "moe-tenders"
        assert dovecot.count("Processed") == 6
        assert dovecot.count("INBOX") == 2  # the stranger's mail and the one without documents
        refused = [e for e in rows(second, Event) if e.type == "imap-refused"]
        assert sorted(e.detail["message_id"] for e in refused) == [
            "<imap-2@hanil.example>", "<imap-5@hanil.example>"]

        assert poller.poll_once() == 0  # nothing new, refusals are not reported again
        assert len([e for e in rows(second, Event) if e.type == "imap-refused"]) == 2
        seen = rows(second, MailSeen)
        assert sorted((r.uid, r.outcome) for r in seen) == [
            (1, "taken"), (2, "refused"), (3, "taken"), (4, "taken"), (5, "refused"),
            (6, "taken"), (7, "taken"), (8, "taken")]
        assert len({r.uidvalidity for r in seen}) == 1
    finally:
        second.stop()
        second.engine.dispose()


def test_temporary_failure_leaves_the_mail_for_the_next_poll(
    dovecot: Dovecot, config_directory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(mail(11))
    gateway = make_gateway(config_directory, tmp_path / "gw.db")
    try:
        poller = make_poller(gateway, dovecot)

        def down(*_: object) -> None:
            raise OperationalError("INSERT", {}, Exception("database is down"))

        monkeypatch.setattr(gateway.intake, "_insert", down)
        assert poller.poll_once() == 0
        monkeypatch.undo()
        monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
        assert dovecot.count("INBOX") == 1 and rows(gateway, MailSeen) == []
        assert any(e.type == "imap-poll-failed" for e in rows(gateway, Event))
        assert poller.poll_once() == 1
        assert dovecot.count("INBOX") == 0 and len(rows(gateway, Interchange)) == 1
    finally:
        gateway.stop()
        gateway.engine.dispose()


def test_the_poller_thread_takes_mail_as_it_arrives(
    dovecot: Dovecot, config_directory: Path, tmp_path: Path
) -> None:
    gateway = make_gateway(config_directory, tmp_path / "gw.db")
    poller = make_poller(gateway, dovecot)
    poller.settings = ImapSettings(enabled=True, poll_seconds=0.2, accounts=poller.settings.accounts)
    poller.start()
    try:
        dovecot.append(mail(21))
        wait_for(lambda: rows(gateway, Interchange), timeout=30)
        wait_for(lambda: dovecot.count("Processed") == 1, timeout=30)
    finally:
        poller.stop()
        gateway.stop()
        gateway.engine.dispose()


def test_wrong_password_is_reported_and_takes_nothing(
    dovecot: Dovecot, config_directory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(mail(31))
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    gateway = make_gateway(config_directory, tmp_path / "gw.db")
    try:
        assert make_poller(gateway, dovecot).poll_once() == 0
        (failed,) = [e for e in rows(gateway, Event) if e.type == "imap-poll-failed"]
        assert "wrong" not in str(failed.detail)
        assert dovecot.count("INBOX") == 1
    finally:
        gateway.stop()
        gateway.engine.dispose()


def test_starttls_accounts_are_polled_too(
    dovecot: Dovecot, config_directory: Path, tmp_path: Path
) -> None:
    dovecot.append(mail(41))
    gateway = make_gateway(config_directory, tmp_path / "gw.db")
    try:
        assert make_poller(gateway, dovecot, starttls=True).poll_once() == 1
        assert dovecot.count("Processed") == 1
    finally:
        gateway.stop()
        gateway.engine.dispose()
