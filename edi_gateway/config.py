"""Configuration: one `gateway.toml` and one `partners/<id>.toml` per trading partner.

Everything is validated at start-up; a wrong file stops the gateway with a `ConfigError` that
names the file, the key and what was expected. Secrets (API tokens) are stored as SHA-256
hashes: tokens are long random strings, so a fast hash is the right tool (no password
stretching needed) and a lookup by hash is constant time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edi_gateway.channel_settings import (
    As2Settings,
    ImapSettings,
    MailRelay,
    SftpListener,
    SmtpListener,
)
from edi_gateway.model import DocumentKind, Identifier

log = structlog.get_logger("edi_gateway.config")


class ConfigError(Exception):
    """A configuration file is wrong. The message names file, key and expectation."""

    def __init__(self, file: Path, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"{file}: {key}: {problem}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- partners


class PartnerRole(StrEnum):
    INSTITUTION = "institution"  # a public institution (buyer); owns back-office queues
    SUPPLIER = "supplier"


class EdifactId(_Section):
    id: Annotated[str, Field(min_length=1, max_length=35)]
    qualifier: Annotated[str, Field(max_length=4)] = ""


class EdifactSettings(_Section):
    ids: list[EdifactId] = Field(default_factory=list)


class AS2Settings(_Section):
    name: str
    url: str | None = None  # where we send to (return route)
    certificate: str | None = None  # partner certificate (PEM path, relative to the partner file)
    certificate_next: str | None = None  # second certificate during rollover
    require_signature: bool = True
    require_encryption: bool = True
    sign_outgoing: bool = True
    encrypt_outgoing: bool = True
    cipher: str = "aes256_cbc"
    digest: str = "sha256"
    mdn: Literal["sync", "async", "none"] = "sync"


class SftpSettings(_Section):
    user: str
    public_keys: list[str] = Field(default_factory=list)  # OpenSSH public key lines
    password_sha256: str | None = None  # password login is off unless this is set
    max_file_bytes: int | None = None


class EmailSettings(_Section):
    addresses: list[str] = Field(default_factory=list)  # allowed senders
    smtp_user: str | None = None
    smtp_password_sha256: str | None = None
    reply_to: str | None = None  # where replies with acks go; default the sender


class ApiToken(_Section):
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    label: str = ""


class BackOffice(_Section):
    """Pull access of an institution's back-office systems to its queues."""

    tokens: list[ApiToken] = Field(default_factory=list)
    queues: list[str] = Field(default_factory=list)  # glob patterns, e.g. "moe.*"

    def may_use(self, queue: str) -> bool:
        return any(fnmatch.fnmatchcase(queue, pattern) for pattern in self.queues)


class AckSettings(_Section):
    route: Literal["channel", "http", "folder", "webhook", "as2", "sftp", "email", "none"] = (
        "channel"
    )
    webhook_url: str | None = None
    contrl: Literal["always", "on_error", "never"] = "always"
    aperak: Literal["always", "on_error", "never"] = "on_error"
    application_response: Literal["always", "on_error", "never"] = "always"


class TenderOfficer(_Section):
    """An opening officer of an institution: the name its calls give (TenderEvaluationParty
    PartyName/Name or PartyIdentification/ID, or the API's and CLI's officer names) and the
    X.509 certificate (RSA, PEM path relative to the partner file) its share is sealed to."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    certificate: str


class TenderingSettings(_Section):
    officers: list[TenderOfficer] = Field(default_factory=list)


PARTNER_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # also the file name: no path can be made of it


class Partner(_Section):
    id: Annotated[str, Field(pattern=PARTNER_ID)]
    name: str
    role: PartnerRole
    enabled: bool = True
    identifiers: list[Identifier] = Field(default_factory=list)  # GLN, VAT, business ids
    may_send: list[DocumentKind] = Field(default_factory=list)
    api_tokens: list[ApiToken] = Field(default_factory=list)
    edifact: EdifactSettings = Field(default_factory=EdifactSettings)
    as2: AS2Settings | None = None
    sftp: SftpSettings | None = None
    email: EmailSettings | None = None
    folder: bool = False  # has a drop directory
    backoffice: BackOffice = Field(default_factory=BackOffice)
    acks: AckSettings = Field(default_factory=AckSettings)
    tendering: TenderingSettings = Field(default_factory=TenderingSettings)


# ----------------------------------------------------------------------------- gateway


class HttpListener(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class DashboardSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    secure_cookies: bool | None = None  # None: Secure when the request came over TLS
    session_hours: float = Field(default=12, gt=0, le=24 * 30)


class FolderChannel(_Section):
    enabled: bool = True
    root: str = "folders"
    poll_seconds: float = Field(default=1.0, gt=0)


class Limits(_Section):
    max_submission_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_documents: int = Field(default=1_000_000, gt=0)


class WorkerSettings(_Section):
    threads: int = Field(default=1, ge=0, le=64)  # pipeline threads inside `serve`
    # pipeline worker processes `serve` starts beside itself (they use the other cores;
    # on SQLite they share its single writer through a lock file)
    processes: int = Field(default=0, ge=0, le=64)
    poll_seconds: float = Field(default=0.05, gt=0, le=10)  # how often an idle worker looks
    batch: int = Field(default=64, ge=1, le=10_000)
    lease_seconds: float = Field(default=300, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    linger_seconds: float = Field(default=0.01, ge=0, le=1)  # gather a burst into one batch
    recover_on_start: bool = True  # single-node: take back what a crashed run left in processing


class QueueSettings(_Section):
    visibility_timeout: float = Field(default=30, gt=0)
    max_receives: int = Field(default=5, ge=1)
    backoff_seconds: float = Field(default=2, ge=0)
    backoff_max_seconds: float = Field(default=300, ge=0)


class Route(_Section):
    name: str
    queue: str  # may use {receiver}, {sender}, {kind}
    kind: DocumentKind | None = None
    sender: str | None = None  # partner id or glob
    receiver: str | None = None
    test: bool | None = None

    def matches(
        self, kind: DocumentKind, sender: str | None, receiver: str | None, test: bool
    ) -> bool:
        def glob(pattern: str | None, value: str | None) -> bool:
            return pattern is None or (value is not None and fnmatch.fnmatchcase(value, pattern))

        return (
            (self.kind is None or self.kind == kind)
            and glob(self.sender, sender)
            and glob(self.receiver, receiver)
            and (self.test is None or self.test == test)
        )


class Gateway(_Section):
    name: str = "edi-gateway"
    data_dir: str = "data"
    database_url: str | None = None  # default: SQLite in data_dir
    spool_dir: str | None = None  # default: data_dir/spool
    edifact_ids: list[EdifactId] = Field(default_factory=list)  # our own interchange ids
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class GatewaySettings(_Section):
    gateway: Gateway = Field(default_factory=Gateway)
    http: HttpListener = Field(default_factory=HttpListener)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    sftp: SftpListener = Field(default_factory=SftpListener)
    smtp: SmtpListener = Field(default_factory=SmtpListener)
    imap: ImapSettings = Field(default_factory=ImapSettings)
    mail_relay: MailRelay | None = None
    as2: As2Settings | None = None
    folder: FolderChannel = Field(default_factory=FolderChannel)
    limits: Limits = Field(default_factory=Limits)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    queues: QueueSettings = Field(default_factory=QueueSettings)
    routes: list[Route] = Field(default_factory=list)
    default_queues: dict[DocumentKind, str] = Field(
        default_factory=lambda: {k: "{receiver}." + k.value for k in DocumentKind}
    )
    dead_route_queue: str | None = None  # None: no route is the dead state

    @field_validator("routes")
    @classmethod
    def _unique_route_names(cls, routes: list[Route]) -> list[Route]:
        names = [r.name for r in routes]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"route names must be unique; repeated: {sorted(dupes)}")
        return routes


# ----------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class PartnerSet:
    """One consistent generation of the partner files, indexed for the lookups intake needs."""

    partners: dict[str, Partner]
    by_token: dict[str, Partner]
    backoffice_tokens: dict[str, Partner]

    @classmethod
    def of(cls, partners: dict[str, Partner]) -> PartnerSet:
        by_token: dict[str, Partner] = {}
        backoffice: dict[str, Partner] = {}
        for p in partners.values():
            if not p.enabled:
                continue
            for t in p.api_tokens:
                by_token[t.sha256] = p
            for t in p.backoffice.tokens:
                backoffice[t.sha256] = p
        return cls(partners, by_token, backoffice)


class PartnerDirectory:
    """The `partners/` directory of a running gateway, re-read when its files change.

    Every process `serve` starts (the listeners and the worker processes) holds one, so a file
    written by the dashboard takes effect everywhere within `interval` seconds without a
    signal between processes: `current()` looks at the files' mtimes at most once per interval
    and swaps in a whole new `PartnerSet` (readers never see half of one). A set that does not
    load keeps the previous one running and is logged."""

    def __init__(
        self,
        directory: Path,
        check: Callable[[dict[str, Partner]], None],
        partners: dict[str, Partner],
        interval: float = 1.0,
    ) -> None:
        self.directory = directory
        self.interval = interval
        self._check = check
        self._set = PartnerSet.of(partners)
        self._signature = _signature(directory)
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.writing = threading.Lock()  # one change to the files at a time (the dashboard)

    def current(self) -> PartnerSet:
        if time.monotonic() - self._checked >= self.interval:
            self._refresh(wait=False)  # whoever is re-reading already will swap the set in
        return self._set

    def reload(self) -> bool:
        """Re-read the files now if they changed; True when a new set was taken."""
        return self._refresh(wait=True)

    def _refresh(self, wait: bool) -> bool:
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            self._checked = time.monotonic()
            signature = _signature(self.directory)
            if signature == self._signature:
                return False
            self._signature = signature
            try:
                partners = read_partners(self.directory)
                self._check(partners)
            except ConfigError as exc:
                log.error("config.partners_reload_failed", error=str(exc))
                return False
            self._set = PartnerSet.of(partners)
            log.info("config.partners_reloaded", partners=len(partners))
            return True
        finally:
            self._lock.release()


def _signature(directory: Path) -> tuple[tuple[str, int, int, int], ...]:
    out = []
    for f in directory.glob("*.toml"):
        try:
            st = f.stat()
        except FileNotFoundError:  # replaced between the listing and the stat
            continue
        out.append((f.name, st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(sorted(out))


@dataclass
class Config:
    """The whole configuration, resolved: paths absolute, partners indexed (and reloaded
    from their files when these change, see `PartnerDirectory`)."""

    path: Path
    settings: GatewaySettings
    partner_files: PartnerDirectory
    data_dir: Path
    spool_dir: Path
    folder_root: Path
    database_url: str

    @property
    def partners(self) -> dict[str, Partner]:
        return self.partner_files.current().partners

    @property
    def partners_dir(self) -> Path:
        return self.partner_files.directory

    def partner_by_token(self, token: str) -> Partner | None:
        return self.partner_files.current().by_token.get(hash_token(token))

    def backoffice_by_token(self, token: str) -> Partner | None:
        return self.partner_files.current().backoffice_tokens.get(hash_token(token))

    def check_partners(self, partners: dict[str, Partner]) -> None:
        """Raise ConfigError when `partners` does not fit the gateway settings."""
        _check_references(self.path, self.settings, partners)

    def partner_by_identifier(self, ids: list[Identifier]) -> Partner | None:
        """The partner owning any of these business identifiers (scheme must agree if both
        sides give one)."""
        for p in self.partners.values():
            for mine in p.identifiers:
                for theirs in ids:
                    if mine.value == theirs.value and (
                        mine.scheme is None or theirs.scheme is None or mine.scheme == theirs.scheme
                    ):
                        return p
        return None

    def partner_by_edifact_id(self, id_: str, qualifier: str = "") -> Partner | None:
        for p in self.partners.values():
            for e in p.edifact.ids:
                if e.id == id_ and (not e.qualifier or not qualifier or e.qualifier == qualifier):
                    return p
        return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(path, "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "-", f"not valid TOML: {exc}") from None


def _validate(model: type[BaseModel], data: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "-"
        found = err.get("input")
        shown = "" if isinstance(found, dict) else f" (found {found!r})"
        more = f" [and {len(exc.errors()) - 1} more problem(s)]" if len(exc.errors()) > 1 else ""
        raise ConfigError(path, key, f"{err['msg']}{shown}{more}") from None


def read_partner(pfile: Path, data: dict[str, Any] | None = None) -> Partner:
    """One partner file (or `data` meant for it), validated; its id must be the file name."""
    partner: Partner = _validate(Partner, _read_toml(pfile) if data is None else data, pfile)
    if partner.id != pfile.stem:
        raise ConfigError(
            pfile, "id", f"must equal the file name {pfile.stem!r} (found {partner.id!r})"
        )
    return partner


def read_partners(
    directory: Path, replace: tuple[str, dict[str, Any]] | None = None
) -> dict[str, Partner]:
    """Every `*.toml` partner file in `directory`; `replace=(id, data)` reads `data` in place of
    that partner's file (which need not exist yet), to validate a change before writing it."""
    files = {f.stem: f for f in sorted(directory.glob("*.toml"))}
    if replace is not None:
        files.setdefault(replace[0], directory / f"{replace[0]}.toml")
    partners: dict[str, Partner] = {}
    for stem, pfile in sorted(files.items()):
        data = replace[1] if replace is not None and replace[0] == stem else None
        partners[stem] = read_partner(pfile, data)
    return partners


def load(path: str | Path, database_url: str | None = None) -> Config:
    """Read `gateway.toml` and the `partners/*.toml` beside it."""
    path = Path(path).resolve()
    settings: GatewaySettings = _validate(GatewaySettings, _read_toml(path), path)
    base = path.parent
    data_dir = (base / settings.gateway.data_dir).resolve()
    partners_dir = base / "partners"
    partners = read_partners(partners_dir)
    _check_references(path, settings, partners)
    url = database_url or settings.gateway.database_url or f"sqlite:///{data_dir / 'gateway.db'}"
    return Config(
        path=path,
        settings=settings,
        partner_files=PartnerDirectory(
            partners_dir, lambda ps: _check_references(path, settings, ps), partners
        ),
        data_dir=data_dir,
        spool_dir=(base / (settings.gateway.spool_dir or str(data_dir / "spool"))).resolve(),
        folder_root=(base / settings.folder.root).resolve(),
        database_url=url,
    )


def _check_references(path: Path, settings: GatewaySettings, partners: dict[str, Partner]) -> None:
    for i, route in enumerate(settings.routes):
        for attr in ("sender", "receiver"):
            value = getattr(route, attr)
            if value and not any(ch in value for ch in "*?[") and value not in partners:
                raise ConfigError(
                    path, f"routes.{i}.{attr}", f"expected a known partner id, found {value!r}"
                )
    for i, box in enumerate(settings.smtp.mailboxes):
        if box.institution not in partners:
            raise ConfigError(
                path,
                f"smtp.mailboxes.{i}.institution",
                f"expected a known partner id, found {box.institution!r}",
            )
    for i, account in enumerate(settings.imap.accounts):
        if account.institution not in partners:
            raise ConfigError(
                path,
                f"imap.accounts.{i}.institution",
                f"expected a known partner id, found {account.institution!r}",
            )
    seen: dict[str, str] = {}
    for p in partners.values():
        for t in [*p.api_tokens, *p.backoffice.tokens]:
            if t.sha256 in seen and seen[t.sha256] != p.id:
                raise ConfigError(
                    path.parent / "partners" / f"{p.id}.toml",
                    "api_tokens",
                    f"token hash also used by partner {seen[t.sha256]!r}",
                )
            seen[t.sha256] = p.id
