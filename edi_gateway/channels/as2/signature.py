"""Detached CMS SignedData: verify a partner's signature, produce our own.

`cryptography` can sign CMS but not verify it, so the SignedData is read with asn1crypto and the
signature checked with cryptography's public-key primitives. The signed content is hashed from
an iterable of chunks, so a large signed part never has to be in memory.

Signing builds the SignedData here too (cryptography's PKCS7 builder refuses SHA-1, which AS2
partners still ask for, and wants the whole content in memory); tests cross-check it against
cryptography's builder and `openssl cms -verify`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from edi_gateway.channels.as2.algorithms import (
    ECDSA_SIGNATURE_OIDS,
    OID_RSASSA_PSS,
    OID_SIGNED_DATA,
    RSA_PKCS1_SIGNATURE_OIDS,
    Digest,
    SignaturePadding,
)
from edi_gateway.channels.as2.errors import (
    AuthenticationFailed,
    IntegrityCheckFailed,
    MalformedMessage,
    UnsupportedAlgorithm,
)
from edi_gateway.channels.as2.keys import (
    KeyPair,
    asn1_certificate,
    check_valid,
    expiry_warning,
    identifies,
)


@dataclass(frozen=True)
class SignatureFacts:
    """What a verified signature tells us. `content_digest` is the hash of the signed bytes."""

    digest: Digest
    padding: SignaturePadding | None  # None for ECDSA
    signer: x509.Certificate
    content_digest: bytes
    warning: str | None = None


def parse_signed_data(signature_der: bytes) -> asn1_cms.SignedData:
    try:
        info = asn1_cms.ContentInfo.load(signature_der)
        if info["content_type"].dotted != OID_SIGNED_DATA:
            raise MalformedMessage("the signature is not CMS SignedData")
        signed_data = info["content"]
        signed_data.native  # noqa: B018 (force a full parse so errors surface here)
    except (ValueError, TypeError) as exc:
        raise MalformedMessage(f"unreadable CMS signature: {exc}") from exc
    if not len(signed_data["signer_infos"]):
        raise MalformedMessage("the SignedData has no signer")
    return signed_data


def signature_digest(signature_der: bytes) -> Digest:
    """The digest algorithm of the (first) signer, to know how to hash the content."""
    signer = parse_signed_data(signature_der)["signer_infos"][0]
    return Digest.from_oid(signer["digest_algorithm"]["algorithm"].dotted)


def verify_detached(
    signature_der: bytes,
    content: Iterable[bytes],
    trusted: Sequence[x509.Certificate],
    at: dt.datetime,
    *,
    trust_embedded: bool = False,
) -> SignatureFacts:
    """Verify a detached signature over the chunks of `content`.

    The signer must be one of `trusted` (our partner's current and next certificate), valid at
    `at`. With `trust_embedded`, a certificate carried in the SignedData is accepted too (for
    reading evidence, never for accepting a partner's message).
    Raises IntegrityCheckFailed when the content was altered, AuthenticationFailed when the
    signer is not trusted or its certificate is not valid at `at`.
    """
    signed_data = parse_signed_data(signature_der)
    signer = signed_data["signer_infos"][0]
    digest = Digest.from_oid(signer["digest_algorithm"]["algorithm"].dotted)
    hasher = digest.new()
    for chunk in content:
        hasher.update(chunk)
    content_digest = hasher.finalize()

    attributes = signer["signed_attrs"]
    has_attributes = not isinstance(attributes, core.Void) and len(attributes) > 0
    if has_attributes:
        declared = _message_digest(attributes)
        if declared != content_digest:
            raise IntegrityCheckFailed(
                f"the {digest.micalg} digest of the signed content does not match the signature"
            )
        signed_bytes = b"\x31" + attributes.dump()[1:]  # signed over the DER SET OF, not [0]
        prehashed = False
    else:
        signed_bytes = content_digest
        prehashed = True

    sid = signer["sid"]
    candidates = sorted(trusted, key=lambda cert: not identifies(sid, cert))
    embedded = [cert for cert in _embedded_certificates(signed_data) if identifies(sid, cert)]
    if trust_embedded:
        candidates += embedded
    algorithm = signer["signature_algorithm"]
    signature = bytes(signer["signature"].native)
    for cert in candidates:
        verified, used = _verify(cert, algorithm, digest, signature, signed_bytes, prehashed)
        if verified:
            check_valid(cert, at)
            return SignatureFacts(digest, used, cert, content_digest, expiry_warning(cert, at))
    if any(
        _verify(cert, algorithm, digest, signature, signed_bytes, prehashed)[0] for cert in embedded
    ):
        subject = embedded[0].subject.rfc4514_string()
        raise AuthenticationFailed(f"signed by a certificate we do not trust: {subject}")
    if not has_attributes:
        raise IntegrityCheckFailed("the signature does not match the signed content")
    raise AuthenticationFailed("the signature does not verify with the partner's certificates")


def _message_digest(attributes: asn1_cms.CMSAttributes) -> bytes:
    for attribute in attributes:
        if attribute["type"].native == "message_digest":
            return bytes(attribute["values"][0].native)
    raise MalformedMessage("signed attributes lack the message-digest attribute")


def _embedded_certificates(signed_data: asn1_cms.SignedData) -> list[x509.Certificate]:
    found = []
    for choice in signed_data["certificates"] or []:
        if choice.name == "certificate":
            found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return found


def _verify(
    cert: x509.Certificate,
    algorithm: asn1_cms.SignedDigestAlgorithm,
    digest: Digest,
    signature: bytes,
    data: bytes,
    prehashed: bool,
) -> tuple[bool, SignaturePadding | None]:
    """Whether the signature verifies, and the padding it uses (None for ECDSA)."""
    oid = algorithm["algorithm"].dotted
    key = cert.public_key()
    hash_algorithm: hashes.HashAlgorithm | Prehashed
    try:
        if isinstance(key, rsa.RSAPublicKey) and oid == OID_RSASSA_PSS:
            params = algorithm["parameters"]
            pss_digest = Digest.from_oid(params["hash_algorithm"]["algorithm"].dotted)
            mgf_digest = Digest.from_oid(
                params["mask_gen_algorithm"]["parameters"]["algorithm"].dotted
            )
            hash_algorithm = _hash(pss_digest, prehashed)
            pss = padding.PSS(
                mgf=padding.MGF1(mgf_digest.hash_algorithm()),
                salt_length=int(params["salt_length"].native),
            )
            key.verify(signature, data, pss, hash_algorithm)
            return True, SignaturePadding.PSS
        hash_algorithm = _hash(digest, prehashed)
        if isinstance(key, rsa.RSAPublicKey) and oid in RSA_PKCS1_SIGNATURE_OIDS:
            key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
            return True, SignaturePadding.PKCS1V15
        if isinstance(key, ec.EllipticCurvePublicKey) and oid in ECDSA_SIGNATURE_OIDS:
            key.verify(signature, data, ec.ECDSA(hash_algorithm))
            return True, None
    except InvalidSignature:
        return False, None
    raise UnsupportedAlgorithm(f"unsupported signature algorithm {oid} for this key")


def _hash(digest: Digest, prehashed: bool) -> hashes.HashAlgorithm | Prehashed:
    return Prehashed(digest.hash_algorithm()) if prehashed else digest.hash_algorithm()


_ECDSA_OIDS = {
    Digest.SHA1: "1.2.840.10045.4.1",
    Digest.SHA224: "1.2.840.10045.4.3.1",
    Digest.SHA256: "1.2.840.10045.4.3.2",
    Digest.SHA384: "1.2.840.10045.4.3.3",
    Digest.SHA512: "1.2.840.10045.4.3.4",
}


def sign_detached(
    content: Iterable[bytes],
    signer: KeyPair,
    digest: Digest = Digest.SHA256,
    rsa_padding: SignaturePadding = SignaturePadding.PKCS1V15,
    at: dt.datetime | None = None,
) -> bytes:
    """A DER ContentInfo(SignedData) signing the chunks of `content`, detached, with attributes."""
    hasher = digest.new()
    for chunk in content:
        hasher.update(chunk)
    content_digest = hasher.finalize()
    when = (at or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    attributes = sorted(
        (
            asn1_cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            asn1_cms.CMSAttribute(
                {"type": "signing_time", "values": [asn1_cms.Time(name="utc_time", value=when)]}
            ),
            asn1_cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
        ),
        key=lambda attribute: attribute.dump(),  # DER orders a SET OF by encoding
    )
    signed_attrs = asn1_cms.CMSAttributes(attributes)
    to_sign = signed_attrs.dump()  # the SET OF encoding, which is what gets signed
    key = signer.private_key
    algorithm: dict[str, object]
    if isinstance(key, rsa.RSAPrivateKey):
        if rsa_padding is SignaturePadding.PSS:
            salt = digest.hash_algorithm().digest_size
            pss = padding.PSS(mgf=padding.MGF1(digest.hash_algorithm()), salt_length=salt)
            signature = key.sign(to_sign, pss, digest.hash_algorithm())
            hash_id = {"algorithm": digest.oid}
            algorithm = {
                "algorithm": "rsassa_pss",
                "parameters": asn1_algos.RSASSAPSSParams(
                    {
                        "hash_algorithm": hash_id,
                        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": hash_id},
                        "salt_length": salt,
                    }
                ),
            }
        else:
            signature = key.sign(to_sign, padding.PKCS1v15(), digest.hash_algorithm())
            algorithm = {"algorithm": "rsassa_pkcs1v15", "parameters": core.Null()}
    else:
        signature = key.sign(to_sign, ec.ECDSA(digest.hash_algorithm()))
        algorithm = {"algorithm": _ECDSA_OIDS[digest]}
    parsed = asn1_certificate(signer.certificate)
    signer_info = asn1_cms.SignerInfo(
        {
            "version": "v1",
            "sid": asn1_cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=asn1_cms.IssuerAndSerialNumber(
                    {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
                ),
            ),
            "digest_algorithm": {"algorithm": digest.oid},
            "signed_attrs": signed_attrs,
            "signature_algorithm": algorithm,
            "signature": signature,
        }
    )
    signed_data = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest.oid}],
            "encap_content_info": {"content_type": "data"},
            "certificates": [parsed],
            "signer_infos": [signer_info],
        }
    )
    return bytes(
        asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    )
