"""The dashboard's secrets: password hashes, signed session cookies, CSRF tokens and the
sign-in throttle. Nothing here touches the database or a request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash to verify against when the user does not exist, so both paths take the same time.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10


class WeakPassword(ValueError):
    """The password is too short to be accepted."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters; this one has "
            f"{len(password)}"
        )
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def load_secret(data_dir: Path, name: str = "dashboard-secret") -> bytes:
    """The key that signs session cookies, created on first use (mode 0600) in the data dir,
    so sessions survive a restart and every process of one gateway agrees on it."""
    path = data_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 32:
            raise ValueError(
                f"{path}: expected at least 32 bytes of hex, found {len(key)}"
            ) from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionData:
    operator_id: int
    generation: str  # changes when the password changes: old cookies stop working
    expires: float
    csrf_nonce: str


def password_generation(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class Signer:
    """HMAC-SHA256 over a JSON payload: `<payload>.<mac>`, both base64url."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock

    def _mac(self, purpose: str, payload: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode() + b"\0" + payload, hashlib.sha256).digest()

    def session_cookie(self, operator_id: int, generation: str, lifetime: float) -> str:
        body = json.dumps(
            {
                "o": operator_id,
                "g": generation,
                "e": int(self._clock() + lifetime),
                "n": secrets.token_urlsafe(16),
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac('session', body))}"

    def read_session(self, cookie: str | None) -> SessionData | None:
        if not cookie or "." not in cookie:
            return None
        body_text, _, mac_text = cookie.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
            if not hmac.compare_digest(mac, self._mac("session", body)):
                return None
            data = json.loads(body)
            session = SessionData(int(data["o"]), str(data["g"]), float(data["e"]), str(data["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > self._clock() else None

    def csrf_token(self, nonce: str) -> str:
        return _b64(self._mac("csrf", nonce.encode()))

    def csrf_valid(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(nonce))


class Throttle:
    """Sign-in throttling per (username, address): after `free` failures in `window` seconds
    each further attempt must wait twice as long as the last, up to `max_wait` seconds.
    Kept in memory: one dashboard listener per gateway, and a restart forgives."""

    def __init__(
        self,
        free: int = 5,
        window: float = 900,
        max_wait: float = 900,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.window, self.max_wait = free, window, max_wait
        self._clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, username: str, address: str) -> float:
        """How long this pair must wait before the next attempt (0: go ahead)."""
        now = self._clock()
        with self._lock:
            recent = self._recent((username.lower(), address), now)
            if len(recent) < self.free:
                return 0.0
            delay = min(2.0 ** (len(recent) - self.free + 1), self.max_wait)
            return max(0.0, recent[-1] + delay - now)

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            key = (username.lower(), address)
            self._failures[key] = [*self._recent(key, now), now]

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), address), None)

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times
