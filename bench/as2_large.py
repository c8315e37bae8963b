"""A large AS2 message over HTTP: peak memory of the receiving gateway (acceptance: a 500 MB
signed+encrypted message with peak RSS under 200 MB).

Writes an EDIFACT-like payload of `--size-mb`, signs it (SHA-256, multipart/signed) and
encrypts it (AES-256-CBC) with the openssl CLI in streaming mode, starts a gateway with its
AS2 channel in a process of its own (pipeline threads off, so only receiving is measured),
streams the message to it from disk, checks the signed MDN (processed, and the MIC equals the
SHA-256 of what was signed) and that the spooled payload is the original, and prints the
server's peak RSS (VmHWM) and the throughput.

    .venv/bin/python bench/as2_large.py                 # 500 MB
    .venv/bin/python bench/as2_large.py --size-mb 50
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.as2 import Server, identity, write_pem
from edi_gateway.channels.as2 import Digest, Disposition, read_mdn
from edi_gateway.channels.as2.mic import Mic

HEADERS = b'Content-Type: application/edifact\r\nContent-Disposition: attachment; filename="large.edi"\r\n\r\n'


def write_payload(path: Path, size: int) -> str:
    """An interchange-like text of `size` bytes; returns its SHA-256."""
    rng = random.Random(5)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        written = 0
        while written < size:
            line = b"LIN+%d++%013d:EN'QTY+21:%d'PRI+AAA:%d.%02d'\r\n" % (
                written, rng.randrange(10**13), rng.randrange(1000), rng.randrange(999), rng.randrange(100)
            )  # fmt: skip
            line = line[: size - written]
            out.write(line)
            digest.update(line)
            written += len(line)
    return digest.hexdigest()


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=500)
    args = parser.parse_args()
    size = args.size_mb * 1_000_000
    ours, partner = identity("GATEWAY"), identity("BENCH")
    with tempfile.TemporaryDirectory(prefix="as2-large-") as temp:
        work = Path(temp)
        write_pem(ours, None, work / "gw.crt")
        write_pem(partner, work / "partner.key", work / "partner.crt")
        payload = work / "payload.edi"
        started = time.perf_counter()
        payload_sha = write_payload(payload, size)
        entity = work / "entity"
        with entity.open("wb") as out, payload.open("rb") as source:
            out.write(HEADERS)
            while chunk := source.read(1 << 20):
                out.write(chunk)
        openssl("cms", "-sign", "-binary", "-stream", "-in", entity, "-signer",
                work / "partner.crt", "-inkey", work / "partner.key", "-md", "sha256",
                "-out", work / "signed.eml")  # fmt: skip
        openssl("cms", "-encrypt", "-binary", "-stream", "-in", work / "signed.eml", "-outform",
                "DER", "-aes256", "-out", work / "message.der", work / "gw.crt")  # fmt: skip
        signed_mic = Mic.compute(_chunks(entity), Digest.SHA256)
        body_size = (work / "message.der").stat().st_size
        print(f"built a {body_size / 1e6:.0f} MB message in {time.perf_counter() - started:.0f} s")

        server = Server(work / "gw", ours, partner, threads=0, evidence_first=True)
        try:
            baseline = server.peak_rss_mb()
            headers = {
                "AS2-Version": "1.2", "AS2-From": "BENCH", "AS2-To": "GATEWAY",
                "Message-ID": f"<large-{uuid.uuid4().hex}@BENCH>", "MIME-Version": "1.0",
                "Content-Type": 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
                "Disposition-Notification-To": "bench@example.org",
                "Disposition-Notification-Options": "signed-receipt-protocol=optional, "
                "pkcs7-signature; signed-receipt-micalg=optional, sha-256",
            }  # fmt: skip
            begin = time.perf_counter()
            with (work / "message.der").open("rb") as body:
                response = httpx.post(server.url, headers=headers, content=body, timeout=1800)
            elapsed = time.perf_counter() - begin
            peak = server.peak_rss_mb()
            report = read_mdn(list(response.headers.items()), response.content, [ours.certificate])
            assert report.disposition is Disposition.PROCESSED, report.disposition_text
            assert report.mic is not None and report.mic.matches(signed_mic), "MIC mismatch"
            spooled = work / "gw" / "data" / "spool" / payload_sha[:2] / payload_sha
            assert spooled.stat().st_size == size, "the spooled payload is not the original"
            print(
                f"received {size / 1e6:.0f} MB payload (signed SHA-256, AES-256-CBC) in {elapsed:.1f} s"
                f" = {size / elapsed / 1e6:.1f} MB/s; signed MDN verified, MIC matches; "
                f"server RSS idle {baseline:.0f} MB, peak {peak:.0f} MB"
            )
        finally:
            server.stop()


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            yield chunk


if __name__ == "__main__":
    main()
