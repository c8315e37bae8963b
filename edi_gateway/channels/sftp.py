"""SFTP channel adapter: one confined area per partner, served by asyncssh on its own port.

A partner logs in with its own user (public key; a password only where its configuration
sets one) and sees exactly two directories:

- `inbox/`: write only. An upload is taken when it is complete: when a file with a temporary
  name (a leading dot, or `.tmp`/`.part`/`.filepart`) is renamed to a final name, or when a
  file written under its final name is closed by the client while the connection is healthy.
  asyncssh also "closes" every file still open when a connection dies, so a close seen while
  the session is torn down is a cut-off upload: it is discarded, never taken.
- `outbox/`: our acknowledgements, to download and delete.

Inbox files are written encrypted under a key only this process holds (`transient.InboxCipher`), so an
upload waiting there (a tender before intake seals it) is not readable from the disk.

The client's rename or close is answered only after intake committed the bytes; when intake
cannot (full spool, store down) the client gets an SFTP failure and nothing is kept. A taken
file does not stay in `inbox/`: its bytes live in the spool from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import os
import posixpath
import re
import threading
from pathlib import Path
from typing import Any

import asyncssh
import structlog
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.channel_settings import SftpListener
from edi_gateway.channels.transient import InboxCipher, KeyLost
from edi_gateway.config import Config, Partner, hash_token
from edi_gateway.intake import Intake, IntakeUnavailable, Origin, PayloadTooLarge
from edi_gateway.store.tables import Event

log = structlog.get_logger("edi_gateway.channels.sftp")

INBOX, OUTBOX = "inbox", "outbox"
TEMP_SUFFIXES = (".tmp", ".part", ".filepart")


def is_temporary(name: str) -> bool:
    return name.startswith(".") or name.endswith(TEMP_SUFFIXES)


def area(root: Path, partner_id: str) -> Path:
    """The partner's directory, with `inbox/` and `outbox/` created."""
    base = root / partner_id
    for sub in (INBOX, OUTBOX):
        (base / sub).mkdir(parents=True, exist_ok=True)
    return base


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """The server's identity: generated once, then kept (clients pin it)."""
    if path.exists():
        return asyncssh.read_private_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519")
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.export_private_key())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, path)
    return key


class SftpRefused(asyncssh.SFTPPermissionDenied):
    pass


class SftpChannel:
    """Runs the SFTP listener on its own event loop thread (`start`/`stop`)."""

    def __init__(
        self,
        config: Config,
        intake: Intake,
        sessions: sessionmaker[Session],
        settings: SftpListener,
    ) -> None:
        self.config = config
        self.intake = intake
        self.sessions = sessions
        self.settings = settings
        self.root = (config.data_dir / settings.root).resolve()
        self.host_key_path = config.data_dir / settings.host_key
        self.name_rule = re.compile(settings.file_name_pattern)
        self.port = settings.port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.inbox_cipher = InboxCipher()

    # -- partners --------------------------------------------------------------------------

    def partner_for_user(self, username: str) -> Partner | None:
        for p in self.config.partners.values():
            if p.enabled and p.sftp is not None and p.sftp.user == username:
                return p
        return None

    def size_limit(self, partner: Partner) -> int:
        default = self.config.settings.limits.max_submission_bytes
        mine = partner.sftp.max_file_bytes if partner.sftp else None
        return min(mine, default) if mine else default

    def name_allowed(self, name: str) -> bool:
        final = name[1:] if name.startswith(".") else name
        return bool(self.name_rule.match(final)) and "/" not in name

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        for p in self.config.partners.values():
            if p.enabled and p.sftp is not None:
                area(self.root, p.id)
        key = load_or_create_host_key(self.host_key_path)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="sftp-channel", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(key), loop).result(30)
        except BaseException:
            self.stop()
            raise
        log.info("sftp.listening", host=self.settings.host, port=self.port)

    async def _listen(self, key: asyncssh.SSHKey) -> None:
        self._acceptor = await asyncssh.listen(
            self.settings.host,
            self.settings.port,
            server_factory=lambda: _Login(self),
            server_host_keys=[key],
            sftp_factory=lambda chan: PartnerArea(chan, self),
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_pty=False,
            login_timeout=self.settings.login_timeout_seconds,
        )
        self.port = self._acceptor.get_port()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def close() -> None:
            if self._acceptor is not None:
                self._acceptor.close()
                await self._acceptor.wait_closed()
                self._acceptor = None
            for conn in list(self.connections):  # uploads in flight end as cut off
                conn.close()
            for conn in list(self.connections):
                await conn.wait_closed()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        self._loop = self._thread = None

    # -- taking uploads --------------------------------------------------------------------

    async def take(self, partner: Partner, path: Path, name: str, remote: str) -> str:
        """Hand a complete upload to intake; return the interchange id. The file is gone
        afterwards, taken or not (a refused upload must be sent again)."""
        origin = Origin(
            channel="sftp",
            partner_id=partner.id,
            filename=name,
            facts={"user": partner.sftp.user if partner.sftp else None, "remote": remote},
        )
        try:
            with self.inbox_cipher.open(path) as fh:
                receipt = await self.intake.receive_async(
                    fh, origin, max_bytes=self.size_limit(partner)
                )
        except KeyLost as exc:
            await self.event("sftp-refused", partner.id, file=name, reason=str(exc))
            raise asyncssh.SFTPFailure(f"{exc}; send the file again") from exc
        except IntakeUnavailable as exc:
            await self.event("sftp-failed", partner.id, file=name, reason=exc.reason)
            raise asyncssh.SFTPFailure(
                f"temporary failure, nothing was accepted, send again later: {exc.reason}"
            ) from exc
        except PayloadTooLarge as exc:
            await self.event("sftp-refused", partner.id, file=name, reason=str(exc))
            raise asyncssh.SFTPFailure(str(exc)) from exc
        finally:
            self.discard(path)
        await self.event(
            "sftp-upload",
            partner.id,
            interchange_id=receipt.interchange_id,
            file=name,
            size=receipt.size,
        )
        log.info("sftp.taken", partner=partner.id, file=name, interchange_id=receipt.interchange_id)
        return receipt.interchange_id

    def discard(self, path: Path) -> None:
        """Remove an inbox file (taken, refused or cut off), and its nonce."""
        self.inbox_cipher.forget(path)
        path.unlink(missing_ok=True)

    def record(self, type_: str, partner_id: str | None, **detail: Any) -> None:
        """Record an event in the background (from synchronous asyncssh callbacks)."""
        task = asyncio.get_running_loop().create_task(self.event(type_, partner_id, **detail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def event(
        self, type_: str, partner_id: str | None, interchange_id: str | None = None, **detail: Any
    ) -> None:
        await asyncio.to_thread(self._write_event, type_, partner_id, interchange_id, detail)

    def _write_event(
        self,
        type_: str,
        partner_id: str | None,
        interchange_id: str | None,
        detail: dict[str, Any],
    ) -> None:
        try:
            with self.sessions.begin() as s:
                s.add(
                    Event(
                        at=dt.datetime.now(dt.UTC),
                        interchange_id=interchange_id,
                        actor=f"sftp:{partner_id or '-'}",
                        type=type_,
                        detail=detail,
                    )
                )
        except Exception as exc:  # an event must never turn an answer into a crash
            log.warning("sftp.event_not_recorded", type=type_, error=str(exc))


class _Login(asyncssh.SSHServer):
    """Authentication for one connection: public keys per partner, passwords only where
    configured. Remembers whether the connection was lost (see `PartnerArea.close`)."""

    def __init__(self, channel: SftpChannel) -> None:
        self.channel = channel
        self.lost = False
        self.partner: Partner | None = None
        self.username = ""
        self.remote = ""
        self.authenticated = False
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self.remote = f"{peer[0]}:{peer[1]}" if peer else ""
        conn.set_extra_info(gateway_login=self)
        self.conn = conn
        self.channel.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.channel.connections.discard(self.conn)
        if not self.authenticated and self.username:
            self._event("sftp-login-failed", user=self.username, remote=self.remote)

    def begin_auth(self, username: str) -> bool:
        self.username = username
        self.partner = self.channel.partner_for_user(username)
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        partner = self.partner
        if partner is None or partner.sftp is None:
            return False
        offered = key.export_public_key("openssh").split()[:2]
        for line in partner.sftp.public_keys:
            with contextlib.suppress(ValueError, asyncssh.KeyImportError):
                known = asyncssh.import_public_key(line).export_public_key("openssh").split()
                if known[:2] == offered:
                    return True
        return False

    def password_auth_supported(self) -> bool:
        p = self.partner
        return p is not None and p.sftp is not None and p.sftp.password_sha256 is not None

    def validate_password(self, username: str, password: str) -> bool:
        p = self.partner
        if p is None or p.sftp is None or p.sftp.password_sha256 is None:
            return False
        return hmac.compare_digest(hash_token(password), p.sftp.password_sha256)

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def auth_completed(self) -> None:
        self.authenticated = True
        self._event("sftp-login", user=self.username, remote=self.remote)

    def _event(self, type_: str, **detail: Any) -> None:
        self.channel.record(type_, self.partner.id if self.partner else None, **detail)


class _Upload:
    """A file being written into inbox/."""

    def __init__(self, path: Path, name: str, fd: int, limit: int) -> None:
        self.path, self.name, self.fd, self.limit = path, name, fd, limit
        self.failed: str | None = None

    def fileno(self) -> int:
        return self.fd


class _Download:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


class PartnerArea(asyncssh.SFTPServer):
    """One partner's SFTP session, confined to its inbox/ and outbox/."""

    def __init__(self, chan: asyncssh.SSHServerChannel, channel: SftpChannel) -> None:
        self.adapter = channel
        conn = chan.get_connection()
        login = conn.get_extra_info("gateway_login")
        assert isinstance(login, _Login) and login.partner is not None
        self.login: _Login = login
        self.partner: Partner = login.partner
        self.base = area(channel.root, self.partner.id).resolve()
        self.writing: set[Path] = set()
        super().__init__(chan, chroot=bytes(self.base))

    # -- where things are ------------------------------------------------------------------

    def _place(self, path: bytes, lenient: bool = False) -> tuple[str, str]:
        """(directory, file name) inside the area; "" for the area itself. Refuses paths
        with `..` (a lenient look-up, as for listings, resolves them within the area) and
        anything but the area, inbox/, outbox/ and the files directly in them."""
        text = path.decode("utf-8", "strict")
        if lenient:
            text = posixpath.normpath(posixpath.join("/", text))
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self._refuse("a path with '..' is not allowed", text)
        if len(parts) > 2 or (parts and parts[0] not in (INBOX, OUTBOX)):
            raise self._refuse("only inbox/ and outbox/ exist here", text)
        return (parts[0] if parts else "", parts[1] if len(parts) == 2 else "")

    def _local(self, where: str, name: str) -> Path:
        return self.base / where / name if name else self.base / where

    def _refuse(self, reason: str, path: str) -> SftpRefused:
        self.adapter.record("sftp-refused", self.partner.id, path=path, reason=reason)
        log.info("sftp.refused", partner=self.partner.id, path=path, reason=reason)
        return SftpRefused(reason)

    def _healthy(self) -> bool:
        """Whether the client is still talking to us. A close that asyncssh issues while it
        tears a session down comes after the connection was lost (killed client), or after
        the client's end of the channel sent EOF with the file still open (its sftp process
        died, its ssh process ended the channel). asyncssh has no public flag for the
        second case, so its channel receive state is read; an unknown state counts as
        unhealthy, so a changed asyncssh refuses uploads rather than taking cut-off ones."""
        if self.login.lost or self.channel.is_closing():
            return False
        return getattr(self.channel, "_recv_state", None) == "open"

    def map_path(self, path: bytes) -> bytes:
        """Used by asyncssh's own look-ups (stat, listings, realpath): never writes."""
        where, name = self._place(path, lenient=True)
        return bytes(self._local(where, name))

    # -- files -----------------------------------------------------------------------------

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        where, name = self._place(path)
        text = path.decode()
        writes = bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND))
        if where == INBOX and name:
            if not writes or pflags & asyncssh.FXF_READ:
                raise self._refuse("inbox/ is write only", text)
            if not self.adapter.name_allowed(name):
                raise self._refuse(f"file name {name!r} is not allowed", text)
            local = self._local(where, name)
            fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            self.adapter.inbox_cipher.begin(fd)
            self.writing.add(local)
            return _Upload(local, name, fd, self.adapter.size_limit(self.partner))
        if where == OUTBOX and name:
            if writes:
                raise self._refuse("outbox/ is read only", text)
            try:
                return _Download(os.open(self._local(where, name), os.O_RDONLY | os.O_NOFOLLOW))
            except FileNotFoundError:
                raise asyncssh.SFTPNoSuchFile("no such file") from None
        raise self._refuse("files can only be written into inbox/", text)

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        if not isinstance(file_obj, _Upload):
            raise SftpRefused("this file is not open for writing")
        if file_obj.failed:
            raise asyncssh.SFTPFailure(file_obj.failed)
        if offset + len(data) > file_obj.limit:
            file_obj.failed = f"file larger than the limit of {file_obj.limit} bytes"
            raise asyncssh.SFTPFailure(file_obj.failed)
        try:
            return os.pwrite(
                file_obj.fd, self.adapter.inbox_cipher.encrypt(file_obj.fd, offset, data), offset
            )
        except OSError as exc:
            file_obj.failed = f"the upload could not be stored: {exc.strerror}"
            raise asyncssh.SFTPFailure(file_obj.failed) from exc

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        if not isinstance(file_obj, _Download):
            raise SftpRefused("inbox/ is write only")
        return os.pread(file_obj.fd, size, offset)

    async def close(self, file_obj: object) -> None:
        if isinstance(file_obj, _Download):
            os.close(file_obj.fd)
            return
        if not isinstance(file_obj, _Upload):
            return
        os.close(file_obj.fd)
        self.writing.discard(file_obj.path)
        if file_obj.failed:
            self.adapter.discard(file_obj.path)
            await self.adapter.event(
                "sftp-refused", self.partner.id, file=file_obj.name, reason=file_obj.failed
            )
            if self._healthy():  # clients that pipeline writes learn it here
                raise asyncssh.SFTPFailure(file_obj.failed)
            return
        if not self._healthy():  # asyncssh closing what a lost connection left open
            self.adapter.discard(file_obj.path)
            await self.adapter.event(
                "sftp-incomplete",
                self.partner.id,
                file=file_obj.name,
                reason="the connection ended before the client closed the file",
            )
            return
        if is_temporary(file_obj.name):
            return  # taken when renamed
        await self.adapter.take(self.partner, file_obj.path, file_obj.name, self.login.remote)

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old_where, old = self._place(oldpath)
        new_where, new = self._place(newpath)
        text = f"{oldpath.decode()} -> {newpath.decode()}"
        if old_where != INBOX or new_where != INBOX or not old or not new:
            raise self._refuse("only files in inbox/ can be renamed, within inbox/", text)
        if not self.adapter.name_allowed(new):
            raise self._refuse(f"file name {new!r} is not allowed", text)
        source = self._local(INBOX, old)
        if source in self.writing:
            raise asyncssh.SFTPFailure("the file is still open for writing")
        if not source.is_file() or source.is_symlink():
            raise asyncssh.SFTPNoSuchFile("no such file")
        if is_temporary(new):
            os.rename(source, self._local(INBOX, new))
            return
        await self.adapter.take(self.partner, source, new, self.login.remote)

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self.rename(oldpath, newpath)

    def remove(self, path: bytes) -> None:
        where, name = self._place(path)
        if not name:
            raise self._refuse("directories cannot be removed", path.decode())
        local = self._local(where, name)
        if local in self.writing:
            raise asyncssh.SFTPFailure("the file is still open for writing")
        if not local.is_file():
            raise asyncssh.SFTPNoSuchFile("no such file")
        self.adapter.discard(local)

    # -- attributes: time stamps from `put -p` are accepted and ignored -------------------

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._place(path)

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        return None

    def fstat(self, file_obj: object) -> Any:
        if not isinstance(file_obj, _Upload | _Download):
            raise asyncssh.SFTPFailure("unknown file")
        return asyncssh.SFTPAttrs.from_local(os.fstat(file_obj.fd))

    def fsync(self, file_obj: object) -> None:
        if isinstance(file_obj, _Upload):
            os.fsync(file_obj.fd)

    # -- never allowed ---------------------------------------------------------------------

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise self._refuse("directories cannot be created", path.decode())

    def rmdir(self, path: bytes) -> None:
        raise self._refuse("directories cannot be removed", path.decode())

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise self._refuse("links cannot be created", newpath.decode())

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise self._refuse("links cannot be created", newpath.decode())
