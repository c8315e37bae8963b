"""CMS: enveloped, signed and compressed data, against ourselves and the openssl CLI."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from hypothesis import given, settings
from hypothesis import strategies as st

from edi_gateway.channels.as2.algorithms import Cipher, Digest, KeyTransport, SignaturePadding
from edi_gateway.channels.as2.ber import BerReader
from edi_gateway.channels.as2.cms import (
    compress,
    decompress,
    decrypt,
    encrypt,
    sign_detached,
    sign_stream,
    verify_detached,
)
from edi_gateway.channels.as2.errors import (
    AuthenticationFailed,
    DecompressionFailed,
    DecryptionFailed,
    IntegrityCheckFailed,
    MalformedMessage,
)
from edi_gateway.channels.as2.signature import verify_opaque
from tests.test_as2_support import (
    NOW,
    identity,
    needs_openssl,
    needs_openssl_zlib,
    openssl,
    write_pem,
)

CONTENT = b"Content-Type: application/edifact\r\n\r\nUNA:+.? 'UNB+UNOC:3+A+B'\r\n" * 50


def _decrypt(envelope: bytes, *keys: object) -> tuple[bytes, object]:
    sink = io.BytesIO()
    facts = decrypt(io.BytesIO(envelope), list(keys), sink)  # type: ignore[arg-type]
    return sink.getvalue(), facts


@pytest.mark.parametrize("cipher", list(Cipher))
@pytest.mark.parametrize("transport", list(KeyTransport))
def test_encrypt_then_decrypt(cipher: Cipher, transport: KeyTransport) -> None:
    us = identity("receiver")
    envelope = encrypt(CONTENT, us.certificate, cipher, transport)
    plain, facts = _decrypt(envelope, us)
    assert plain == CONTENT
    assert facts.cipher is cipher  # type: ignore[attr-defined]
    assert facts.key_transport is transport  # type: ignore[attr-defined]


def test_second_key_opens_after_rollover() -> None:
    old, new = identity("receiver"), identity("receiver-next")
    envelope = encrypt(CONTENT, old.certificate)
    plain, facts = _decrypt(envelope, new, old)
    assert plain == CONTENT
    assert facts.opened_with == old.certificate  # type: ignore[attr-defined]


def test_wrong_key_is_decryption_failed() -> None:
    envelope = encrypt(CONTENT, identity("receiver").certificate)
    with pytest.raises(DecryptionFailed):
        _decrypt(envelope, identity("stranger"))


def test_tampered_gcm_is_decryption_failed() -> None:
    us = identity("receiver")
    envelope = bytearray(encrypt(CONTENT, us.certificate, Cipher.AES128_GCM))
    envelope[-40] ^= 1  # inside the ciphertext, before the 16-byte tag and its header
    with pytest.raises(DecryptionFailed):
        _decrypt(bytes(envelope), us)


OPENSSL_CIPHERS = {
    "-des3": Cipher.TRIPLE_DES_CBC,
    "-aes128": Cipher.AES128_CBC,
    "-aes192": Cipher.AES192_CBC,
    "-aes256": Cipher.AES256_CBC,
    "-aes-128-gcm": Cipher.AES128_GCM,
    "-aes-256-gcm": Cipher.AES256_GCM,
}


@needs_openssl
@pytest.mark.parametrize("flag", list(OPENSSL_CIPHERS))
@pytest.mark.parametrize("oaep", [False, True], ids=["pkcs1", "oaep"])
@pytest.mark.parametrize("stream", [False, True], ids=["der", "ber-stream"])
def test_decrypt_what_openssl_encrypts(tmp_path: Path, flag: str, oaep: bool, stream: bool) -> None:
    us = identity("receiver")
    _, cert = write_pem(tmp_path, us, "us")
    content = tmp_path / "content"
    content.write_bytes(CONTENT * 40)  # several BER chunks when streamed
    args: list[str | Path] = ["cms", "-encrypt", "-binary", flag, "-in", content, "-outform", "DER"]
    args += ["-stream"] if stream else []
    args += ["-recip", cert]
    args += ["-keyopt", "rsa_padding_mode:oaep"] if oaep else []
    plain, facts = _decrypt(openssl(*args), us)
    assert plain == CONTENT * 40
    assert facts.cipher is OPENSSL_CIPHERS[flag]  # type: ignore[attr-defined]
    expected = KeyTransport.RSA_OAEP if oaep else KeyTransport.RSA_PKCS1V15
    assert facts.key_transport is expected  # type: ignore[attr-defined]


@needs_openssl
@pytest.mark.parametrize("cipher", list(Cipher))
@pytest.mark.parametrize("transport", list(KeyTransport))
def test_openssl_decrypts_what_we_encrypt(
    tmp_path: Path, cipher: Cipher, transport: KeyTransport
) -> None:
    partner = identity("partner")
    key, cert = write_pem(tmp_path, partner, "partner")
    envelope = tmp_path / "envelope.der"
    envelope.write_bytes(encrypt(CONTENT, partner.certificate, cipher, transport))
    out = openssl(
        "cms", "-decrypt", "-binary", "-inform", "DER", "-in", envelope,
        "-inkey", key, "-recip", cert,
    )  # fmt: skip
    assert out == CONTENT


SIGNERS = {
    "builder": lambda content, signer, digest, scheme: sign_detached(
        content, signer, digest, scheme
    ),
    "stream": lambda content, signer, digest, scheme: sign_stream(
        [content[:100], content[100:]], signer, digest, scheme
    ),
}


@pytest.mark.parametrize("how", list(SIGNERS))
@pytest.mark.parametrize("digest", list(Digest))
@pytest.mark.parametrize("scheme", list(SignaturePadding))
def test_sign_then_verify(how: str, digest: Digest, scheme: SignaturePadding) -> None:
    signer = identity("sender")
    signature = SIGNERS[how](CONTENT, signer, digest, scheme)
    facts = verify_detached(signature, [CONTENT[:7], CONTENT[7:]], [signer.certificate], NOW)
    assert (facts.digest, facts.padding, facts.signer) == (digest, scheme, signer.certificate)
    expected = hashes.Hash(digest.hash_algorithm())
    expected.update(CONTENT)
    assert facts.content_digest == expected.finalize()


@needs_openssl
@pytest.mark.parametrize("how", list(SIGNERS))
@pytest.mark.parametrize("digest", list(Digest))
@pytest.mark.parametrize("scheme", list(SignaturePadding))
def test_openssl_verifies_our_signature(
    tmp_path: Path, how: str, digest: Digest, scheme: SignaturePadding
) -> None:
    signer = identity("sender")
    _, cert = write_pem(tmp_path, signer, "sender")
    (tmp_path / "content").write_bytes(CONTENT)
    (tmp_path / "sig.der").write_bytes(SIGNERS[how](CONTENT, signer, digest, scheme))
    openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.der",
        "-content", tmp_path / "content", "-CAfile", cert, "-out", tmp_path / "out",
    )  # fmt: skip
    assert (tmp_path / "out").read_bytes() == CONTENT


@needs_openssl
@pytest.mark.parametrize("md", ["sha1", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("pss", [False, True], ids=["pkcs1", "pss"])
@pytest.mark.parametrize("attributes", [True, False], ids=["attrs", "noattr"])
def test_verify_what_openssl_signs(tmp_path: Path, md: str, pss: bool, attributes: bool) -> None:
    signer = identity("sender")
    key, cert = write_pem(tmp_path, signer, "sender")
    (tmp_path / "content").write_bytes(CONTENT)
    args: list[str | Path] = ["cms", "-sign", "-binary", "-md", md, "-in", tmp_path / "content"]
    args += ["-signer", cert, "-inkey", key, "-outform", "DER"]
    args += [] if attributes else ["-noattr"]
    args += ["-keyopt", "rsa_padding_mode:pss"] if pss else []
    signature = openssl(*args)
    facts = verify_detached(signature, [CONTENT], [signer.certificate], NOW)
    assert facts.digest is Digest.from_name(md)
    assert facts.padding is (SignaturePadding.PSS if pss else SignaturePadding.PKCS1V15)
    with pytest.raises(IntegrityCheckFailed):
        verify_detached(signature, [CONTENT + b"x"], [signer.certificate], NOW)


@pytest.mark.parametrize("pss", [False, True], ids=["pkcs1", "pss"])
def test_verify_what_cryptography_signs(pss: bool) -> None:
    signer = identity("sender")
    scheme = rsa_padding.PSS(rsa_padding.MGF1(hashes.SHA384()), 48) if pss else None
    signature = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(CONTENT)
        .add_signer(signer.certificate, signer.private_key, hashes.SHA384(), rsa_padding=scheme)
        .sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )
    facts = verify_detached(signature, [CONTENT], [signer.certificate], NOW)
    assert facts.digest is Digest.SHA384


def test_tampered_content_is_integrity_failure() -> None:
    signer = identity("sender")
    signature = sign_detached(CONTENT, signer)
    with pytest.raises(IntegrityCheckFailed):
        verify_detached(signature, [CONTENT.replace(b"UNB", b"UNX", 1)], [signer.certificate], NOW)


def test_unknown_signer_is_authentication_failure() -> None:
    signature = sign_detached(CONTENT, identity("impostor"))
    with pytest.raises(AuthenticationFailed, match="do not trust"):
        verify_detached(signature, [CONTENT], [identity("sender").certificate], NOW)


def test_either_partner_certificate_verifies() -> None:
    next_cert = identity("sender-next")
    signature = sign_detached(CONTENT, next_cert)
    trusted = [identity("sender").certificate, next_cert.certificate]
    assert verify_detached(signature, [CONTENT], trusted, NOW).signer == next_cert.certificate


def test_expired_certificate_is_authentication_failure() -> None:
    expired = identity("expired-sender", NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=10))
    signature = sign_detached(CONTENT, expired)
    with pytest.raises(AuthenticationFailed, match="expired"):
        verify_detached(signature, [CONTENT], [expired.certificate], NOW)


def test_certificate_near_expiry_gives_a_warning() -> None:
    closing = identity("closing-sender", NOW - dt.timedelta(days=300), NOW + dt.timedelta(days=5))
    signature = sign_detached(CONTENT, closing)
    facts = verify_detached(signature, [CONTENT], [closing.certificate], NOW)
    assert facts.warning is not None and "expires" in facts.warning


def test_compress_round_trip() -> None:
    sink = io.BytesIO()
    assert decompress(io.BytesIO(compress(CONTENT)), sink) == len(CONTENT)
    assert sink.getvalue() == CONTENT


@needs_openssl_zlib
def test_decompress_what_openssl_compresses(tmp_path: Path) -> None:
    (tmp_path / "content").write_bytes(CONTENT * 100)
    for extra in ([], ["-stream"]):
        compressed = openssl(
            "cms", "-compress", "-binary", "-in", tmp_path / "content", "-outform", "DER", *extra
        )
        sink = io.BytesIO()
        decompress(io.BytesIO(compressed), sink)
        assert sink.getvalue() == CONTENT * 100


@needs_openssl_zlib
def test_openssl_uncompresses_what_we_compress(tmp_path: Path) -> None:
    (tmp_path / "c.der").write_bytes(compress(CONTENT))
    out = openssl("cms", "-uncompress", "-binary", "-inform", "DER", "-in", tmp_path / "c.der")
    assert out == CONTENT


def test_corrupt_zlib_is_decompression_failed() -> None:
    blob = bytearray(compress(CONTENT * 10))
    blob[-20] ^= 0xFF
    with pytest.raises(DecompressionFailed):
        decompress(io.BytesIO(bytes(blob)), io.BytesIO())


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=70),
    cipher=st.sampled_from(list(Cipher)),
)
def test_every_length_round_trips(size: int, cipher: Cipher) -> None:
    """Padding edges: empty, one byte short of a block, exactly a block, one over."""
    us = identity("receiver")
    content = bytes(range(size))
    plain, _ = _decrypt(encrypt(content, us.certificate, cipher), us)
    assert plain == content


@settings(max_examples=40, deadline=None)
@given(pieces=st.lists(st.binary(min_size=1, max_size=30), min_size=1, max_size=12))
def test_chunked_indefinite_octets_are_read_in_order(pieces: list[bytes]) -> None:
    """A hand-made BER constructed OCTET STRING (indefinite, nested) yields its chunks joined."""
    inner = b"".join(b"\x04" + bytes([len(p)]) + p for p in pieces)
    encoding = b"\x24\x80" + b"\x24\x80" + inner + b"\x00\x00" + b"\x00\x00"
    reader = BerReader(io.BytesIO(encoding))
    assert b"".join(reader.iter_octets(reader.read_header())) == b"".join(pieces)
    assert reader.position == len(encoding)


@needs_openssl
@pytest.mark.parametrize("stream", [False, True], ids=["der", "ber-stream"])
@pytest.mark.parametrize("md", ["sha1", "sha384"])
def test_verify_opaque_signed_data_from_openssl(tmp_path: Path, stream: bool, md: str) -> None:
    signer = identity("sender")
    key, cert = write_pem(tmp_path, signer, "sender")
    (tmp_path / "content").write_bytes(CONTENT * 30)
    args: list[str | Path] = ["cms", "-sign", "-nodetach", "-binary", "-md", md]
    args += ["-in", tmp_path / "content", "-signer", cert, "-inkey", key, "-outform", "DER"]
    args += ["-stream"] if stream else []
    signed = openssl(*args)
    sink = io.BytesIO()
    facts = verify_opaque(io.BytesIO(signed), sink, [signer.certificate], NOW)
    assert sink.getvalue() == CONTENT * 30
    assert facts.digest is Digest.from_name(md)
    tampered = signed.replace(b"UNB+UNOC", b"UNB+UNOX", 1)
    with pytest.raises(IntegrityCheckFailed):
        verify_opaque(io.BytesIO(tampered), io.BytesIO(), [signer.certificate], NOW)
    with pytest.raises(AuthenticationFailed):
        verify_opaque(io.BytesIO(signed), io.BytesIO(), [identity("other").certificate], NOW)


def test_absurd_nesting_is_malformed_not_a_crash() -> None:
    encoding = b"\x24\x80" * 10_000
    reader = BerReader(io.BytesIO(encoding))
    with pytest.raises(MalformedMessage, match="nesting"):
        b"".join(reader.iter_octets(reader.read_header()))
