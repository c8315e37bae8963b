"""Settings of the AS2, mail and SFTP channels (`[as2]`, `[sftp]`, `[smtp]`, `[imap]`, `[mail_relay]` in
gateway.toml). They live here, not beside the channels, so that `config` can validate them
without importing the channels (which import `config`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edi_gateway.model import DocumentKind


class Mailbox(BaseModel):
    """A procurement mailbox: `orders@moe.example` takes orders for the institution `moe`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str
    institution: str
    kind: DocumentKind | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "institution": self.institution,
            "kind": self.kind.value if self.kind else None,
        }


class SftpListener(BaseModel):
    """`[sftp]` in gateway.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=2222, ge=0, le=65535)
    root: str = "sftp"  # partner areas, relative to the data directory
    host_key: str = "sftp_host_key"  # generated on first start, relative to the data directory
    file_name_pattern: str = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$"
    login_timeout_seconds: float = Field(default=60, gt=0)


class SmtpListener(BaseModel):
    """`[smtp]` in gateway.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    hostname: str = "edi-gateway.localhost"  # our name in the greeting and certificate
    require_starttls: bool = True
    certificate: str | None = None  # PEM; default: a self-signed one made once in data_dir
    private_key: str | None = None
    max_message_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_recipients: int = Field(default=20, gt=0)
    mailboxes: list[Mailbox] = Field(default_factory=list)


class ImapAccount(BaseModel):
    """One `[[imap.accounts]]` entry: a procurement mailbox on an institution's server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}$")  # key of the bookkeeping
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls"] = "tls"
    ca_file: str | None = None  # default: the system's trust store
    user: str
    password_env: str  # name of the environment variable holding the password
    mailbox: str = "INBOX"
    processed_folder: str = "Processed"
    address: str  # the mailbox's address, e.g. tenders@moe.example
    institution: str
    kind: DocumentKind | None = None
    batch: int = Field(default=100, ge=1)
    timeout_seconds: float = Field(default=60, gt=0)


class ImapSettings(BaseModel):
    """`[imap]` in gateway.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    poll_seconds: float = Field(default=60, gt=0)
    accounts: list[ImapAccount] = Field(default_factory=list)


class MailRelay(BaseModel):
    """`[mail_relay]` in gateway.toml: where replies are handed over."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    ca_file: str | None = None  # default: the system's trust store
    username: str | None = None
    password_env: str | None = None  # name of the environment variable holding the password
    sender: str = "edi-gateway@localhost"  # From of every reply
    domain: str = "edi-gateway.localhost"  # right-hand side of our Message-IDs
    timeout_seconds: float = Field(default=30, gt=0)


class As2KeyFiles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    """One of our key pairs: PEM private key and certificate, or one PKCS#12 bundle. Paths are
    relative to the data dir. A password is never written in the file: `password_env` names
    the environment variable that holds it (none for an unencrypted key file, mode 0600)."""

    key: str | None = None
    certificate: str | None = None
    pkcs12: str | None = None
    password_env: str | None = None


DEFAULT_KEYS = (As2KeyFiles(key="as2/key.pem", certificate="as2/cert.pem"),)


class As2Settings(BaseModel):
    """`[as2]` in gateway.toml: our AS2 station and its listener."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=4080, ge=0, le=65535)
    as2_id: Annotated[str, Field(min_length=1, max_length=128)]
    keys: Annotated[list[As2KeyFiles], Field(min_length=1, max_length=2)] = Field(
        default_factory=lambda: list(DEFAULT_KEYS)
    )
    public_url: str | None = None  # our URL as partners know it (asked for async MDNs)
    # HTTPS: PEM certificate (chain) and key of the listener, relative to the data dir
    tls_certificate: str | None = None
    tls_key: str | None = None
    max_message_bytes: int = Field(default=2 * 1024**3, gt=0)
    # asynchronous MDNs we send, and acks we send over AS2
    mdn_max_attempts: int = Field(default=8, ge=1)
    mdn_backoff_seconds: float = Field(default=5, ge=0)
    send_timeout_seconds: float = Field(default=60, gt=0)
    expiry_warning_days: int = Field(default=30, ge=0)
    # store a synchronous MDN before answering with it (true), or in the group commit that
    # follows (false: about one disk sync less per message; a crash in that instant loses
    # the copy of the MDN, not the message: its MIC is kept with the interchange)
    evidence_before_answer: bool = True
