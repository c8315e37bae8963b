"""SMTP channel: smtplib and swaks submit to the gateway's aiosmtpd listener over STARTTLS;
acks go back as replies through a relay the test runs (a second aiosmtpd server)."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import json
import os
import shutil
import smtplib
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from edi_gateway import samples
from edi_gateway.acks.mail_sender import MailRelay, MailSender
from edi_gateway.app import Gateway
from edi_gateway.channels.mail import Mailbox
from edi_gateway.channels.smtp import SmtpChannel, SmtpListener
from edi_gateway.config import hash_token, load
from edi_gateway.model import DocumentKind
from edi_gateway.store.tables import Ack, AckState, Event, Interchange
from edi_gateway.tendering.wiring import tendering_of
from tests.conftest import IN_CI, free_port
from tests.support import open_call_and_tender, wait_for

HANIL_PASSWORD = "hanil-smtp-password-7"
EDIFACT = b"UNA:+.? 'UNB+UNOC:3+8809876000015:14+8801234000017:14+261126:1200+REF1'UNZ+0+REF1'"
XML = b'<?xml version="1.0"?><Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>'
MAILBOXES = [
    Mailbox(address="orders@moe.example", institution="moe", kind=DocumentKind.ORDER),
    Mailbox(address="invoices@moe.example", institution="moe", kind=DocumentKind.INVOICE),
    Mailbox(address="tenders@moe.example", institution="moe", kind=DocumentKind.TENDER),
]


@dataclass
class Relay:
    """The outbound relay: an aiosmtpd server that keeps what it is given."""

    port: int
    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        msg = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.received.append((envelope, msg))
        return "250 OK"

    def first(self) -> tuple[Envelope, EmailMessage] | None:
        with self.lock:
            return self.received[0] if self.received else None


@dataclass
class Site:
    gateway: Gateway
    channel: SmtpChannel
    tls: ssl.SSLContext

    def client(self, login: bool = True, password: str = HANIL_PASSWORD) -> smtplib.SMTP:
        smtp = smtplib.SMTP("127.0.0.1", self.channel.port, timeout=30)
        smtp.starttls(context=self.tls)
        if login:
            smtp.login("hanil", password)
        return smtp

    def interchanges(self) -> list[Interchange]:
        with self.gateway.sessions() as s:
            return list(s.scalars(select(Interchange).order_by(Interchange.transport_id)))

    def events(self, type_: str) -> list[Event]:
        with self.gateway.sessions() as s:
            return list(s.scalars(select(Event).where(Event.type == type_)))


def build_site(tmp_path: Path, spool_dir: Path | None = None, max_bytes: int = 2_000_000) -> Site:
    directory = tmp_path / "config"
    samples.write_sample_config(directory)
    with (directory / "partners" / "hanil-office.toml").open("a") as fh:
        fh.write('\n[email]\naddresses = ["edi@hanil.example"]\nsmtp_user = "hanil"\n'
                 f'smtp_password_sha256 = "{hash_token(HANIL_PASSWORD)}"\n')
    with (directory / "partners" / "nordic-paper.toml").open("a") as fh:
        fh.write('\n[email]\naddresses = ["Orders@Nordic.example"]\n')
    toml = directory / "gateway.toml"
    if spool_dir is not None:
        toml.write_text(toml.read_text().replace(
            'data_dir = "data"', f'data_dir = "data"\nspool_dir = "{spool_dir}"'))
    gateway = Gateway(load(toml, f"sqlite:///{tmp_path / 'gw.db'}"))
    channel = SmtpChannel(gateway.config, gateway.intake, gateway.sessions, SmtpListener(
        enabled=True, port=0, mailboxes=MAILBOXES, max_message_bytes=max_bytes))
    channel.start()
    tls = ssl.create_default_context(cafile=gateway.config.data_dir / "smtp" / "cert.pem")
    return Site(gateway, channel, tls)


def close(site: Site) -> None:
    site.channel.stop()
    site.gateway.stop()
    site.gateway.engine.dispose()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = build_site(tmp_path)
    try:
        yield s
    finally:
        close(s)


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = Relay(free_port())
    controller = Controller(r, hostname="127.0.0.1", port=r.port)
    controller.start()
    try:
        yield r
    finally:
        controller.stop()


def mail(sender: str = "edi@hanil.example", to: str = "orders@moe.example",
         mid: str = "<m1@hanil.example>", parts: list[tuple[bytes, str, str]] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Hanil EDI <{sender}>"
    msg["To"] = to
    msg["Subject"] = "Orders of the week"
    msg["Message-ID"] = mid
    msg.set_content("Please find our documents attached.\n")
    for content, media, name in parts if parts is not None else [
        (EDIFACT, "application/edifact", "ORDERS-1.edi"),
        (XML, "application/octet-stream", "order-2.xml"),
    ]:
        maintype, subtype = media.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return msg


def test_smtplib_submission_over_starttls_with_auth_becomes_one_interchange_per_attachment(site: Site) -> None:
    with site.client() as smtp:
        refused = smtp.send_message(mail())
    assert refused == {}
    first, second = site.interchanges()
    assert (first.channel, first.partner_id, first.filename, first.media_type) == (
        "email", "hanil-office", "ORDERS-1.edi", "application/edifact")
    assert (second.filename, second.media_type) == ("order-2.xml", "application/xml")
    assert first.transport_id == "<m1@hanil.example>#2" and second.transport_id == "<m1@hanil.example>#3"
    assert site.gateway.spool.read(first.raw_sha256) == EDIFACT
    assert site.gateway.spool.read(second.raw_sha256) == XML
    facts: dict[str, Any] = first.origin
    assert facts["message_id"] == "<m1@hanil.example>"
    assert facts["subject"] == "Orders of the week" and facts["to"] == "orders@moe.example"
    assert facts["from"] == "Hanil EDI <edi@hanil.example>" and facts["authenticated"] is True
    assert facts["mailboxes"] == [{"address": "orders@moe.example", "institution": "moe", "kind": "order"}]
    raw = site.gateway.spool.read(facts["raw_mail_sha256"])  # the mail as received
    assert b"Message-ID: <m1@hanil.example>" in raw and b"Orders of the week" in raw


def test_the_same_mail_sent_again_is_recognised(site: Site) -> None:
    for _ in range(2):
        with site.client() as smtp:
            smtp.send_message(mail(parts=[(EDIFACT, "application/edifact", "A.edi")]))
    first, again = sorted(site.interchanges(), key=lambda i: i.received_at)
    assert again.duplicate_of == first.id


def test_attachments_are_recognised_by_type_name_or_content(site: Site) -> None:
    order = json.dumps({"documents": []}).encode()
    parts = [
        (EDIFACT, "application/octet-stream", "noext"),  # sniffed
        (XML, "text/xml", "a.dat"),  # content type
        (order, "application/octet-stream", "b.json"),  # file name
        (b"just some notes", "application/octet-stream", "notes.bin"),  # none of them: ignored
    ]
    with site.client() as smtp:
        smtp.send_message(mail(parts=parts))
    assert [i.media_type for i in site.interchanges()] == [
        "application/edifact", "application/xml", "application/json"]


def test_without_starttls_nothing_can_be_submitted(site: Site) -> None:
    with smtplib.SMTP("127.0.0.1", site.channel.port, timeout=30) as smtp:
        smtp.ehlo()
        assert "auth" not in smtp.esmtp_features  # no AUTH offered in the clear
        code, _ = smtp.mail("orders@nordic.example")
        assert code == 530
    assert site.interchanges() == []


def test_wrong_password_gets_535(site: Site) -> None:
    with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
        site.client(password="not the password")
    assert caught.value.smtp_code == 535
    # smtplib may try a second mechanism after the first 535: one event per attempt
    events = wait_for(lambda: site.events("smtp-auth-failed"))
    for event in events:
        assert event.detail["user"] == "hanil"
        assert "not the password" not in json.dumps(event.detail)


def test_unknown_mailbox_gets_550(site: Site) -> None:
    with site.client() as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        smtp.send_message(mail(to="ceo@moe.example"))
    assert caught.value.recipients["ceo@moe.example"][0] == 550
    assert site.interchanges() == []


def test_oversize_gets_552(tmp_path: Path) -> None:
    s = build_site(tmp_path, max_bytes=50_000)
    try:
        big = [(EDIFACT + b"X" * 60_000, "application/edifact", "BIG.edi")]
        with s.client() as smtp, pytest.raises(smtplib.SMTPSenderRefused) as caught:
            smtp.send_message(mail(parts=big))  # smtplib declares SIZE: refused at MAIL
        assert caught.value.smtp_code == 552
        with s.client() as smtp:  # without SIZE, refused at the end of DATA
            smtp.ehlo()
            smtp.esmtp_features.pop("size", None)
            with pytest.raises(smtplib.SMTPDataError) as data_caught:
                smtp.send_message(mail(parts=big))
            assert data_caught.value.smtp_code == 552
        assert s.interchanges() == []
    finally:
        close(s)


def test_sender_allow_list_applies_to_partners_without_credentials(site: Site) -> None:
    with site.client(login=False) as smtp:
        smtp.send_message(mail(sender="orders@nordic.example", mid="<n1@nordic.example>"))
        with pytest.raises(smtplib.SMTPSenderRefused) as stranger:
            smtp.send_message(mail(sender="someone@elsewhere.example"))
        assert stranger.value.smtp_code == 550
        with pytest.raises(smtplib.SMTPSenderRefused) as needs_auth:
            smtp.send_message(mail(sender="edi@hanil.example"))  # hanil has credentials
        assert needs_auth.value.smtp_code == 530
    assert {i.partner_id for i in site.interchanges()} == {"nordic-paper"}


def test_mail_without_documents_is_refused(site: Site) -> None:
    with site.client() as smtp, pytest.raises(smtplib.SMTPDataError) as caught:
        smtp.send_message(mail(parts=[]))
    assert caught.value.smtp_code == 554


def test_store_failure_answers_451_and_accepts_nothing(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*_: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(site.gateway.intake, "_insert", down)
    with site.client() as smtp, pytest.raises(smtplib.SMTPDataError) as caught:
        smtp.send_message(mail())
    assert caught.value.smtp_code == 451
    monkeypatch.undo()
    assert site.interchanges() == []
    with site.client() as smtp:
        smtp.send_message(mail())  # the sender's retry goes through
    assert len(site.interchanges()) == 2


def swaks(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("swaks")
    if found is None:
        if IN_CI:
            pytest.fail("swaks is not installed; .ci/run must install the swaks package")
        pytest.skip("swaks is not installed here")
    return subprocess.run([found, *args], capture_output=True, text=True, timeout=60)


def test_swaks_submits_edifact_and_xml_over_starttls_with_auth(site: Site, tmp_path: Path) -> None:
    edi, xml = tmp_path / "ORDERS-7.edi", tmp_path / "order-7.xml"
    edi.write_bytes(EDIFACT)
    xml.write_bytes(XML)
    common = ["--server", f"127.0.0.1:{site.channel.port}", "--tls", "--from", "edi@hanil.example",
              "--to", "orders@moe.example", "--auth", "PLAIN", "--auth-user", "hanil"]
    result = swaks(*common, "--auth-password", HANIL_PASSWORD,
                   "--header", "Subject: swaks orders", "--header", "Message-ID: <swaks1@hanil.example>",
                   "--attach-type", "application/edifact", "--attach", f"@{edi}",
                   "--attach-type", "application/xml", "--attach", f"@{xml}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 2.0.0 Accepted 2 document(s)" in result.stdout
    taken = site.interchanges()
    assert [i.filename for i in taken] == ["ORDERS-7.edi", "order-7.xml"]
    assert [site.gateway.spool.read(i.raw_sha256) for i in taken] == [EDIFACT, XML]

    wrong = swaks(*common, "--auth-password", "wrong")
    assert wrong.returncode != 0 and "535" in wrong.stdout
    unknown = swaks(*common[:-6], "--to", "nobody@moe.example", "--auth", "PLAIN",
                    "--auth-user", "hanil", "--auth-password", HANIL_PASSWORD)
    assert unknown.returncode != 0 and "550 5.1.1" in unknown.stdout


def ack_for(ic: Interchange, content: bytes = b"UNH+1+CONTRL:D:3:UN'") -> Ack:
    now = dt.datetime.now(dt.UTC)
    return Ack(id="01ACKMAIL00000000000000000", interchange_id=ic.id, partner_id=ic.partner_id,
               kind="contrl", positive=True, media_type="application/edifact",
               filename="CONTRL-REF1.edi", content=content, route="email",
               state=AckState.PENDING, attempts=0, next_attempt_at=now, created_at=now)


def test_reply_with_the_ack_arrives_at_the_relay(site: Site, relay: Relay) -> None:
    with site.client() as smtp:
        smtp.send_message(mail())
    first = site.interchanges()[0]
    sender = MailSender(site.gateway.sessions, MailRelay(
        port=relay.port, security="none", sender="edi@gateway.example", domain="gateway.example"))
    assert sender.send(ack_for(first), site.gateway.config.partners["hanil-office"]) == AckState.DELIVERED
    pair = wait_for(relay.first)
    assert pair is not None
    envelope, reply = pair
    assert envelope.rcpt_tos == ["edi@hanil.example"] and envelope.mail_from == "edi@gateway.example"
    assert reply["In-Reply-To"] == "<m1@hanil.example>"
    assert reply["Subject"] == "Re: Orders of the week"
    body = reply.get_body(("plain",))
    assert body is not None and first.id in body.get_content()
    (attached,) = list(reply.iter_attachments())
    assert attached.get_filename() == "CONTRL-REF1.edi"
    assert attached.get_content_type() == "application/edifact"
    assert attached.get_payload(decode=True) == b"UNH+1+CONTRL:D:3:UN'"


def test_relay_down_is_retried_by_the_outbox(site: Site) -> None:
    with site.client() as smtp:
        smtp.send_message(mail())
    first = site.interchanges()[0]
    sender = MailSender(site.gateway.sessions, MailRelay(port=free_port(), security="none"))
    with pytest.raises(OSError):
        sender.send(ack_for(first), site.gateway.config.partners["hanil-office"])


def test_json_submission_is_processed_and_its_receipt_comes_back_by_mail(site: Site, relay: Relay) -> None:
    """End to end: the worker processes the attachment, the outbox sends the receipt by the
    `email` return route."""
    gw = site.gateway
    gw.senders["email"] = MailSender(gw.sessions, MailRelay(port=relay.port, security="none"))
    order = samples.order("PO-MAIL-1", samples.INSTITUTIONS[0], samples.SUPPLIERS[0])
    payload = json.dumps({"documents": [order]}).encode()
    gw.start()
    with site.client() as smtp:
        smtp.send_message(mail(mid="<json1@hanil.example>", parts=[(payload, "application/json", "po.json")]))
    pair = wait_for(relay.first, timeout=60)
    assert pair is not None
    _, reply = pair
    assert reply["In-Reply-To"] == "<json1@hanil.example>"
    (attached,) = list(reply.iter_attachments())
    receipt = json.loads(attached.get_content())
    assert receipt["verdict"] == "accepted", receipt


def test_a_tender_by_mail_is_sealed_and_its_signed_receipt_comes_back_by_mail(
    site: Site, relay: Relay
) -> None:
    gw = site.gateway
    gw.senders["email"] = MailSender(gw.sessions, MailRelay(port=relay.port, security="none"))
    payload = open_call_and_tender(gw, "CFT-MAIL-1", "PRICE-MARKER-MAIL-51c2")
    gw.start()
    with site.client() as smtp:
        smtp.send_message(mail(to="tenders@moe.example", mid="<tender1@hanil.example>",
                               parts=[(payload, "application/json", "tender.json")]))
    pair = wait_for(relay.first, timeout=60)
    assert pair is not None
    envelope, reply = pair
    assert envelope.rcpt_tos == ["edi@hanil.example"]
    assert reply["In-Reply-To"] == "<tender1@hanil.example>"
    (attached,) = list(reply.iter_attachments())
    receipt = json.loads(attached.get_content())
    statement, signature = base64.b64decode(receipt["statement"]), base64.b64decode(receipt["signature"])
    public = serialization.load_pem_public_key(tendering_of(gw).key.public_pem())
    assert isinstance(public, ed25519.Ed25519PublicKey)
    public.verify(signature, statement)  # raises when it does not verify
    lines = dict(line.split(": ", 1) for line in statement.decode().splitlines()[1:])
    assert lines["sha256"] == hashlib.sha256(payload).hexdigest()
    assert b"PRICE-MARKER-MAIL-51c2" not in reply.as_bytes()
    [ic] = site.interchanges()
    assert ic.state == "sealed"
    # neither the attachment nor the mail around it is kept in clear
    spooled = [f for f in gw.config.spool_dir.rglob("*") if f.is_file()]
    assert spooled and not any(b"PRICE-MARKER-MAIL-51c2" in f.read_bytes() for f in spooled)


@pytest.fixture
def small_spool(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "spool"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                            capture_output=True)
    if result.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs: {result.stderr.decode()}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_spool_during_data_answers_452_accepts_nothing_and_recovers(tmp_path: Path, small_spool: Path) -> None:
    s = build_site(tmp_path, spool_dir=small_spool)
    try:
        stat = os.statvfs(small_spool)
        filler = small_spool / "filler"
        filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 200_000))
        big = [(EDIFACT + b"X" * 150_000, "application/edifact", "A.edi"),
               (EDIFACT + b"Y" * 150_000, "application/edifact", "B.edi")]
        with s.client() as smtp, pytest.raises(smtplib.SMTPDataError) as caught:
            smtp.send_message(mail(parts=big))
        assert caught.value.smtp_code == 452
        with s.gateway.sessions() as db:
            assert db.scalar(select(func.count()).select_from(Interchange)) == 0
        assert list((small_spool / "tmp").iterdir()) == []

        filler.unlink()
        with s.client() as smtp:
            assert smtp.send_message(mail(parts=big)) == {}
        assert [i.filename for i in s.interchanges()] == ["A.edi", "B.edi"]
    finally:
        close(s)
