"""Operator accounts: add, change password, change role, disable. Used by the `users`
commands and the dashboard's admin page; each change is written to the audit trail in the
same transaction."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.store.operators import AuditEntry, Operator, Role
from edi_gateway.web.dashboard.security import hash_password

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class AccountError(ValueError):
    """An account change that cannot be made; the message says why."""


def _get(s: Session, username: str) -> Operator:
    op = s.scalar(select(Operator).where(Operator.username == username))
    if op is None:
        raise AccountError(f"no operator named {username!r}")
    return op


def _audit(
    s: Session, now: dt.datetime, actor: str, action: str, target: str, **detail: object
) -> None:
    s.add(
        AuditEntry(at=now, actor=actor, action=action, target=target, outcome="ok", detail=detail)
    )


def add(
    sessions: sessionmaker[Session],
    username: str,
    password: str,
    role: Role,
    actor: str,
    now: dt.datetime,
    display_name: str = "",
) -> None:
    if not USERNAME.match(username):
        raise AccountError(
            f"a username is 2-64 characters of a-z, 0-9, '.', '_', '@', '-'; found {username!r}"
        )
    digest = hash_password(password)
    with sessions.begin() as s:
        if s.scalar(select(Operator.id).where(Operator.username == username)) is not None:
            raise AccountError(f"an operator named {username!r} exists already")
        s.add(
            Operator(
                username=username,
                display_name=display_name,
                password_hash=digest,
                role=role.value,
                disabled=False,
                created_at=now,
                password_changed_at=now,
            )
        )
        _audit(s, now, actor, "user-add", username, role=role.value)


def set_password(
    sessions: sessionmaker[Session], username: str, password: str, actor: str, now: dt.datetime
) -> None:
    digest = hash_password(password)
    with sessions.begin() as s:
        op = _get(s, username)
        op.password_hash, op.password_changed_at = digest, now
        _audit(s, now, actor, "user-password", username)


def set_role(
    sessions: sessionmaker[Session], username: str, role: Role, actor: str, now: dt.datetime
) -> None:
    with sessions.begin() as s:
        op = _get(s, username)
        before = op.role
        op.role = role.value
        _audit(s, now, actor, "user-role", username, role=role.value, before=before)


def set_disabled(
    sessions: sessionmaker[Session], username: str, disabled: bool, actor: str, now: dt.datetime
) -> None:
    with sessions.begin() as s:
        op = _get(s, username)
        op.disabled = disabled
        _audit(s, now, actor, "user-disable" if disabled else "user-enable", username)


def all_operators(sessions: sessionmaker[Session]) -> list[Operator]:
    with sessions() as s:
        return list(s.scalars(select(Operator).order_by(Operator.username)))
