"""The dashboard's parts without a server: cookies and CSRF, throttling, passwords, language
negotiation, the raw views, the message list's filters and keyset pages (SQLite and
PostgreSQL), migration 0002 against the models, and the `users` commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import select

from edi_gateway.app import Gateway
from edi_gateway.config import Config
from edi_gateway.dashboard_cli import users
from edi_gateway.store import db
from edi_gateway.store.operators import AuditEntry, Operator, Role
from edi_gateway.store.tables import Base
from edi_gateway.web.dashboard import i18n, listing, rawview
from edi_gateway.web.dashboard.security import (
    Signer,
    Throttle,
    WeakPassword,
    hash_password,
    load_secret,
    verify_password,
)
from tests.test_dashboard_support import EDIFACT_FINDING, EDIFACT_INVOICE, UBL_INVOICE, seed

# -- security --------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_session_cookies_are_signed_and_expire() -> None:
    clock = Ticks()
    signer = Signer(b"k" * 32, clock)
    cookie = signer.session_cookie(7, "gen", lifetime=60)
    session = signer.read_session(cookie)
    assert session is not None and session.operator_id == 7 and session.generation == "gen"
    body, mac = cookie.split(".")
    assert signer.read_session(body[:-2] + "xx." + mac) is None
    assert Signer(b"o" * 32, clock).read_session(cookie) is None  # another gateway's key
    clock.now += 61
    assert signer.read_session(cookie) is None


def test_csrf_tokens_belong_to_one_nonce() -> None:
    signer = Signer(b"k" * 32)
    token = signer.csrf_token("nonce-a")
    assert signer.csrf_valid("nonce-a", token)
    assert not signer.csrf_valid("nonce-b", token)
    assert not signer.csrf_valid(None, token) and not signer.csrf_valid("nonce-a", None)


def test_the_throttle_backs_off_per_user_and_address_and_forgives() -> None:
    clock = Ticks()
    throttle = Throttle(free=3, window=600, clock=clock)
    for _ in range(3):
        assert throttle.wait_seconds("Oscar", "10.0.0.1") == 0
        throttle.failed("oscar", "10.0.0.1")
    assert throttle.wait_seconds("oscar", "10.0.0.1") == 2
    assert throttle.wait_seconds("oscar", "10.0.0.2") == 0
    assert throttle.wait_seconds("vera", "10.0.0.1") == 0
    throttle.failed("oscar", "10.0.0.1")
    assert throttle.wait_seconds("oscar", "10.0.0.1") == 4  # doubles
    clock.now += 601
    assert throttle.wait_seconds("oscar", "10.0.0.1") == 0  # the window passed
    throttle.failed("oscar", "10.0.0.1")
    throttle.succeeded("oscar", "10.0.0.1")
    assert throttle.wait_seconds("oscar", "10.0.0.1") == 0


def test_passwords_are_argon2id_and_short_ones_refused() -> None:
    digest = hash_password("a long enough one")
    assert digest.startswith("$argon2id$")
    assert verify_password(digest, "a long enough one")
    assert not verify_password(digest, "a long enough One")
    assert not verify_password(None, "a long enough one")
    assert not verify_password("not a hash", "x")
    with pytest.raises(WeakPassword, match="at least 10"):
        hash_password("short")


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    key = load_secret(tmp_path)
    assert len(key) == 32 and load_secret(tmp_path) == key
    assert (tmp_path / "dashboard-secret").stat().st_mode & 0o077 == 0


# -- language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "chosen", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8", None, "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", None, "en"),
        ("fr-FR,ko;q=0.5,en;q=0.4", None, "ko"),
        ("en;q=0.2,ko;q=0.7", None, "ko"),
        ("ko;q=0", None, "en"),
        ("fr", None, "en"),
        (None, None, "en"),
        ("en-US", "ko", "ko"),
        ("ko", "xx", "ko"),
    ],
)
def test_the_language_follows_the_browser_unless_chosen(
    header: str | None, chosen: str | None, expected: str
) -> None:
    assert i18n.negotiate(header, chosen) == expected


def test_every_korean_text_has_the_same_placeholders() -> None:
    import string

    fields = string.Formatter()
    for english, korean in i18n.CATALOGUES["ko"].items():
        names = {f for _, f, _, _ in fields.parse(english) if f}
        assert names == {f for _, f, _, _ in fields.parse(korean) if f}, english


# -- raw views --------------------------------------------------------------------------------


def test_edifact_is_one_segment_per_line_with_the_finding_at_its_element() -> None:
    finding = {"code": "12", "text": "not numeric", "location": EDIFACT_FINDING}
    view = rawview.render(EDIFACT_INVOICE, [finding], "edifact")
    assert [s.tag for s in view.segments] == [
        "UNA", "UNB", "UNH", "BGM", "DTM", "NAD", "NAD", "MOA", "UNT", "UNZ",
    ]  # fmt: skip
    [moa] = [s for s in view.segments if s.marked]
    assert (moa.number, moa.tag) == (7, "MOA")
    [element] = [e for e in moa.elements if e.marked]
    assert element.position == 1 and element.components == ["77", "ABC"]
    assert element.marked_component == 2 and element.notes == ["12: not numeric"]
    assert not view.unplaced


def test_edifact_separators_from_una_and_released_characters() -> None:
    raw = b"UNA*|.# !UNB|UNOC*3|A#|B|C!UNH|1|ORDERS*D*96A*UN!FTX|AAA|||text with #! inside!"
    view = rawview.edifact(
        raw, [{"code": "x", "text": "y", "location": {"segment": 3, "element": 4}}]
    )
    ftx = view.segments[3]
    assert ftx.tag == "FTX" and ftx.number == 3 and ftx.terminator == "!"
    assert ftx.elements[3].components == ["text with #! inside"] and ftx.elements[3].marked
    assert view.segments[1].elements[1].components == ["A#|B"]  # released element separator


def test_a_finding_on_a_missing_element_or_unknown_segment_is_still_shown() -> None:
    findings = [
        {"code": "13", "text": "missing", "location": {"segment": 2, "element": 5}},
        {"code": "20", "text": "somewhere", "location": {"segment": 99}},
        {"code": "0", "text": "no place", "location": {}},
    ]
    view = rawview.edifact(EDIFACT_INVOICE, findings)
    assert view.segments[2].elements[-1].position == 5 and view.segments[2].elements[-1].marked
    assert [f["code"] for f in view.unplaced] == ["20", "0"]


@pytest.mark.parametrize(
    "xpath",
    [
        "/Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount",
        "/*:Invoice[namespace-uri()='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'][1]"
        "/*:LegalMonetaryTotal[1]/*:PayableAmount[1]",
        "/ubl:Invoice/cac:LegalMonetaryTotal[1]/cbc:PayableAmount",
    ],
)
def test_xml_highlights_what_the_xpath_selects(xpath: str) -> None:
    finding = {"code": "BR-CO-25", "text": "negative", "location": {"xpath": xpath}}
    view = rawview.render(UBL_INVOICE, [finding], "xml")
    [line] = [line for line in view.lines if line.marked]
    assert "<cbc:PayableAmount" in line.text and "data-edigw" not in line.text
    assert line.notes == ["BR-CO-25: negative"]


def test_xml_with_entities_is_not_expanded() -> None:
    raw = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    view = rawview.render(raw, [], None)
    assert "root:" not in "\n".join(line.text for line in view.lines)


def test_json_is_indented_and_anything_else_shown_as_text() -> None:
    assert rawview.render(b'{"a": [1, 2]}', [], "json").lines[1].text == '  "a": ['
    assert rawview.render(b"\x00\x01hello", [], None).kind == "text"


# -- the message list ---------------------------------------------------------------------------


def test_filters_search_and_keyset_pages(gateway: Gateway) -> None:
    store = seed(gateway)
    with db.read_sessions(gateway.engine)() as s:

        def ids(**params: str) -> list[str]:
            return [r.id for r in listing.page(s, listing.MessageFilter(**params)).rows]

        everything = ids()
        assert len(everything) == 13
        assert ids(state="rejected", partner="hanil-office") == [store.xml_id, store.edifact_id]
        assert ids(q=store.invoice_number) == [store.invoice_id]
        assert (
            ids(q="CR0007")
            == ids(q="<hanil-20261126-0007@as2.hanil.example>")
            == [store.edifact_id]
        )
        assert ids(q="INV-EDI-0099", state="done") == []
        assert (
            set(ids(kind="order")) == set(ids(partner="nordic-paper"))
            and len(ids(kind="order")) == 4
        )
        assert ids(standard="ubl") == [store.xml_id]
        assert ids(channel="folder") == ids(partner="nordic-paper")
        assert ids(direction="out") == []
        later = (gateway.clock() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        assert ids(since=later) == [] and ids(until=later) == everything
        # keyset: pages of 5 walk the same order without gaps or repeats
        walked, cursor = [], ""
        while True:
            result = listing.page(s, listing.MessageFilter(before=cursor), limit=5)
            walked += [r.id for r in result.rows]
            if result.next_cursor is None:
                break
            cursor = result.next_cursor
        assert walked == everything
        [edifact] = listing.page(s, listing.MessageFilter(q="CR0007")).rows
        assert edifact.documents == [("invoice", "INV-EDI-0099")] and edifact.problems == 1


def test_a_filter_survives_its_own_query_string() -> None:
    f = listing.MessageFilter(partner="moe", q="INV 1/2", before="2026-11-26T09:00:00+00:00~01ABC")
    from urllib.parse import parse_qsl

    again = listing.MessageFilter.from_params(dict(parse_qsl(f.query())))
    assert again == f
    assert "before" not in f.query(before="")


# -- schema --------------------------------------------------------------------------------------


def test_migration_0002_matches_the_models(gateway: Gateway) -> None:
    with gateway.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [
        d
        for d in diff
        if "operators" in str(d) or "audit_log" in str(d) or "ix_interchanges" in str(d)
    ]
    assert ours == []


# -- the users commands ----------------------------------------------------------------------


class Holder:
    def __init__(self, config: Config) -> None:
        self.config = config


def test_users_commands(config: Config) -> None:
    runner = CliRunner()
    obj = Holder(config)

    def run(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(users, list(args), obj=obj, input=stdin)
        assert result.exit_code == 0, result.output
        return result.output

    run(
        "add",
        "kim",
        "--role",
        "operator",
        "--name",
        "Kim Minji",
        "--password-stdin",
        stdin="a long password\n",
    )
    run("add", "lee", stdin="another long one\nanother long one\n")
    refused = runner.invoke(
        users, ["add", "kim", "--password-stdin"], obj=obj, input="whatever12345\n"
    )
    assert refused.exit_code == 1 and "exists already" in refused.output
    short = runner.invoke(users, ["add", "park", "--password-stdin"], obj=obj, input="short\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    run("passwd", "lee", "--password-stdin", stdin="a brand new password\n")
    run("disable", "kim")
    run("role", "lee", "admin")
    listing_out = run("list")
    assert "kim" in listing_out and "disabled" in listing_out and "admin" in listing_out
    engine = db.make_engine(config.database_url)
    try:
        with db.sessions(engine)() as s:
            lee = s.scalar(select(Operator).where(Operator.username == "lee"))
            assert lee is not None and Role(lee.role) is Role.ADMIN
            assert verify_password(lee.password_hash, "a brand new password")
            actions = [
                (a.action, a.target) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]
    finally:
        engine.dispose()
    assert actions == [
        ("user-add", "kim"),
        ("user-add", "lee"),
        ("user-password", "lee"),
        ("user-disable", "kim"),
        ("user-role", "lee"),
    ]
    assert runner.invoke(users, ["list"], obj=None).exit_code == 1


# -- certificates ----------------------------------------------------------------------------------


def test_certificate_expiries_come_from_the_partner_files(
    config_dir: tuple[Path, dict[str, dict[str, str]]],
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from edi_gateway.config import load
    from edi_gateway.web.dashboard.overview import certificates

    directory, _ = config_dir
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "HANIL AS2")])
    until = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(until - dt.timedelta(days=365))
        .not_valid_after(until)
        .sign(key, hashes.SHA256())
    )
    partners = directory / "partners"
    (partners / "hanil.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with (partners / "hanil-office.toml").open("a") as fh:
        fh.write(
            '\n[as2]\nname = "HANIL"\ncertificate = "hanil.pem"\ncertificate_next = "gone.pem"\n'
        )
    found = certificates(load(directory / "gateway.toml", "sqlite:///:memory:"))
    assert [(c.partner_id, c.path, c.expires, c.problem) for c in found] == [
        ("hanil-office", "hanil.pem", until, None),
        ("hanil-office", "gone.pem", None, "FileNotFoundError"),
    ]
