"""Changing partner files while the gateway runs: validate the new content with the loader,
write it atomically (temporary file, fsync, rename) after copying the previous version to
`partners/.history/`, and have the running set re-read at once (other processes follow within
a second, see `config.PartnerDirectory`).

Secrets never leave this module in clear: tokens are stored as SHA-256 hashes, a new token is
returned once to the caller, and the list of changes made for the audit trail names the keys
that hold secrets without their values.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog
import tomli_w

from edi_gateway.channels import folder, sftp
from edi_gateway.config import (
    PARTNER_ID,
    Config,
    ConfigError,
    Partner,
    hash_token,
    read_partners,
)

log = structlog.get_logger("edi_gateway.partners_admin")

HISTORY = ".history"
# keys whose values are secrets (hashes of tokens and passwords, key material)
SECRET_KEYS = frozenset(
    {"sha256", "password_sha256", "smtp_password_sha256", "tokens", "api_tokens", "private_key"}
)
TokenKind = Literal["api", "backoffice", "sftp", "smtp"]
TOKEN_PREFIX: dict[TokenKind, str] = {"api": "egw_", "backoffice": "egwq_", "sftp": "", "smtp": ""}
# where each kind of secret is kept: (section or None for the top level, key, list of hashes?)
SECRET_PLACE: dict[TokenKind, tuple[str | None, str, bool]] = {
    "api": (None, "api_tokens", True),
    "backoffice": ("backoffice", "tokens", True),
    "sftp": ("sftp", "password_sha256", False),
    "smtp": ("email", "smtp_password_sha256", False),
}


class UnknownPartner(LookupError):
    """No partner file has this id."""


@dataclass(frozen=True)
class Saved:
    partner: Partner
    changes: list[dict[str, Any]]  # for the audit trail, without secret values
    backup: Path | None  # the previous version, kept in partners/.history/


def partner_file(config: Config, pid: str) -> Path:
    if not re.fullmatch(PARTNER_ID, pid):
        raise ConfigError(
            config.partners_dir,
            "id",
            f"expected 1 to 64 lower-case letters, digits, '-' or '_' (found {pid!r})",
        )
    return config.partners_dir / f"{pid}.toml"


def document(config: Config, pid: str) -> dict[str, Any]:
    """The partner's file as data (what the edit form starts from)."""
    try:
        path = partner_file(config, pid)
    except ConfigError:
        raise UnknownPartner(pid) from None
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UnknownPartner(pid) from None


def save(config: Config, pid: str, data: dict[str, Any], *, new: bool, now: dt.datetime) -> Saved:
    """Write `data` as the partner file `pid` once the loader accepts it together with every
    other partner file; raise ConfigError (nothing written) when it does not."""
    path = partner_file(config, pid)
    with config.partner_files.writing:
        if new and path.exists():
            raise ConfigError(path, "id", f"a partner with the id {pid!r} exists already")
        old = {} if new else document(config, pid)
        partners = read_partners(config.partners_dir, replace=(pid, data))
        config.check_partners(partners)
        backup = _write_atomic(path, tomli_w.dumps(data), now)
        config.partner_files.reload()
    _prepare_areas(config, partners[pid])
    log.info("partners.saved", partner=pid, new=new)
    return Saved(partners[pid], changes(old, data), backup)


def _prepare_areas(config: Config, partner: Partner) -> None:
    """The directories the folder and SFTP channels create at start-up, made now so a new
    partner can use them without a restart."""
    if partner.folder:
        folder.prepare(config.folder_root, partner.id)
    if partner.sftp is not None:
        sftp.area((config.data_dir / config.settings.sftp.root).resolve(), partner.id)


def set_enabled(config: Config, pid: str, enabled: bool, now: dt.datetime) -> Saved:
    data = document(config, pid)
    data["enabled"] = enabled
    return save(config, pid, data, new=False, now=now)


def issue_token(
    config: Config,
    pid: str,
    kind: TokenKind,
    label: str,
    now: dt.datetime,
    *,
    replace: bool = True,
) -> tuple[str, Saved]:
    """A new random secret for the partner: an HTTP API token, a back-office pull token (for
    institutions), or the SFTP or SMTP password; `replace` revokes previous tokens. The clear
    secret is returned here and nowhere else: the file keeps its SHA-256 hash."""
    secret = TOKEN_PREFIX[kind] + secrets.token_urlsafe(24)
    section, key, many = SECRET_PLACE[kind]
    data = document(config, pid)
    if section is not None and section != "backoffice" and not isinstance(data.get(section), dict):
        raise ConfigError(
            partner_file(config, pid), section, f"the partner has no [{section}] section"
        )
    holder = data if section is None else data.setdefault(section, {})
    if many:
        entry = {"sha256": hash_token(secret), "label": label or now.strftime("issued %Y-%m-%d")}
        holder[key] = [entry] if replace else [*holder.get(key, []), entry]
    else:
        holder[key] = hash_token(secret)
    return secret, save(config, pid, data, new=False, now=now)


def changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Which keys differ, with old and new values except where a value is a secret."""
    out: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            out += changes(before, after, f"{path}.")
        elif key in SECRET_KEYS:
            out.append({"key": path, "secret": True})
        else:
            out.append({"key": path, "from": _redacted(before), "to": _redacted(after)})
    return out


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_KEYS else _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _write_atomic(path: Path, text: str, now: dt.datetime) -> Path | None:
    """Replace `path` with `text` so a reader sees the old file or the new one, never a part;
    the old one is first copied to `.history/<id>.<time>.toml` (same mode)."""
    backup = None
    mode = 0o640
    if path.exists():
        mode = path.stat().st_mode & 0o777
        history = path.parent / HISTORY
        history.mkdir(mode=0o700, exist_ok=True)
        backup = history / f"{path.stem}.{now.strftime('%Y%m%dT%H%M%S.%fZ')}.toml"
        n = 1
        while backup.exists():
            backup = history / f"{path.stem}.{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{n}.toml"
            n += 1
        shutil.copy2(path, backup)
    # the temporary name does not end in .toml: the loader never reads a half-written file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)
    return backup
