"""Partner administration and AS2 evidence in the dashboard, over real HTTP: who may change
partners, CSRF, the loader's errors shown in the form, atomic writes with a backup, the audit
trail without secrets, the running gateway taking a change at once (and a second process
within a second), and the MDN panel of a message."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from edi_gateway import partners_admin, samples
from edi_gateway.app import Gateway
from edi_gateway.config import PartnerRole, hash_token, load
from edi_gateway.model import new_id
from edi_gateway.store.as2 import As2Mdn, MdnDirection, MdnState
from edi_gateway.store.operators import AuditEntry
from edi_gateway.store.tables import Interchange, PartnerRow
from tests import test_dashboard_support as support
from tests.conftest import Server
from tests.support import wait_for
from tests.test_dashboard_support import DashboardServer, Store, csrf_of, signed_in

store = support.store  # fixtures
dashboard_server = support.dashboard_server

MOE = samples.INSTITUTIONS[0]
ACME = samples.SamplePartner(
    "acme",
    "Acme Office Supplies",
    "supplier",
    gln="8807777000016",
    vat="KR7777700001",
    edifact_id="8807777000016",
    may_send=("invoice",),
)


def _form(csrf: str, **values: str) -> dict[str, str]:
    """The add/edit form as a browser posts it (a checkbox is sent only when ticked)."""
    base = {
        "csrf": csrf,
        "name": ACME.name,
        "role": "supplier",
        "identifiers": f"0088:{ACME.gln}\nVAT:{ACME.vat}",
        "edifact": f"{ACME.edifact_id}/14",
        "may_send_invoice": "1",
        "acks_route": "http",
        "acks_contrl": "always",
        "acks_aperak": "on_error",
        "acks_application_response": "always",
    }
    return {**base, **values}


def _audit(gw: Gateway, action: str) -> list[AuditEntry]:
    with gw.sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _partners_dir(gw: Gateway) -> Path:
    return gw.config.partners_dir


def _issue(client: httpx.Client, pid: str, kind: str = "api") -> str:
    page = client.get("/partners").text
    r = client.post(f"/partners/{pid}/token", data={"csrf": csrf_of(page), "kind": kind})
    assert r.status_code == 200, r.text
    found = re.search(r'id="new-token">([^<]+)<', r.text)
    assert found, "the new token is not on the page"
    return found.group(1)


def test_viewers_and_operators_get_no_buttons_and_403(
    dashboard_server: DashboardServer, gateway: Gateway
) -> None:
    for username in ("vera", "oscar"):
        with signed_in(dashboard_server, username) as c:
            page = c.get("/partners")
            assert page.status_code == 200
            assert "/partners/new" not in page.text and "/token" not in page.text
            assert "/edit" not in page.text and "/state" not in page.text
            csrf = csrf_of(page.text)
            assert c.get("/partners/new").status_code == 403
            assert c.get("/partners/hanil-office/edit").status_code == 403
            assert c.post("/partners", data=_form(csrf, id="acme")).status_code == 403
            r = c.post("/partners/hanil-office/state", data={"csrf": csrf, "action": "disable"})
            assert r.status_code == 403
            assert c.post("/partners/hanil-office/token", data={"csrf": csrf}).status_code == 403
    assert not (_partners_dir(gateway) / "acme.toml").exists()
    assert gateway.config.partners["hanil-office"].enabled
    with signed_in(dashboard_server, "alice") as admin:
        page = admin.get("/partners").text
        assert 'href="/partners/new"' in page and 'href="/partners/hanil-office/edit"' in page


def test_a_form_without_the_csrf_token_is_refused(
    dashboard_server: DashboardServer, gateway: Gateway
) -> None:
    with signed_in(dashboard_server, "alice") as admin:
        r = admin.post("/partners", data={k: v for k, v in _form("").items() if k != "csrf"})
        assert r.status_code == 403
        r = admin.post("/partners/hanil-office/state", data={"csrf": "forged", "action": "disable"})
        assert r.status_code == 403
    assert not (_partners_dir(gateway) / "acme.toml").exists()
    assert gateway.config.partners["hanil-office"].enabled


def test_the_loaders_error_is_shown_in_the_form_and_nothing_is_written(
    dashboard_server: DashboardServer, gateway: Gateway
) -> None:
    before = (_partners_dir(gateway) / "hanil-office.toml").read_bytes()
    with signed_in(dashboard_server, "alice") as admin:
        csrf = csrf_of(admin.get("/partners/new").text)
        r = admin.post("/partners", data=_form(csrf, id="acme", acks_route="carrier-pigeon"))
        assert r.status_code == 400
        assert "acks.route" in r.text and "carrier-pigeon" in r.text
        assert 'value="Acme Office Supplies"' in r.text  # what was typed stays in the form
        r = admin.post("/partners", data=_form(csrf, id="Bad Id!"))
        assert r.status_code == 400 and "expected 1 to 64 lower-case letters" in r.text
        r = admin.post("/partners", data=_form(csrf, id="hanil-office"))
        assert r.status_code == 400 and "exists already" in r.text
        # an edit that the loader refuses leaves the file as it was
        r = admin.post("/partners/hanil-office", data=_form(csrf, role="ministry"))
        assert r.status_code == 400 and "role" in r.text
    assert not (_partners_dir(gateway) / "acme.toml").exists()
    assert not list(_partners_dir(gateway).glob(".*.tmp"))
    assert (_partners_dir(gateway) / "hanil-office.toml").read_bytes() == before
    refused = _audit(gateway, "partner-add")
    assert len(refused) == 3 and {e.outcome for e in refused} == {"refused"}
    assert "acks.route" in refused[0].detail["reason"]
    assert [e.outcome for e in _audit(gateway, "partner-edit")] == ["refused"]


def test_a_partner_added_in_the_dashboard_can_submit_at_once(
    dashboard_server: DashboardServer, gateway: Gateway, store: Store
) -> None:
    with Server(gateway) as api, httpx.Client(base_url=api.url, timeout=30) as http:
        body = json.dumps(samples.invoice("INV-ACME-0001", MOE, ACME)).encode()
        assert http.post("/api/v1/submissions", content=body).status_code == 401
        with signed_in(dashboard_server, "alice") as admin:
            csrf = csrf_of(admin.get("/partners/new").text)
            r = admin.post("/partners", data=_form(csrf, id="acme"))
            assert r.status_code == 303 and r.headers["location"] == "/partners?saved=acme"
            token = _issue(admin, "acme")
            assert token.startswith("egw_")
            page = admin.get("/partners").text
            assert token not in page  # shown once, on the answer to the request only
            assert token not in admin.get("/partners/acme/edit").text

        bearer = {"Authorization": f"Bearer {token}"}
        r = http.post("/api/v1/submissions", content=body, headers=bearer)
        assert r.status_code == 202, r.text
        rid = r.json()["receipt_id"]
        with gateway.sessions() as s:
            ic = s.get(Interchange, rid)
            assert ic is not None and ic.partner_id == "acme"
            assert s.get(PartnerRow, "acme") is not None  # mirrored for the store's joins

        def finished() -> dict[str, object] | None:
            st: dict[str, object] = http.get(f"/api/v1/submissions/{rid}", headers=bearer).json()
            return st if st["terminal"] else None

        status = wait_for(finished, timeout=20)
        assert status["state"] == "done", status

        # disabled: refused at once; enabled again: accepted
        with signed_in(dashboard_server, "alice") as admin:
            csrf = csrf_of(admin.get("/partners").text)
            r = admin.post("/partners/acme/state", data={"csrf": csrf, "action": "disable"})
            assert r.status_code == 303
            assert "Disabled" in admin.get("/partners").text
            r = http.post("/api/v1/submissions", content=body, headers=bearer)
            assert r.status_code == 401
            admin.post("/partners/acme/state", data={"csrf": csrf, "action": "enable"})
            r = http.post("/api/v1/submissions", content=body, headers=bearer)
            assert r.status_code in (200, 201, 202)

    text = (_partners_dir(gateway) / "acme.toml").read_text()
    assert token not in text and hash_token(token) in text
    assert tomllib.loads(text)["acks"]["route"] == "http"
    [added] = _audit(gateway, "partner-add")
    assert added.actor == "alice" and added.target == "partner:acme" and added.outcome == "ok"
    [issued] = _audit(gateway, "partner-token")
    assert {"key": "api_tokens", "secret": True} in issued.detail["changes"]
    dumped = json.dumps([e.detail for e in _audit(gateway, "partner-token")])
    assert hash_token(token) not in dumped and token not in dumped
    assert len(_audit(gateway, "partner-disable")) == 1
    assert len(_audit(gateway, "partner-enable")) == 1


def test_an_edit_keeps_secrets_keeps_a_backup_and_records_what_changed(
    dashboard_server: DashboardServer, gateway: Gateway
) -> None:
    path = _partners_dir(gateway) / "hanil-office.toml"
    old = tomllib.loads(path.read_text())
    token_hash = old["api_tokens"][0]["sha256"]
    with signed_in(dashboard_server, "alice") as admin:
        page = admin.get("/partners/hanil-office/edit").text
        assert token_hash not in page  # hashes are not shown either
        assert "Hanil" in page
        r = admin.post(
            "/partners/hanil-office",
            data=_form(
                csrf_of(page),
                name="Hanil Office Supply Co.",
                identifiers="0088:" + samples.SUPPLIERS[0].gln,
                acks_route="none",
                email_on="1",
                email_addresses="billing@hanil.example\nedi@hanil.example",
            ),
        )
        assert r.status_code == 303
    new = tomllib.loads(path.read_text())
    assert new["api_tokens"] == old["api_tokens"]
    assert new["acks"]["route"] == "none"
    assert new["email"]["addresses"] == ["billing@hanil.example", "edi@hanil.example"]
    partner = gateway.config.partners["hanil-office"]  # the running gateway has it at once
    assert partner.name == "Hanil Office Supply Co." and partner.acks.route == "none"
    assert partner.email is not None and len(partner.identifiers) == 1
    [backup] = (path.parent / ".history").glob("hanil-office.*.toml")
    assert tomllib.loads(backup.read_text()) == old
    [entry] = _audit(gateway, "partner-edit")
    changed = {c["key"]: c for c in entry.detail["changes"]}
    assert changed["acks.route"] == {"key": "acks.route", "from": "channel", "to": "none"}
    assert changed["name"]["to"] == "Hanil Office Supply Co."
    assert "api_tokens" not in changed
    assert entry.detail["backup"] == backup.name
    assert token_hash not in json.dumps(entry.detail)


def test_another_process_takes_up_a_change_and_keeps_the_old_set_on_a_broken_file(
    config_dir: tuple[Path, dict[str, dict[str, str]]], tmp_path: Path
) -> None:
    directory, creds = config_dir
    url = f"sqlite:///{tmp_path / 'p.db'}"
    writer, other = load(directory / "gateway.toml", url), load(directory / "gateway.toml", url)
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    data = partners_admin.document(writer, "daehan-it")
    data["name"] = "Daehan IT (renamed)"
    partners_admin.save(writer, "daehan-it", data, new=False, now=now)
    assert writer.partners["daehan-it"].name == "Daehan IT (renamed)"  # at once here
    wait_for(lambda: other.partners["daehan-it"].name == "Daehan IT (renamed)", timeout=10)

    token, _ = partners_admin.issue_token(writer, "moe", "backoffice", "", now)
    wait_for(lambda: other.backoffice_by_token(token), timeout=10)
    assert other.backoffice_by_token(creds["moe"]["backoffice_token"]) is None  # replaced

    # a file broken by hand: the running set stays, nothing half-loaded
    (directory / "partners" / "daehan-it.toml").write_text('id = "daehan-it"\nrole = 1\n')
    assert writer.partner_files.reload() is False
    assert writer.partners["daehan-it"].name == "Daehan IT (renamed)"
    assert writer.partner_by_token(creds["hanil-office"]["api_token"]) is not None


def _certificate(path: Path, days: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme as2")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_partner_certificate_expiry_is_shown_after_an_edit(
    dashboard_server: DashboardServer, gateway: Gateway
) -> None:
    _certificate(_partners_dir(gateway) / "certs" / "hanil.pem", days=11)
    with signed_in(dashboard_server, "alice") as admin:
        csrf = csrf_of(admin.get("/partners").text)
        r = admin.post(
            "/partners/hanil-office",
            data=_form(
                csrf,
                name="Hanil",
                as2_on="1",
                as2_name="HANIL",
                as2_url="https://as2.hanil.example/as2",
                as2_certificate="certs/hanil.pem",
                as2_mdn="async",
                as2_require_signature="1",
            ),
        )
        assert r.status_code == 303, r.text
        page = admin.get("/partners").text
    row = re.search(r'data-partner="hanil-office">(.*?)</tr>', page, re.S)
    assert row and re.search(r"(9|10) days", row.group(1)), row
    assert "Our AS2 certificates" in page and "AS2 is not configured." in page
    as2 = gateway.config.partners["hanil-office"].as2
    assert as2 is not None and as2.mdn == "async" and as2.require_encryption is False
    assert gateway.config.partners["hanil-office"].role is PartnerRole.SUPPLIER


def _mdns(gw: Gateway, iid: str) -> tuple[str, str]:
    now = gw.clock()
    sent = As2Mdn(
        id=new_id(),
        direction=MdnDirection.SENT,
        interchange_id=iid,
        partner_id="hanil-office",
        as2_from="EDIGATEWAY",
        as2_to="HANIL",
        original_message_id="<hanil-20261126-0007@as2.hanil.example>",
        mdn_message_id="<mdn-1@edigateway>",
        disposition="automatic-action/MDN-sent-automatically; processed",
        mic="q1w2e3r4t5y6u7i8o9p0asdfghjkl=, sha256",
        signed=True,
        mode="async",
        state=MdnState.DELIVERED,
        url="https://as2.hanil.example/mdn",
        headers=[["Message-ID", "<mdn-1@edigateway>"], ["Content-Type", "multipart/signed"]],
        body=b"--b\r\nContent-Type: message/disposition-notification\r\n\r\nprocessed\r\n--b--",
        detail={},
        attempts=2,
        created_at=now,
        finished_at=now,
    )
    received = As2Mdn(
        id=new_id(),
        direction=MdnDirection.RECEIVED,
        interchange_id=iid,
        partner_id="hanil-office",
        original_message_id="<edi-gateway-ack-1@EDIGATEWAY>",
        disposition="automatic-action/MDN-sent-automatically; processed/error: decryption-failed",
        mic=None,
        signed=False,
        mode="sync",
        state=MdnState.REJECTED,
        headers=[["Message-ID", "<their-mdn@hanil>"]],
        body=b"rejected",
        detail={"problems": ["the MDN is not signed"], "mic_matches": None},
        attempts=0,
        created_at=now,
    )
    with gw.sessions.begin() as s:
        s.add_all([sent, received])
    return sent.id, received.id


def test_the_message_page_shows_mdn_evidence_and_operators_download_it(
    dashboard_server: DashboardServer, gateway: Gateway, store: Store
) -> None:
    sent_id, received_id = _mdns(gateway, store.edifact_id)
    with signed_in(dashboard_server, "vera") as viewer:
        page = viewer.get(f"/messages/{store.edifact_id}").text
        assert 'id="as2-mdns"' in page
        assert "processed/error: decryption-failed" in page
        assert "sha256" in page and "&lt;hanil-20261126-0007@as2.hanil.example&gt;" in page
        assert "https://as2.hanil.example/mdn" in page and "not verified" in page
        assert "the MDN is not signed" in page
        assert f"/messages/mdns/{sent_id}/raw" not in page  # viewers do not download evidence
        assert viewer.get(f"/messages/mdns/{sent_id}/raw").status_code == 403
    with signed_in(dashboard_server, "oscar") as op:
        page = op.get(f"/messages/{store.edifact_id}").text
        assert f"/messages/mdns/{sent_id}/raw" in page
        r = op.get(f"/messages/mdns/{sent_id}/raw")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.content.startswith(b"Message-ID: <mdn-1@edigateway>\r\nContent-Type: ")
        assert r.content.endswith(b"processed\r\n--b--")
        assert op.get("/messages/mdns/nosuchmdn/raw").status_code == 404
        # a message without AS2 evidence has no panel
        assert 'id="as2-mdns"' not in op.get(f"/messages/{store.xml_id}").text
    [entry] = _audit(gateway, "download-mdn")
    assert entry.actor == "oscar" and entry.target == store.edifact_id
    assert entry.detail == {"mdn": sent_id}
    assert received_id


def test_an_sftp_password_is_set_and_shown_once(
    dashboard_server: DashboardServer, gateway: Gateway
) -> None:
    with signed_in(dashboard_server, "alice") as admin:
        csrf = csrf_of(admin.get("/partners").text)
        # no [sftp] section yet: refused, audited, nothing written
        r = admin.post("/partners/hanil-office/token", data={"csrf": csrf, "kind": "sftp"})
        assert r.status_code == 303 and "error=" in r.headers["location"]
        form = _form(csrf, name="Hanil", sftp_on="1", sftp_user="hanil")
        assert admin.post("/partners/hanil-office", data=form).status_code == 303
        assert "SFTP password" in admin.get("/partners").text
        password = _issue(admin, "hanil-office", kind="sftp")
        edit = admin.get("/partners/hanil-office/edit").text
        assert password not in edit and "A password is set (not shown)." in edit
    sftp = gateway.config.partners["hanil-office"].sftp
    assert sftp is not None and sftp.password_sha256 == hash_token(password)
    assert [e.outcome for e in _audit(gateway, "partner-token")] == ["refused", "ok"]


def test_every_text_of_these_pages_has_korean() -> None:
    from edi_gateway.web.dashboard import i18n, partner_form
    from edi_gateway.web.dashboard.context import TEMPLATES

    korean = i18n.CATALOGUES["ko"]
    texts = {
        label for _, label in (*partner_form.Choices.as2_flags, *partner_form.Choices.ack_policies)
    }
    for name in ("partners.html", "partner_form.html", "partner_token.html", "message.html"):
        source = (TEMPLATES / name).read_text()
        texts |= set(re.findall(r'(?<![\w.])t\("([^"]+)"', source))
        texts |= set(re.findall(r'\("\w+", "([A-Z][^"]+)"\)', source))  # (value, label)
    texts |= {"institution", "supplier", "sent", "delivered", "verified", "rejected", "awaited"}
    missing = sorted(t for t in texts if t not in korean and not t.isupper())
    assert missing == []
