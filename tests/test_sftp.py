"""SFTP channel: OpenSSH's `sftp` client and paramiko against the gateway's asyncssh server on
loopback. Uploads are taken once (with and without a temporary name), acks can be downloaded
from outbox/, refusals are refusals, a killed upload is never taken, a full spool is a failure
answer that leaves nothing accepted."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from edi_gateway import samples
from edi_gateway.acks.sftp_sender import SftpSender
from edi_gateway.app import Gateway
from edi_gateway.channels.sftp import SftpChannel, SftpListener
from edi_gateway.channels.transient import InboxCipher
from edi_gateway.config import hash_token, load
from edi_gateway.store.tables import Ack, AckState, Event, Interchange
from tests.conftest import IN_CI
from tests.support import open_call_and_tender, wait_for

try:  # a test-only dependency (the dev extra)
    paramiko: Any = importlib.import_module("paramiko")
except ImportError:
    paramiko = None

DAEHAN_PASSWORD = "daehan-sftp-password-1"


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if IN_CI:
            pytest.fail(f"{tool} is not installed; .ci/run must install openssh-client")
        pytest.skip(f"{tool} is not installed here")
    return found


def need_paramiko() -> Any:
    if paramiko is None:
        if IN_CI:
            pytest.fail("paramiko is not installed; it belongs to the dev extra")
        pytest.skip("paramiko is not installed here")
    return paramiko


def keygen(path: Path) -> str:
    need("ssh-keygen")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(path)], check=True
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class Site:
    gateway: Gateway
    channel: SftpChannel
    key: Path
    wrong_key: Path
    work: Path

    def interchanges(self) -> list[Interchange]:
        with self.gateway.sessions() as s:
            return list(s.scalars(select(Interchange).where(Interchange.channel == "sftp")))

    def events(self, type_: str) -> list[Event]:
        with self.gateway.sessions() as s:
            return list(s.scalars(select(Event).where(Event.type == type_)))

    def inbox(self, partner: str = "hanil-office") -> list[str]:
        return sorted(p.name for p in (self.channel.root / partner / "inbox").iterdir())

    def sftp(self, *commands: str, key: Path | None = None, user: str = "hanil",
             limit_kbit: int | None = None) -> subprocess.CompletedProcess[str]:
        batch = self.work / "batch"
        batch.write_text("\n".join(commands) + "\n")
        return subprocess.run(self.sftp_argv(batch, key or self.key, user, limit_kbit),
                              capture_output=True, text=True, timeout=60)

    def sftp_argv(self, batch: Path, key: Path, user: str, limit_kbit: int | None = None) -> list[str]:
        argv = [need("sftp"), "-F", "/dev/null", "-b", str(batch), "-P", str(self.channel.port),
                "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                "-o", f"UserKnownHostsFile={self.work / 'known_hosts'}", "-o", "BatchMode=yes",
                "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=10"]
        if limit_kbit:
            argv += ["-l", str(limit_kbit)]
        return [*argv, f"{user}@127.0.0.1"]

    def paramiko(self, user: str = "hanil", password: str | None = None,
                 key: Path | None = None) -> Any:
        need_paramiko()
        transport = paramiko.Transport(("127.0.0.1", self.channel.port))
        pkey = None if password else paramiko.Ed25519Key.from_private_key_file(str(key or self.key))
        try:
            transport.connect(username=user, password=password, pkey=pkey)
        except paramiko.SSHException:
            transport.close()
            raise
        return paramiko.SFTPClient.from_transport(transport)


def build_site(tmp_path: Path, spool_dir: Path | None = None) -> Site:
    directory = tmp_path / "config"
    samples.write_sample_config(directory)
    work = tmp_path / "client"
    work.mkdir()
    key, wrong = work / "id_partner", work / "id_wrong"
    public = keygen(key)
    keygen(wrong)
    with (directory / "partners" / "hanil-office.toml").open("a") as fh:
        fh.write(f'\n[sftp]\nuser = "hanil"\npublic_keys = ["{public}"]\nmax_file_bytes = 40000000\n')
    with (directory / "partners" / "daehan-it.toml").open("a") as fh:
        fh.write(f'\n[sftp]\nuser = "daehan"\npassword_sha256 = "{hash_token(DAEHAN_PASSWORD)}"\n'
                 "max_file_bytes = 100000\n")
    toml = directory / "gateway.toml"
    if spool_dir is not None:
        toml.write_text(toml.read_text().replace(
            'data_dir = "data"', f'data_dir = "data"\nspool_dir = "{spool_dir}"'))
    gateway = Gateway(load(toml, f"sqlite:///{tmp_path / 'gw.db'}"))
    channel = SftpChannel(gateway.config, gateway.intake, gateway.sessions,
                          SftpListener(enabled=True, port=0))
    channel.start()
    return Site(gateway, channel, key, wrong, work)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = build_site(tmp_path)
    try:
        yield s
    finally:
        s.channel.stop()
        s.gateway.stop()
        s.gateway.engine.dispose()


def payload(tag: str, size: int = 0) -> bytes:
    head = f"UNA:+.? 'UNB+UNOC:3+8809876000015:14+8801234000017:14+261126:1200+{tag}'".encode()
    return head + b"X" * size


def test_openssh_uploads_with_and_without_temporary_name_are_taken_once(site: Site) -> None:
    direct, staged = site.work / "ORDERS-1.edi", site.work / "ORDERS-2.edi"
    direct.write_bytes(payload("REF1"))
    staged.write_bytes(payload("REF2"))
    result = site.sftp(
        f"put {direct} inbox/ORDERS-1.edi",
        f"put {staged} inbox/.ORDERS-2.edi.part",
        "rename inbox/.ORDERS-2.edi.part inbox/ORDERS-2.edi",
    )
    assert result.returncode == 0, result.stderr
    taken = sorted(site.interchanges(), key=lambda i: i.filename or "")
    assert [(i.filename, i.partner_id) for i in taken] == [
        ("ORDERS-1.edi", "hanil-office"), ("ORDERS-2.edi", "hanil-office")]
    assert site.gateway.spool.read(taken[0].raw_sha256) == payload("REF1")
    assert site.gateway.spool.read(taken[1].raw_sha256) == payload("REF2")
    assert site.inbox() == []  # taken files do not linger to be taken again
    assert len(site.events("sftp-login")) == 1
    assert {e.detail["file"] for e in site.events("sftp-upload")} == {"ORDERS-1.edi", "ORDERS-2.edi"}


def test_a_tender_waiting_in_the_inbox_is_unreadable_on_disk_and_sealed_when_taken(
    site: Site,
) -> None:
    source = site.work / "tender.json"
    source.write_bytes(open_call_and_tender(site.gateway, "CFT-SFTP-1", "PRICE-MARKER-SFTP-93ab"))
    assert site.sftp(f"put {source} inbox/.tender.json.part").returncode == 0
    # uploaded, not yet renamed: on the disk it is ciphertext of the same size
    waiting = site.channel.root / "hanil-office" / "inbox" / ".tender.json.part"
    on_disk = waiting.read_bytes()
    assert len(on_disk) == len(source.read_bytes()) and b"PRICE-MARKER-SFTP-93ab" not in on_disk
    assert site.sftp("rename inbox/.tender.json.part inbox/tender.json").returncode == 0
    [taken] = site.interchanges()
    assert taken.state == "sealed" and site.inbox() == []
    spooled = [f for f in site.gateway.config.spool_dir.rglob("*") if f.is_file()]
    assert not any(b"PRICE-MARKER-SFTP-93ab" in f.read_bytes() for f in spooled)


def test_an_upload_left_in_the_inbox_across_a_restart_must_be_sent_again(site: Site) -> None:
    source = site.work / "ORDERS-9.edi"
    source.write_bytes(payload("REF9"))
    assert site.sftp(f"put {source} inbox/.ORDERS-9.edi.tmp").returncode == 0
    site.channel.inbox_cipher = InboxCipher()  # what a restart does: the old key is gone
    renamed = site.sftp("rename inbox/.ORDERS-9.edi.tmp inbox/ORDERS-9.edi")
    assert renamed.returncode != 0
    assert site.interchanges() == [] and site.inbox() == []
    [refused] = site.events("sftp-refused")
    assert "before the gateway restarted" in refused.detail["reason"]


def test_paramiko_uploads_with_and_without_temporary_name_are_taken_once(site: Site) -> None:
    sftp = site.paramiko()
    try:
        # confirm=False: the file is taken on close, so it is gone when paramiko would stat it
        sftp.putfo(io.BytesIO(payload("P1")), "inbox/INVOIC-1.edi", confirm=False)
        sftp.putfo(io.BytesIO(payload("P2")), "/inbox/INVOIC-2.edi.tmp")
        assert "INVOIC-2.edi.tmp" in sftp.listdir("inbox")
        sftp.posix_rename("/inbox/INVOIC-2.edi.tmp", "/inbox/INVOIC-2.edi")
        sftp.putfo(io.BytesIO(payload("P3")), "inbox/.INVOIC-3.edi")
        sftp.rename("inbox/.INVOIC-3.edi", "inbox/INVOIC-3.edi")
    finally:
        sftp.close()
    assert sorted(i.filename or "" for i in site.interchanges()) == [
        "INVOIC-1.edi", "INVOIC-2.edi", "INVOIC-3.edi"]
    assert site.inbox() == []


def test_acks_appear_in_outbox_and_can_be_downloaded_and_deleted(site: Site) -> None:
    source = site.work / "ORDERS-9.edi"
    source.write_bytes(payload("REF9"))
    assert site.sftp(f"put {source} inbox/ORDERS-9.edi").returncode == 0
    (ic,) = site.interchanges()
    now = dt.datetime.now(dt.UTC)
    ack = Ack(id="01ACKTEST0000000000000000A", interchange_id=ic.id, partner_id="hanil-office",
              kind="contrl", positive=True, media_type="application/edifact",
              filename="CONTRL-REF9.edi", content=b"UNH+1+CONTRL:D:3:UN'", route="sftp",
              state=AckState.PENDING, attempts=0, next_attempt_at=now, created_at=now)
    sender = SftpSender(site.channel.root)
    assert sender.send(ack, site.gateway.config.partners["hanil-office"]) == AckState.DELIVERED
    got = site.work / "got.edi"
    result = site.sftp("ls outbox", f"get outbox/CONTRL-REF9.edi {got}", "rm outbox/CONTRL-REF9.edi")
    assert result.returncode == 0, result.stderr
    assert got.read_bytes() == b"UNH+1+CONTRL:D:3:UN'"
    assert list((site.channel.root / "hanil-office" / "outbox").iterdir()) == []
    # the outbox is for reading: nothing can be put there
    assert site.sftp(f"put {source} outbox/x.edi").returncode != 0


def test_logins_that_must_fail_fail(site: Site) -> None:
    source = site.work / "ORDERS-3.edi"
    source.write_bytes(payload("REF3"))
    need_paramiko()
    assert site.sftp(f"put {source} inbox/A.edi", key=site.wrong_key).returncode != 0
    assert site.sftp(f"put {source} inbox/A.edi", user="nobody").returncode != 0
    with pytest.raises(paramiko.AuthenticationException):
        site.paramiko(password="anything")  # hanil has no password: password login is off
    with pytest.raises(paramiko.AuthenticationException):
        site.paramiko(user="daehan", password="wrong password")
    shell = subprocess.run([need("ssh"), "-F", "/dev/null", "-p", str(site.channel.port), "-i", str(site.key),
                            "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                            "hanil@127.0.0.1", "id"], capture_output=True, text=True, timeout=60)
    assert shell.returncode != 0 and "uid=" not in shell.stdout  # SFTP only: no commands
    daehan = site.paramiko(user="daehan", password=DAEHAN_PASSWORD)
    daehan.putfo(io.BytesIO(payload("D1")), "inbox/D1.edi", confirm=False)
    daehan.close()
    assert [(i.partner_id, i.filename) for i in site.interchanges()] == [("daehan-it", "D1.edi")]
    failed: list[Event] = wait_for(lambda: (lambda found: found if len(found) >= 3 else [])(
        site.events("sftp-login-failed")))
    assert {e.detail["user"] for e in failed} >= {"hanil", "nobody", "daehan"}
    assert all("password" not in str(e.detail).lower() for e in failed)  # secrets never recorded


@pytest.mark.parametrize("command", [
    "put {src} ../escape.edi",
    "put {src} inbox/../../escape.edi",
    "put {src} /escape.edi",
    "put {src} outbox/x.edi",
    "put {src} \"inbox/bad name;rm.edi\"",
    "mkdir inbox/sub",
    "symlink /etc/passwd inbox/link",
    "get inbox/ORDERS-4.edi {work}/x",
    "get /../../etc/passwd {work}/x",
    "ls /etc",
])
def test_paths_outside_the_inbox_are_refused(site: Site, command: str) -> None:
    source = site.work / "ORDERS-4.edi"
    source.write_bytes(payload("REF4"))
    result = site.sftp(command.format(src=source, work=site.work))
    assert result.returncode != 0, result.stdout
    assert site.interchanges() == []
    area = site.channel.root / "hanil-office"
    assert sorted(p.name for p in area.iterdir()) == ["inbox", "outbox"]
    assert not (site.channel.root / "escape.edi").exists()
    assert not (site.channel.root.parent / "escape.edi").exists()


def test_the_area_root_is_the_top(site: Site) -> None:
    result = site.sftp("ls /..", "ls ../..")
    assert result.returncode == 0
    assert set(result.stdout.split()) - {"sftp>", "ls", "/..", "../.."} == {
        "/../inbox", "/../outbox", "../../inbox", "../../outbox"}


def test_size_limit_is_enforced_per_partner(site: Site) -> None:
    partners = site.gateway.config.partners
    assert site.channel.size_limit(partners["hanil-office"]) == 40_000_000
    assert site.channel.size_limit(partners["daehan-it"]) == 100_000
    sftp = site.paramiko(user="daehan", password=DAEHAN_PASSWORD)
    try:
        with pytest.raises(OSError, match="larger than the limit"), sftp.open("inbox/BIG.edi", "wb") as fh:
            fh.write(payload("BIG", 100_000))
    finally:
        sftp.close()
    assert site.interchanges() == []
    assert wait_for(lambda: site.events("sftp-refused"))


def test_openssh_upload_killed_mid_transfer_is_not_taken(site: Site) -> None:
    big = site.work / "BIG.edi"
    big.write_bytes(payload("BIG", 20_000_000))
    batch = site.work / "kill-batch"
    batch.write_text(f"put {big} inbox/BIG.edi\n")
    proc = subprocess.Popen(site.sftp_argv(batch, site.key, "hanil", limit_kbit=8000),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    partial = site.channel.root / "hanil-office" / "inbox" / "BIG.edi"
    try:
        wait_for(lambda: partial.exists() and partial.stat().st_size > 200_000, timeout=30)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # sftp and its ssh: the client dies mid-transfer
        proc.wait()
    assert wait_for(lambda: site.events("sftp-incomplete"), timeout=30)
    assert site.interchanges() == []
    assert site.inbox() == []


def test_sftp_process_killed_while_ssh_ends_the_channel_cleanly_is_not_taken(site: Site) -> None:
    """Only the sftp process dies: its ssh child sees EOF and closes the channel in order.
    The open file is still an incomplete upload."""
    big = site.work / "BIG.edi"
    big.write_bytes(payload("BIG", 20_000_000))
    batch = site.work / "kill-batch"
    batch.write_text(f"put {big} inbox/BIG.edi\n")
    proc = subprocess.Popen(site.sftp_argv(batch, site.key, "hanil", limit_kbit=8000),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = site.channel.root / "hanil-office" / "inbox" / "BIG.edi"
    try:
        wait_for(lambda: partial.exists() and partial.stat().st_size > 200_000, timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert wait_for(lambda: site.events("sftp-incomplete"), timeout=30)
    assert site.interchanges() == []


@pytest.fixture
def small_spool(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "spool"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                            capture_output=True)
    if result.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs: {result.stderr.decode()}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_spool_fails_the_upload_accepts_nothing_and_recovers(tmp_path: Path, small_spool: Path) -> None:
    s = build_site(tmp_path, spool_dir=small_spool)
    try:
        free = os.statvfs(small_spool).f_bavail * os.statvfs(small_spool).f_frsize
        filler = small_spool / "filler"
        filler.write_bytes(b"\0" * (free - 100_000))
        source = s.work / "ORDERS-5.edi"
        source.write_bytes(payload("REF5", 300_000))
        for command in (f"put {source} inbox/ORDERS-5.edi",
                        f"put {source} inbox/ORDERS-5.edi.part\nrename inbox/ORDERS-5.edi.part inbox/ORDERS-5.edi"):
            result = s.sftp(*command.split("\n"))
            assert result.returncode != 0
            assert "nothing was accepted" in result.stderr or "Failure" in result.stderr, result.stderr
        with s.gateway.sessions() as db:
            assert db.scalar(select(func.count()).select_from(Interchange)) == 0
        assert s.inbox() == []
        assert list((small_spool / "tmp").iterdir()) == []
        assert len(s.events("sftp-failed")) == 2

        filler.unlink()
        assert s.sftp(f"put {source} inbox/ORDERS-5.edi").returncode == 0
        (ic,) = s.interchanges()
        assert s.gateway.spool.read(ic.raw_sha256) == payload("REF5", 300_000)
    finally:
        s.channel.stop()
        s.gateway.stop()
        s.gateway.engine.dispose()


def test_host_key_is_generated_once_and_kept(site: Site) -> None:
    first = site.channel.host_key_path.read_bytes()
    site.channel.stop()
    site.channel.start()
    assert site.channel.host_key_path.read_bytes() == first
    assert oct(site.channel.host_key_path.stat().st_mode & 0o777) == "0o600"
    source = site.work / "ORDERS-6.edi"
    source.write_bytes(payload("REF6"))
    assert site.sftp(f"put {source} inbox/ORDERS-6.edi").returncode == 0
