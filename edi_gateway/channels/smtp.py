"""SMTP channel adapter: the procurement mailboxes (orders@…, invoices@…, tenders@…) served
by aiosmtpd on its own port.

A session proves who the partner is by AUTH (partners with SMTP credentials; only after
STARTTLS) or, for partners without credentials, by a sender address on their allow-list.
Each recipient must be a configured mailbox (550 otherwise); the size limit answers 552. The
EDIFACT, XML and JSON attachments become one interchange each and the raw mail is kept; `250`
is sent only after all of it is durable, `451`/`452` when it could not be made durable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from edi_gateway.channel_settings import SmtpListener
from edi_gateway.channels.mail import MailIntake, MailRefused, NoSpace, partner_by_sender
from edi_gateway.config import Config, Partner, hash_token
from edi_gateway.intake import Intake, IntakeUnavailable, PayloadTooLarge

log = structlog.get_logger("edi_gateway.channels.smtp")


def self_signed_certificate(
    cert: Path, key: Path, hostname: str, addresses: tuple[str, ...] = ()
) -> None:
    """Write a self-signed certificate and its key (for a gateway without a configured one,
    and for tests), valid for `hostname` and the IP `addresses`."""
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(hostname),
                    *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses),
                ]
            ),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    key.parent.mkdir(parents=True, exist_ok=True)
    key.touch(mode=0o600)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


class _Controller(Controller):
    """aiosmtpd's controller, able to listen on an ephemeral port (port 0)."""

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def _create_server(self) -> Any:
        return self._bind()


class SmtpChannel:
    def __init__(
        self,
        config: Config,
        intake: Intake,
        sessions: sessionmaker[DbSession],
        settings: SmtpListener,
    ) -> None:
        self.config = config
        self.settings = settings
        self.mail = MailIntake(config, intake, sessions)
        self.mailboxes = {m.address.lower(): m for m in settings.mailboxes}
        self._controller: _Controller | None = None
        self.port = settings.port

    def tls_context(self) -> ssl.SSLContext:
        s = self.settings
        if s.certificate and s.private_key:
            cert, key = (
                self.config.path.parent / s.certificate,
                self.config.path.parent / s.private_key,
            )
        else:
            cert, key = (
                self.config.data_dir / "smtp" / "cert.pem",
                self.config.data_dir / "smtp" / "key.pem",
            )
            if not cert.exists() or not key.exists():
                self_signed_certificate(cert, key, s.hostname, _ip(s.host))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        return context

    def start(self) -> None:
        s = self.settings
        self._controller = _Controller(
            _Handler(self),
            hostname=s.host,
            port=s.port,
            server_hostname=s.hostname,
            tls_context=self.tls_context(),
            require_starttls=s.require_starttls,
            auth_require_tls=True,
            authenticator=self.authenticate,
            data_size_limit=s.max_message_bytes,
            decode_data=False,
            enable_SMTPUTF8=True,
        )
        self._controller.start()
        self.port = self._controller.port
        log.info("smtp.listening", host=s.host, port=self.port)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # -- who is sending --------------------------------------------------------------------

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """AUTH PLAIN/LOGIN against the partners' SMTP credentials. A failure answers 535
        (`handled=False`: aiosmtpd would otherwise send nothing)."""
        if isinstance(data, LoginPassword):
            user = data.login.decode("utf-8", "replace")
            password = data.password.decode("utf-8", "replace")
            for p in self.config.partners.values():
                e = p.email
                if (
                    p.enabled
                    and e
                    and e.smtp_user == user
                    and e.smtp_password_sha256
                    and hmac.compare_digest(hash_token(password), e.smtp_password_sha256)
                ):
                    log.info("smtp.authenticated", partner=p.id)
                    return AuthResult(success=True, auth_data=p.id)
            self.record("smtp-auth-failed", None, user=user, remote=_peer(session))
            log.info("smtp.auth_failed", user=user)
        return AuthResult(success=False, handled=False)

    def partner(self, session: Session, mail_from: str) -> Partner | None:
        if session.authenticated and isinstance(session.auth_data, str):
            return self.config.partners.get(session.auth_data)
        return partner_by_sender(self.config, mail_from)

    def needs_auth(self, mail_from: str) -> bool:
        address = mail_from.lower()
        return any(
            p.email is not None
            and p.email.smtp_user is not None
            and address in (a.lower() for a in p.email.addresses)
            for p in self.config.partners.values()
        )

    def record(self, type_: str, partner_id: str | None, **detail: Any) -> None:
        """Record an event without holding up the SMTP session (the store may be slow)."""
        asyncio.get_running_loop().run_in_executor(
            None, lambda: self.mail.event(type_, partner_id, **detail)
        )


def _ip(host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        return ()


def _peer(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple):
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")


class _Handler:
    """aiosmtpd hooks: who may send (MAIL), to which mailbox (RCPT), and the mail (DATA)."""

    def __init__(self, channel: SmtpChannel) -> None:
        self.channel = channel

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.channel.partner(session, address) is None:
            needs_auth = self.channel.needs_auth(address)
            reason = "authentication required" if needs_auth else "sender not allowed"
            self.channel.record(
                "smtp-refused", None, sender=address, reason=reason, remote=_peer(session)
            )
            return (
                "530 5.7.0 Authentication required"
                if needs_auth
                else ("550 5.7.1 This sender is not allowed to submit documents here")
            )
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if address.lower() not in self.channel.mailboxes:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        if len(envelope.rcpt_tos) >= self.channel.settings.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        partner = self.channel.partner(session, mail_from)
        if partner is None:  # MAIL already checked; the session may have changed since
            return "550 5.7.1 This sender is not allowed to submit documents here"
        boxes = [self.channel.mailboxes[r.lower()] for r in envelope.rcpt_tos]
        extra = {
            "envelope_from": mail_from,
            "remote": _peer(session),
            "authenticated": bool(session.authenticated),
        }
        bound = log.bind(partner=partner.id, remote=extra["remote"])
        try:
            taken = await self.channel.mail.take_async(raw, partner, boxes, "smtp", extra)
        except MailRefused as exc:
            await asyncio.to_thread(
                self.channel.mail.event, "smtp-refused", partner.id, reason=exc.reason
            )
            return f"{exc.code} {exc.reason}"
        except NoSpace as exc:
            bound.warning("smtp.no_space", reason=exc.reason)
            return "452 4.3.1 Insufficient storage, nothing was accepted; try again later"
        except IntakeUnavailable as exc:
            bound.warning("smtp.intake_unavailable", reason=exc.reason)
            return "451 4.3.0 Temporary failure, nothing was accepted; try again later"
        except PayloadTooLarge:
            return "552 5.3.4 Message too big"
        ids = [r.interchange_id for r in taken.receipts]
        bound.info("smtp.taken", message_id=taken.message_id, interchanges=ids)
        return f"250 2.0.0 Accepted {len(ids)} document(s): {' '.join(ids)}"
