"""Messages from a partner with generated keys, through the HTTP listener: the faults of the
issue's acceptance list each give the right disposition and accept nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edi_gateway.channels.as2.algorithms import Cipher, Digest
from edi_gateway.channels.as2.mdn import Disposition, read_mdn
from edi_gateway.channels.as2.policy import LocalStation, PartnerProfile
from edi_gateway.channels.as2.sender import build_message, verify_mdn
from tests.test_as2_env import As2Gateway, as2_gateway, pem
from tests.test_as2_support import NOW, identity, our_key

PAYLOAD = b"UNA:+.? 'UNB+UNOC:3+ACME:14+GATEWAY:14+261126:1200+42'UNZ+0+42'"
ACME = identity("acme")
OLD = identity("old-acme", NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=1))
TO_US = PartnerProfile("pyas2lib", (our_key().certificate,))


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[As2Gateway]:
    partners: dict[str, tuple[bytes | None, dict[str, Any]]] = {
        "acme": (pem(ACME), {}),  # signing and encryption required (the default)
        "oldco": (pem(OLD), {}),
    }
    with as2_gateway(tmp_path_factory.mktemp("faults"), partners) as env:
        yield env


def send(gw: As2Gateway, station: LocalStation, profile: PartnerProfile) -> Disposition | None:
    before = gw.count()
    message = build_message(PAYLOAD, station, profile, filename="order.edi")
    response = gw.post(message.headers, message.body)
    assert response.status_code == 200
    headers = list(response.headers.items())
    report = read_mdn(headers, response.content, [our_key().certificate])
    if report.disposition is not Disposition.PROCESSED:
        assert gw.count() == before, "a failed message was accepted"
    else:
        assert verify_mdn(headers, response.content, message, profile).delivered
    return report.disposition


@pytest.mark.parametrize("cipher", [Cipher.AES128_CBC, Cipher.AES256_CBC, Cipher.TRIPLE_DES_CBC])
@pytest.mark.parametrize("digest", [Digest.SHA1, Digest.SHA256, Digest.SHA512])
def test_signed_encrypted_message_is_processed(
    gw: As2Gateway, cipher: Cipher, digest: Digest
) -> None:
    profile = dataclasses.replace(TO_US, cipher=cipher, digest=digest)
    assert send(gw, LocalStation("acme", (ACME,)), profile) is Disposition.PROCESSED


def test_unsigned_message_where_signing_is_required(gw: As2Gateway) -> None:
    profile = dataclasses.replace(TO_US, sign=False)
    assert send(gw, LocalStation("acme", (ACME,)), profile) is (
        Disposition.INSUFFICIENT_MESSAGE_SECURITY
    )


def test_unencrypted_message_where_encryption_is_required(gw: As2Gateway) -> None:
    profile = dataclasses.replace(TO_US, encrypt=False)
    assert send(gw, LocalStation("acme", (ACME,)), profile) is (
        Disposition.INSUFFICIENT_MESSAGE_SECURITY
    )


def test_message_encrypted_for_another_key(gw: As2Gateway) -> None:
    profile = dataclasses.replace(TO_US, certificates=(identity("not-us").certificate,))
    assert send(gw, LocalStation("acme", (ACME,)), profile) is Disposition.DECRYPTION_FAILED


def test_message_signed_with_a_key_we_do_not_know_for_the_partner(gw: As2Gateway) -> None:
    impostor = identity("impostor")
    assert send(gw, LocalStation("acme", (impostor,)), TO_US) is (Disposition.AUTHENTICATION_FAILED)


def test_message_signed_with_an_expired_certificate(gw: As2Gateway) -> None:
    assert send(gw, LocalStation("oldco", (OLD,)), TO_US) is Disposition.AUTHENTICATION_FAILED


def test_failed_messages_leave_the_spool_empty(gw: As2Gateway, tmp_path: Path) -> None:
    before = set(gw.spool_files())
    send(gw, LocalStation("acme", (ACME,)), dataclasses.replace(TO_US, sign=False))
    assert set(gw.spool_files()) == before


def test_message_made_by_the_openssl_cli_is_accepted(gw: As2Gateway, tmp_path: Path) -> None:
    """Signed (SHA-384), compressed and AES-128 encrypted by `openssl cms`, posted over HTTP."""
    from tests.test_as2_support import openssl, openssl_compresses, write_pem

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI missing")
    key, cert = write_pem(tmp_path, ACME, "acme")
    _, ours = write_pem(tmp_path, our_key(), "ours")
    entity = tmp_path / "entity"
    entity.write_bytes(
        b"Content-Type: application/edifact\r\nContent-Disposition: attachment; "
        b'filename="cli.edi"\r\n\r\n' + PAYLOAD + b"CLI"
    )
    signed = openssl("cms", "-sign", "-binary", "-in", entity, "-signer", cert, "-inkey", key,
                     "-md", "sha384")  # fmt: skip
    inner = tmp_path / "inner"
    inner.write_bytes(signed)
    if openssl_compresses():
        inner.write_bytes(openssl("cms", "-compress", "-binary", "-in", inner))
    body = openssl("cms", "-encrypt", "-binary", "-in", inner, "-outform", "DER", "-aes128", ours)
    headers = [
        ("AS2-Version", "1.2"), ("AS2-From", "acme"), ("AS2-To", "pyas2lib"),
        ("Message-ID", "<openssl-cli-1@acme>"), ("MIME-Version", "1.0"),
        ("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data"),
        ("Disposition-Notification-To", "acme@example.org"),
    ]  # fmt: skip
    response = gw.post(headers, body)
    report = read_mdn(list(response.headers.items()), response.content, [])
    assert report.disposition is Disposition.PROCESSED, report.explanation
    accepted = gw.interchanges()[-1]
    assert gw.spooled(accepted) == PAYLOAD + b"CLI" and accepted.filename == "cli.edi"


def test_key_and_certificate_rollover(tmp_path: Path) -> None:
    """Our new key signs while the old one still decrypts; the partner's next certificate
    verifies beside its current one (certificate_next)."""
    from edi_gateway.samples import write_sample_config
    from tests.test_as2_env import add_partner

    new_key = identity("gateway-next")
    acme_next = identity("acme-next")
    directory = tmp_path / "gw"
    write_sample_config(directory, port=0)
    add_partner(directory, "acme-next", pem(acme_next))  # writes certs/acme-next.pem
    (directory / "partners" / "acme-next.toml").unlink()
    add_partner(directory, "acme", pem(ACME), certificate_next="certs/acme-next.pem")
    station = LocalStation("pyas2lib", (new_key, our_key()))
    with as2_gateway(directory, {}, station) as gw:
        for signer, encrypt_to in ((ACME, our_key()), (acme_next, new_key)):
            profile = dataclasses.replace(TO_US, certificates=(encrypt_to.certificate,))
            message = build_message(PAYLOAD + signer.certificate.subject.rfc4514_string().encode(),
                                    LocalStation("acme", (signer,)), profile)  # fmt: skip
            response = gw.post(message.headers, message.body)
            headers = list(response.headers.items())
            report = read_mdn(headers, response.content, [new_key.certificate])
            assert report.disposition is Disposition.PROCESSED, report.explanation
        assert gw.count() == 2


def test_partner_changes_are_taken_up_without_a_restart(tmp_path: Path) -> None:
    """A partner added, given its next certificate, or disabled in its file (as the dashboard
    writes it) is known to the running listener once the partner files are re-read."""
    from tests.test_as2_env import add_partner

    newco, newco_next = identity("newco"), identity("newco-next")
    with as2_gateway(tmp_path / "gw", {"acme": (pem(ACME), {})}) as gw:
        newco_station = LocalStation("newco", (newco,))
        assert send(gw, newco_station, TO_US) is Disposition.AUTHENTICATION_FAILED
        add_partner(gw.directory, "newco", pem(newco))
        assert gw.gateway.config.partner_files.reload()
        assert send(gw, newco_station, TO_US) is Disposition.PROCESSED
        # its certificate rolls over: the next one is written beside it and named in the file
        add_partner(gw.directory, "newco-next", pem(newco_next))
        (gw.directory / "partners" / "newco-next.toml").unlink()
        add_partner(gw.directory, "newco", pem(newco), certificate_next="certs/newco-next.pem")
        assert gw.gateway.config.partner_files.reload()
        assert send(gw, LocalStation("newco", (newco_next,)), TO_US) is Disposition.PROCESSED
        # disabled: refused from then on
        toml = gw.directory / "partners" / "newco.toml"
        toml.write_text(toml.read_text().replace('role = "supplier"', 'role = "supplier"\nenabled = false'))
        assert gw.gateway.config.partner_files.reload()
        assert send(gw, newco_station, TO_US) is Disposition.AUTHENTICATION_FAILED
