"""Detached CMS SignedData: verify a partner's signature, produce our own.

`cryptography` can sign CMS but not verify it, so the SignedData is read with asn1crypto and the
signature checked with cryptography's public-key primitives. The signed content is hashed from
an iterable of chunks, so a large signed part never has to be in memory.

Signing uses cryptography's PKCS7 builder; SHA-1 (which the builder refuses) and content
given as chunks go through `sign_stream`, which assembles the SignedData with asn1crypto.
Tests check both against `openssl cms -verify` and our verifier.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs7

from edi_gateway.channels.as2.algorithms import (
    ECDSA_SIGNATURE_OIDS,
    OID_RSASSA_PSS,
    OID_SIGNED_DATA,
    RSA_PKCS1_SIGNATURE_OIDS,
    Digest,
    SignaturePadding,
)
from edi_gateway.channels.as2.ber import (
    CONTEXT,
    TAG_SEQUENCE,
    UNIVERSAL,
    BerReader,
    drain,
    next_child,
    read_oid,
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
        if not len(signed_data["signer_infos"]):
            raise MalformedMessage("the SignedData has no signer")
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedMessage(f"unreadable CMS signature: {exc}") from exc
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
    try:
        return _verify_detached(signature_der, content, trusted, at, trust_embedded)
    except (ValueError, TypeError, KeyError) as exc:  # asn1crypto parses lazily
        raise MalformedMessage(f"unreadable CMS signature: {exc}") from exc


def _verify_detached(
    signature_der: bytes,
    content: Iterable[bytes],
    trusted: Sequence[x509.Certificate],
    at: dt.datetime,
    trust_embedded: bool,
) -> SignatureFacts:
    signed_data = parse_signed_data(signature_der)
    signer = signed_data["signer_infos"][0]
    digest = Digest.from_oid(signer["digest_algorithm"]["algorithm"].dotted)
    hasher = digest.new()
    for chunk in content:
        hasher.update(chunk)
    certificates = signed_data["certificates"]
    return _verify_signer(signer, certificates, hasher.finalize(), trusted, at, trust_embedded)


def verify_opaque(
    source: BinaryIO,
    sink: IO[bytes],
    trusted: Sequence[x509.Certificate],
    at: dt.datetime,
    *,
    trust_embedded: bool = False,
) -> SignatureFacts:
    """Verify an encapsulating ("opaque", application/pkcs7-mime signed-data) SignedData read
    from `source`, writing the signed content to `sink` while it is hashed. Same trust rules
    and exceptions as `verify_detached`; on failure the sink holds unverified bytes."""
    try:
        return _verify_opaque(source, sink, trusted, at, trust_embedded)
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedMessage(f"unreadable CMS signature: {exc}") from exc


def _verify_opaque(
    source: BinaryIO,
    sink: IO[bytes],
    trusted: Sequence[x509.Certificate],
    at: dt.datetime,
    trust_embedded: bool,
) -> SignatureFacts:
    reader = BerReader(source)
    items = reader.children(reader.expect(UNIVERSAL, TAG_SEQUENCE, "ContentInfo"))
    if read_oid(reader, next_child(items, "contentType")) != OID_SIGNED_DATA:
        raise MalformedMessage("expected CMS signed data")
    inside = reader.children(next_child(items, "content"))
    fields = reader.children(next_child(inside, "SignedData"))
    reader.read_element(next_child(fields, "version"))
    declared = asn1_cms.DigestAlgorithms.load(
        reader.read_element(next_child(fields, "digestAlgorithms"))
    )
    hashers = {}
    for algorithm in declared:
        with contextlib.suppress(UnsupportedAlgorithm):
            digest = Digest.from_oid(algorithm["algorithm"].dotted)
            hashers[digest] = digest.new()
    encapsulated = reader.children(next_child(fields, "encapContentInfo"))
    read_oid(reader, next_child(encapsulated, "eContentType"))
    explicit = next_child(encapsulated, "eContent")
    if not explicit.is_(CONTEXT, 0):
        raise MalformedMessage("the SignedData does not encapsulate its content")
    wrapped = reader.children(explicit)
    for chunk in reader.iter_octets(next_child(wrapped, "eContent octets")):
        sink.write(chunk)
        for hasher in hashers.values():
            hasher.update(chunk)
    drain(reader, wrapped)
    drain(reader, encapsulated)
    certificates = None
    header = next_child(fields, "signerInfos")
    while header.tag_class == CONTEXT:  # [0] certificates, [1] crls
        element = reader.read_element(header)
        if header.number == 0:
            certificates = asn1_cms.CertificateSet.load(b"\x31" + element[1:])
        header = next_child(fields, "signerInfos")
    signers = asn1_cms.SignerInfos.load(reader.read_element(header))
    drain(reader, fields)
    drain(reader, inside)
    drain(reader, items)
    if not len(signers):
        raise MalformedMessage("the SignedData has no signer")
    signer = signers[0]
    digest = Digest.from_oid(signer["digest_algorithm"]["algorithm"].dotted)
    if digest not in hashers:
        raise MalformedMessage(f"signer uses {digest.micalg}, not among the digest algorithms")
    content_digest = hashers[digest].finalize()
    return _verify_signer(signer, certificates, content_digest, trusted, at, trust_embedded)


def _verify_signer(
    signer: asn1_cms.SignerInfo,
    certificates: asn1_cms.CertificateSet | None,
    content_digest: bytes,
    trusted: Sequence[x509.Certificate],
    at: dt.datetime,
    trust_embedded: bool,
) -> SignatureFacts:
    digest = Digest.from_oid(signer["digest_algorithm"]["algorithm"].dotted)
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
    if trust_embedded:
        candidates += _embedded_signers(certificates, sid)
    algorithm = signer["signature_algorithm"]
    signature = bytes(signer["signature"].native)
    for cert in candidates:
        verified, used = _verify(cert, algorithm, digest, signature, signed_bytes, prehashed)
        if verified:
            check_valid(cert, at)
            return SignatureFacts(digest, used, cert, content_digest, expiry_warning(cert, at))
    embedded = _embedded_signers(certificates, sid)
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


def _embedded_signers(
    certificates: asn1_cms.CertificateSet | None, sid: asn1_cms.SignerIdentifier
) -> list[x509.Certificate]:
    """Certificates carried in the SignedData that the signer identifier names."""
    found = []
    for choice in certificates or []:
        if choice.name == "certificate":
            cert = x509.load_der_x509_certificate(choice.chosen.dump())
            if identifies(sid, cert):
                found.append(cert)
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
    content: bytes,
    signer: KeyPair,
    digest: Digest = Digest.SHA256,
    rsa_padding: SignaturePadding = SignaturePadding.PKCS1V15,
) -> bytes:
    """A DER ContentInfo(SignedData) signing `content` (exact bytes), detached.

    cryptography's PKCS7 builder does the work, except for SHA-1, which it refuses and AS2
    partners still ask for: that goes through `sign_stream`.
    """
    if digest is Digest.SHA1:
        return sign_stream([content], signer, digest, rsa_padding)
    scheme = _rsa_padding(signer, digest, rsa_padding)
    hash_algorithm = cast(pkcs7.PKCS7HashTypes, digest.hash_algorithm())
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content)
    if scheme is None:
        builder = builder.add_signer(signer.certificate, signer.private_key, hash_algorithm)
    else:
        builder = builder.add_signer(
            signer.certificate, signer.private_key, hash_algorithm, rsa_padding=scheme
        )
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(serialization.Encoding.DER, options)


def _rsa_padding(
    signer: KeyPair, digest: Digest, scheme: SignaturePadding
) -> padding.PSS | padding.PKCS1v15 | None:
    if not isinstance(signer.private_key, rsa.RSAPrivateKey):
        return None
    if scheme is SignaturePadding.PSS:
        salt = digest.hash_algorithm().digest_size
        return padding.PSS(mgf=padding.MGF1(digest.hash_algorithm()), salt_length=salt)
    return padding.PKCS1v15()


def sign_stream(
    content: Iterable[bytes],
    signer: KeyPair,
    digest: Digest = Digest.SHA256,
    rsa_padding: SignaturePadding = SignaturePadding.PKCS1V15,
    at: dt.datetime | None = None,
) -> bytes:
    """Like `sign_detached`, for content given as chunks (any size, any digest incl. SHA-1).

    The SignedData is assembled with asn1crypto: signed attributes content-type, signing-time
    and message-digest, the signer's certificate, issuer-and-serial signer identifier.
    """
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
