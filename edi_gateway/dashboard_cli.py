"""`edi-gateway users ...`: manage the operators who sign in to the dashboard.

`users` is a click group the main command line attaches (`main.add_command(users)`); it reads
the configuration through the main group's context object (anything with a `config`)."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.store.operators import Role

ROLES = click.Choice([r.value for r in Role])


def _sessions(ctx: click.Context) -> sessionmaker[Session]:
    from edi_gateway.store import db

    holder: Any = ctx.find_root().obj
    if holder is None or not hasattr(holder, "config"):
        raise click.ClickException("run this as `edi-gateway users ...` (no configuration loaded)")
    engine = db.make_engine(holder.config.database_url)
    db.migrate(engine)
    ctx.call_on_close(engine.dispose)
    return db.sessions(engine)


def _actor() -> str:
    return f"cli:{os.environ.get('USER') or getpass.getuser()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("password", hide_input=True, confirmation_prompt=True)
    return value


def _run(name: str, *args: Any) -> None:
    """Call `accounts.<name>(*args)`; the dashboard's modules load only when a command runs,
    so the rest of the command line starts quickly."""
    from edi_gateway.web.dashboard import accounts
    from edi_gateway.web.dashboard.security import WeakPassword

    try:
        getattr(accounts, name)(*args)
    except (accounts.AccountError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def users() -> None:
    """Operators of the dashboard: add, change passwords, disable, list."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=ROLES, default=Role.VIEWER.value, show_default=True)
@click.option("--name", "display_name", default="", help="the name shown on the dashboard")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.pass_context
def add(
    ctx: click.Context, username: str, role: str, display_name: str, password_stdin: bool
) -> None:
    """Add an operator (the password is asked for, or read from stdin)."""
    sessions = _sessions(ctx)
    password = _password(password_stdin)
    _run("add", sessions, username, password, Role(role), _actor(), _now(), display_name)
    click.echo(f"added {username} ({role})")


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.pass_context
def passwd(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set an operator's password (signs out their open sessions)."""
    sessions = _sessions(ctx)
    _run("set_password", sessions, username, _password(password_stdin), _actor(), _now())
    click.echo(f"password of {username} changed")


@users.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="enable the account again instead")
@click.pass_context
def disable(ctx: click.Context, username: str, enable: bool) -> None:
    """Disable an operator: they cannot sign in and their sessions stop working."""
    _run("set_disabled", _sessions(ctx), username, not enable, _actor(), _now())
    click.echo(f"{username} {'enabled' if enable else 'disabled'}")


@users.command("role")
@click.argument("username")
@click.argument("role", type=ROLES)
@click.pass_context
def role(ctx: click.Context, username: str, role: str) -> None:
    """Change an operator's role."""
    _run("set_role", _sessions(ctx), username, Role(role), _actor(), _now())
    click.echo(f"{username} is now {role}")


@users.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the operators."""
    from edi_gateway.web.dashboard.accounts import all_operators

    for op in all_operators(_sessions(ctx)):
        state = "disabled" if op.disabled else "active"
        seen = f"{op.last_sign_in_at:%Y-%m-%d %H:%M}" if op.last_sign_in_at else "never"
        click.echo(f"{op.username:24} {op.role:9} {state:9} last sign-in {seen}  {op.display_name}")
