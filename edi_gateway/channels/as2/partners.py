"""From the gateway configuration to the AS2 core's inputs: our station, partner profiles,
the receiver policy, and which gateway partner an AS2 name belongs to.

Our key files live in the data dir (see `settings.As2KeyFiles`); a partner's certificates are
named in its `[as2]` section, relative to the partner file. Certificates that expire soon (or
have expired) are logged as warnings when the policy is built (and daily after, see `expiry`).

The running channel uses a `LiveDirectory`: it is rebuilt when the partner files change (the
dashboard's partner pages, or an edited file), so a partner added, disabled, or given a new
certificate or policy is taken up without a restart.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
from cryptography import x509

from edi_gateway.certificates import read_certificate
from edi_gateway.channels.as2.algorithms import Cipher, Digest
from edi_gateway.channels.as2.expiry import check_expiry
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.policy import LocalStation, PartnerProfile, ReceiverPolicy, utc_now
from edi_gateway.channels.as2.settings import As2KeyFiles, As2Settings
from edi_gateway.config import Config, Partner

log = structlog.get_logger("edi_gateway.channels.as2")

_CIPHER_ALIASES = {"3des": Cipher.TRIPLE_DES_CBC, "tripledes": Cipher.TRIPLE_DES_CBC}


class As2ConfigError(ValueError):
    """The AS2 part of the configuration cannot be used; the message says which file/key."""


def as2_settings(config: Config) -> As2Settings | None:
    """The `[as2]` section, once config.py carries it (`GatewaySettings.as2`)."""
    section = getattr(config.settings, "as2", None)
    return section if isinstance(section, As2Settings) else None


def cipher_named(name: str) -> Cipher:
    wanted = name.strip().lower().replace("_", "-")
    if wanted in _CIPHER_ALIASES:
        return _CIPHER_ALIASES[wanted]
    for cipher in Cipher:
        if cipher.value == wanted or cipher.value.replace("-", "") == wanted.replace("-", ""):
            return cipher
    raise As2ConfigError(f"unknown cipher {name!r}; expected one of {[c.value for c in Cipher]}")


def load_key_pair(files: As2KeyFiles, data_dir: Path) -> KeyPair:
    password: bytes | None = None
    if files.password_env:
        secret = os.environ.get(files.password_env)
        if secret is None:
            raise As2ConfigError(f"environment variable {files.password_env} is not set")
        password = secret.encode()
    try:
        if files.pkcs12:
            return KeyPair.from_pkcs12((data_dir / files.pkcs12).read_bytes(), password)
        if files.key and files.certificate:
            return KeyPair.from_pem(
                (data_dir / files.key).read_bytes(),
                (data_dir / files.certificate).read_bytes(),
                password,
            )
    except (OSError, ValueError, TypeError) as exc:
        # the message of a wrong password or a bad file, never the key material
        raise As2ConfigError(f"AS2 key {files.pkcs12 or files.key}: {exc}") from None
    raise As2ConfigError("an [as2] key needs `pkcs12` or both `key` and `certificate`")


def load_station(settings: As2Settings, data_dir: Path) -> LocalStation:
    return LocalStation(settings.as2_id, tuple(load_key_pair(k, data_dir) for k in settings.keys))


def partner_certificates(partner: Partner, partners_dir: Path) -> tuple[x509.Certificate, ...]:
    assert partner.as2 is not None
    names = [n for n in (partner.as2.certificate, partner.as2.certificate_next) if n]
    certificates = []
    for name in names:
        path = partners_dir / name
        try:
            certificates.append(read_certificate(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise As2ConfigError(f"partner {partner.id}: certificate {path}: {exc}") from None
    return tuple(certificates)


def partner_profile(partner: Partner, partners_dir: Path, mdn_url: str | None) -> PartnerProfile:
    """The AS2 profile of a gateway partner (`[as2]` of its file). `mdn_url` is our URL for
    asynchronous MDNs, asked for when the partner's `mdn = "async"`."""
    settings = partner.as2
    if settings is None:
        raise As2ConfigError(f"partner {partner.id} has no [as2] section")
    try:
        digest = Digest.from_name(settings.digest)
    except Exception as exc:  # UnsupportedAlgorithm
        raise As2ConfigError(f"partner {partner.id}: as2.digest: {exc}") from None
    return PartnerProfile(
        as2_id=settings.name,
        certificates=partner_certificates(partner, partners_dir),
        require_signature=settings.require_signature,
        require_encryption=settings.require_encryption,
        url=settings.url,
        sign=settings.sign_outgoing,
        encrypt=settings.encrypt_outgoing,
        digest=digest,
        cipher=cipher_named(settings.cipher),
        request_mdn=settings.mdn != "none",
        request_signed_mdn=settings.mdn != "none" and settings.sign_outgoing,
        async_mdn_url=mdn_url if settings.mdn == "async" else None,
    )


@dataclass(frozen=True)
class As2Directory:
    """Everything the listener and the sender need, built once from the configuration."""

    policy: ReceiverPolicy
    profiles: dict[str, PartnerProfile]  # by gateway partner id
    partner_ids: dict[str, str]  # AS2 name -> gateway partner id

    @property
    def station(self) -> LocalStation:
        return self.policy.local


class Directory(Protocol):
    """What the listener, the sender and the expiry watch read: an `As2Directory`, or a
    `LiveDirectory` that is always the current one."""

    @property
    def policy(self) -> ReceiverPolicy: ...
    @property
    def profiles(self) -> dict[str, PartnerProfile]: ...
    @property
    def partner_ids(self) -> dict[str, str]: ...
    @property
    def station(self) -> LocalStation: ...


class LiveDirectory:
    """The directory for the partner files as they are now: rebuilt (certificates read again)
    when the gateway's partner set changes. A rebuild that fails (a certificate file that
    cannot be read) keeps the directory in use and logs why."""

    def __init__(self, config: Config, build: Callable[[], As2Directory]) -> None:
        self._config = config
        self._build = build
        self._lock = threading.Lock()
        self._partners = config.partner_files.current()
        self._current = build()

    def current(self) -> As2Directory:
        partners = self._config.partner_files.current()
        if partners is not self._partners:
            with self._lock:
                if partners is not self._partners:
                    try:
                        self._current = self._build()
                        log.info("as2.partners_reloaded", partners=len(self._current.profiles))
                    except As2ConfigError as exc:
                        log.error("as2.partners_reload_failed", error=str(exc))
                    self._partners = partners
        return self._current

    @property
    def policy(self) -> ReceiverPolicy:
        return self.current().policy

    @property
    def profiles(self) -> dict[str, PartnerProfile]:
        return self.current().profiles

    @property
    def partner_ids(self) -> dict[str, str]:
        return self.current().partner_ids

    @property
    def station(self) -> LocalStation:
        return self.current().station


def build_directory(
    config: Config,
    station: LocalStation,
    *,
    mdn_url: str | None = None,
    max_size: int | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    warn_days: int = 30,
) -> As2Directory:
    partners_dir = config.path.parent / "partners"
    profiles: dict[str, PartnerProfile] = {}
    ids: dict[str, str] = {}
    for partner in config.partners.values():
        if partner.as2 is None or not partner.enabled:
            continue
        if partner.as2.name in ids:
            raise As2ConfigError(
                f"AS2 name {partner.as2.name!r} is used by partners "
                f"{ids[partner.as2.name]!r} and {partner.id!r}"
            )
        profiles[partner.id] = partner_profile(partner, partners_dir, mdn_url)
        ids[partner.as2.name] = partner.id
    policy = ReceiverPolicy(
        local=station,
        partners={profiles[pid].as2_id: profiles[pid] for pid in profiles},
        max_size=max_size,
        clock=clock,
    )
    directory = As2Directory(policy, profiles, ids)
    check_expiry(directory, clock(), dt.timedelta(days=warn_days))
    return directory
