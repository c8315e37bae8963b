"""From gateway configuration to AS2 policy: profiles, names, ciphers, expiry warnings."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from edi_gateway.channels.as2.algorithms import Cipher, Digest
from edi_gateway.channels.as2.expiry import ExpiryWatch
from edi_gateway.channels.as2.partners import (
    As2ConfigError,
    build_directory,
    cipher_named,
    load_station,
)
from edi_gateway.channels.as2.policy import LocalStation
from edi_gateway.channels.as2.settings import As2KeyFiles, As2Settings
from edi_gateway.config import load
from edi_gateway.samples import write_sample_config
from tests.test_as2_env import add_partner, pem
from tests.test_as2_support import MENDELSON, NOW, identity, our_key


@pytest.mark.parametrize(
    ("name", "cipher"),
    [("aes256_cbc", Cipher.AES256_CBC), ("3des", Cipher.TRIPLE_DES_CBC),
     ("des-ede3-cbc", Cipher.TRIPLE_DES_CBC), ("AES128-GCM", Cipher.AES128_GCM)],
)  # fmt: skip
def test_cipher_names(name: str, cipher: Cipher) -> None:
    assert cipher_named(name) is cipher


def test_unknown_cipher_is_a_config_error() -> None:
    with pytest.raises(As2ConfigError, match="rc2"):
        cipher_named("rc2")


def test_directory_maps_names_to_partners_and_warns_of_expiry(tmp_path: Path) -> None:
    write_sample_config(tmp_path, port=0)
    soon = identity("soon", NOW - dt.timedelta(days=300), NOW + dt.timedelta(days=5))
    add_partner(tmp_path, "acme", pem(identity("acme")), name="ACME-AS2", cipher="3des",
                digest="sha-512", mdn="async", url="http://127.0.0.1:9/as2")  # fmt: skip
    add_partner(tmp_path, "soonco", pem(soon))
    config = load(tmp_path / "gateway.toml", f"sqlite:///{tmp_path / 'g.db'}")
    with capture_logs() as logs:
        directory = build_directory(
            config, LocalStation("US", (our_key(),)), mdn_url="http://127.0.0.1:1/as2"
        )
    assert directory.partner_ids == {"ACME-AS2": "acme", "soonco": "soonco"}
    acme = directory.profiles["acme"]
    assert (acme.cipher, acme.digest, acme.async_mdn_url) == (
        Cipher.TRIPLE_DES_CBC, Digest.SHA512, "http://127.0.0.1:1/as2"
    )  # fmt: skip
    assert directory.policy.partners["ACME-AS2"] is acme
    warned = [e for e in logs if e["event"] == "as2.certificate_expiring"]
    assert [e["owner"] for e in warned] == ["soonco"]
    assert "BEGIN" not in str(logs)


def days_to_expiry(owner: str, serial: int) -> float | None:
    return REGISTRY.get_sample_value(
        "edigw_as2_certificate_days_to_expiry", {"owner": owner, "serial": f"{serial:x}"}
    )


def test_expiry_is_checked_again_while_running_and_exported_as_days(tmp_path: Path) -> None:
    write_sample_config(tmp_path, port=0)
    later = identity("later", NOW - dt.timedelta(days=300), NOW + dt.timedelta(days=40))
    add_partner(tmp_path, "laterco", pem(later))
    config = load(tmp_path / "gateway.toml", f"sqlite:///{tmp_path / 'g.db'}")
    now = [NOW]
    with capture_logs() as logs:
        directory = build_directory(
            config, LocalStation("US", (our_key(),)), clock=lambda: now[0], warn_days=30
        )
    assert not [e for e in logs if e["event"] == "as2.certificate_expiring"]  # 40 days left
    serial = later.certificate.serial_number
    assert days_to_expiry("laterco", serial) == pytest.approx(40)
    ours = our_key().certificate
    assert days_to_expiry("us", ours.serial_number) == pytest.approx(
        (ours.not_valid_after_utc - NOW).total_seconds() / 86400
    )

    now[0] = NOW + dt.timedelta(days=15)  # a long-running gateway, two weeks on
    watch = ExpiryWatch(directory, lambda: now[0], dt.timedelta(days=30), poll_seconds=0.01)
    with capture_logs() as logs:
        watch.start()
        try:
            wait_for(lambda: days_to_expiry("laterco", serial) == pytest.approx(25))
        finally:
            watch.stop()
    warned = [e for e in logs if e["event"] == "as2.certificate_expiring"]
    assert warned and {e["owner"] for e in warned} == {"laterco"}
    assert warned[0]["days_left"] == pytest.approx(25, abs=0.1)


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.01)


def test_two_partners_with_one_as2_name_are_refused(tmp_path: Path) -> None:
    write_sample_config(tmp_path, port=0)
    add_partner(tmp_path, "one", pem(identity("acme")), name="SAME")
    add_partner(tmp_path, "two", pem(identity("acme")), name="SAME")
    config = load(tmp_path / "gateway.toml", f"sqlite:///{tmp_path / 'g.db'}")
    with pytest.raises(As2ConfigError, match="SAME"):
        build_directory(config, LocalStation("US", (our_key(),)))


def test_station_from_pkcs12_with_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "as2").mkdir()
    (tmp_path / "as2" / "ours.p12").write_bytes((MENDELSON / "cert_test.p12").read_bytes())
    files = As2KeyFiles(pkcs12="as2/ours.p12", password_env="AS2_TEST_KEY_PASSWORD")
    settings = As2Settings(as2_id="pyas2lib", keys=[files])
    with pytest.raises(As2ConfigError, match="AS2_TEST_KEY_PASSWORD"):
        load_station(settings, tmp_path)
    monkeypatch.setenv("AS2_TEST_KEY_PASSWORD", "wrong")
    with pytest.raises(As2ConfigError) as failure:
        load_station(settings, tmp_path)
    assert "wrong" not in str(failure.value)
    monkeypatch.setenv("AS2_TEST_KEY_PASSWORD", "test")
    station = load_station(settings, tmp_path)
    assert station.signing_key.certificate == our_key().certificate
