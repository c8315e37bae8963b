"""CMS EnvelopedData (CBC) and AuthEnvelopedData (GCM): decrypt as a stream, encrypt for a partner.

Decryption reads the envelope with the forward-only BER reader and pushes the encrypted content
through the cipher chunk by chunk, so plaintext goes straight to the caller's sink. GCM is the
exception that proves the rule: its authenticated attributes follow the content, so the
ciphertext is first spooled (to disk past a threshold), then decrypted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher as CryptoCipher
from cryptography.hazmat.primitives.ciphers import CipherAlgorithm, algorithms, modes

from edi_gateway.channels.as2.algorithms import (
    OID_AUTH_ENVELOPED_DATA,
    OID_ENVELOPED_DATA,
    OID_RSA_ENCRYPTION,
    OID_RSAES_OAEP,
    Cipher,
    CipherMode,
    Digest,
    KeyTransport,
)
from edi_gateway.channels.as2.ber import (
    CONTEXT,
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    UNIVERSAL,
    BerReader,
    Header,
    drain,
    next_child,
    read_oid,
)
from edi_gateway.channels.as2.errors import DecryptionFailed, MalformedMessage, UnsupportedAlgorithm
from edi_gateway.channels.as2.keys import KeyPair, asn1_certificate, ordered_for

SPOOL_THRESHOLD = 4 << 20
GCM_TAG_SIZE = 16


class GcmParameters(core.Sequence):
    """RFC 5084 GCMParameters."""

    _fields = [  # noqa: RUF012 (asn1crypto's declaration style)
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


@dataclass(frozen=True)
class EnvelopeFacts:
    """What a decrypted envelope used; `opened_with` is the certificate of the key that worked."""

    cipher: Cipher
    key_transport: KeyTransport
    opened_with: x509.Certificate


def decrypt(source: BinaryIO, keys: Sequence[KeyPair], sink: IO[bytes]) -> EnvelopeFacts:
    """Decrypt the CMS ContentInfo read from `source`, writing the plaintext to `sink`.

    Raises DecryptionFailed when none of `keys` opens it or the content does not decrypt,
    UnsupportedAlgorithm / MalformedMessage for structures we cannot read.
    """
    if not keys:
        raise DecryptionFailed("no decryption key is configured")
    reader = BerReader(source)
    outer = reader.expect(UNIVERSAL, TAG_SEQUENCE, "ContentInfo")
    items = reader.children(outer)
    content_type = read_oid(reader, next_child(items, "contentType"))
    if content_type not in (OID_ENVELOPED_DATA, OID_AUTH_ENVELOPED_DATA):
        raise MalformedMessage(f"expected enveloped data, found content type {content_type}")
    wrapper = next_child(items, "content")
    if not wrapper.is_(CONTEXT, 0):
        raise MalformedMessage("ContentInfo content is not [0]")
    inside = reader.children(wrapper)
    envelope = next_child(inside, "EnvelopedData")
    fields = reader.children(envelope)
    reader.read_element(next_child(fields, "version"))
    header = next_child(fields, "recipientInfos")
    if header.is_(CONTEXT, 0):  # originatorInfo
        reader.read_element(header)
        header = next_child(fields, "recipientInfos")
    recipient_infos = asn1_cms.RecipientInfos.load(reader.read_element(header))
    info_header = next_child(fields, "encryptedContentInfo")
    info_fields = reader.children(info_header)
    read_oid(reader, next_child(info_fields, "contentType"))
    algorithm = asn1_algos.EncryptionAlgorithm.load(
        reader.read_element(next_child(info_fields, "contentEncryptionAlgorithm"))
    )
    cipher = Cipher.from_oid(algorithm["algorithm"].dotted)
    content_key, transport, opened_with = _unwrap_key(recipient_infos, keys, cipher)
    content = next(info_fields, None)
    if content is None or not content.is_(CONTEXT, 0):
        raise MalformedMessage("the envelope has no encrypted content (detached is not supported)")
    if cipher.mode is CipherMode.CBC:
        iv = bytes(algorithm["parameters"].native)
        _decrypt_cbc(cipher, content_key, iv, reader.iter_octets(content), sink)
        drain(reader, info_fields)
        drain(reader, fields)
    else:
        _decrypt_gcm(reader, algorithm, content_key, content, info_fields, fields, sink)
    drain(reader, inside)
    drain(reader, items)
    return EnvelopeFacts(cipher, transport, opened_with)


def _unwrap_key(
    infos: asn1_cms.RecipientInfos, keys: Sequence[KeyPair], cipher: Cipher
) -> tuple[bytes, KeyTransport, x509.Certificate]:
    seen_transport = False
    for info in infos:
        if info.name != "ktri":
            continue
        seen_transport = True
        ktri = info.chosen
        transport, rsa_padding = _key_transport(ktri["key_encryption_algorithm"])
        encrypted_key = bytes(ktri["encrypted_key"].native)
        for pair in ordered_for(ktri["rid"], keys):
            if not isinstance(pair.private_key, rsa.RSAPrivateKey):
                continue
            try:
                content_key = pair.private_key.decrypt(encrypted_key, rsa_padding)
            except ValueError:
                continue
            if len(content_key) == cipher.key_size:
                return content_key, transport, pair.certificate
    if not seen_transport:
        raise UnsupportedAlgorithm("the envelope has no key-transport (RSA) recipient")
    raise DecryptionFailed("none of our keys opens the envelope")


def _key_transport(
    algorithm: asn1_cms.KeyEncryptionAlgorithm,
) -> tuple[KeyTransport, padding.AsymmetricPadding]:
    oid = algorithm["algorithm"].dotted
    if oid == OID_RSA_ENCRYPTION:
        return KeyTransport.RSA_PKCS1V15, padding.PKCS1v15()
    if oid == OID_RSAES_OAEP:
        params = algorithm["parameters"]
        digest = Digest.from_oid(params["hash_algorithm"]["algorithm"].dotted)
        mgf_digest = Digest.from_oid(params["mask_gen_algorithm"]["parameters"]["algorithm"].dotted)
        label = params["p_source_algorithm"]["parameters"].native or None
        return KeyTransport.RSA_OAEP, padding.OAEP(
            mgf=padding.MGF1(mgf_digest.hash_algorithm()),
            algorithm=digest.hash_algorithm(),
            label=label,
        )
    raise UnsupportedAlgorithm(f"unsupported key transport {oid}")


def _block_cipher(cipher: Cipher, key: bytes) -> CipherAlgorithm:
    if cipher is Cipher.TRIPLE_DES_CBC:
        return TripleDES(key)
    return algorithms.AES(key)


def _decrypt_cbc(
    cipher: Cipher, key: bytes, iv: bytes, chunks: Iterable[bytes], sink: IO[bytes]
) -> None:
    decryptor = CryptoCipher(_block_cipher(cipher, key), modes.CBC(iv)).decryptor()
    unpadder = sym_padding.PKCS7(cipher.block_size * 8).unpadder()
    for chunk in chunks:
        plain = unpadder.update(decryptor.update(chunk))
        if plain:
            sink.write(plain)
    try:
        sink.write(unpadder.update(decryptor.finalize()) + unpadder.finalize())
    except ValueError as exc:
        raise DecryptionFailed("the content does not decrypt (bad padding or length)") from exc


def _decrypt_gcm(
    reader: BerReader,
    algorithm: asn1_algos.EncryptionAlgorithm,
    key: bytes,
    content: Header,
    info_fields: Iterator[Header],
    fields: Iterator[Header],
    sink: IO[bytes],
) -> None:
    params = GcmParameters.load(algorithm["parameters"].dump())
    nonce = bytes(params["aes_nonce"].native)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_THRESHOLD) as ciphertext:
        for chunk in reader.iter_octets(content):
            ciphertext.write(chunk)
        drain(reader, info_fields)
        aad = b""
        header = next_child(fields, "mac")
        if header.is_(CONTEXT, 1):
            attributes = reader.read_element(header)
            aad = b"\x31" + attributes[1:]  # MAC covers the attributes' DER with the SET tag
            header = next_child(fields, "mac")
        if not header.is_(UNIVERSAL, TAG_OCTET_STRING):
            raise MalformedMessage("AuthEnvelopedData has no mac")
        tag = b"".join(reader.iter_octets(header))
        drain(reader, fields)
        decryptor = CryptoCipher(
            algorithms.AES(key), modes.GCM(nonce, tag, min_tag_length=len(tag))
        ).decryptor()
        if aad:
            decryptor.authenticate_additional_data(aad)
        ciphertext.seek(0)
        while chunk := ciphertext.read(1 << 16):
            sink.write(decryptor.update(chunk))
        try:
            sink.write(decryptor.finalize())
        except Exception as exc:  # cryptography raises InvalidTag
            raise DecryptionFailed("the GCM authentication tag does not match") from exc


def encrypt(
    content: bytes,
    recipient: x509.Certificate,
    cipher: Cipher = Cipher.AES256_CBC,
    key_transport: KeyTransport = KeyTransport.RSA_PKCS1V15,
) -> bytes:
    """A DER ContentInfo enveloping `content` for `recipient` (AuthEnvelopedData for GCM)."""
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise UnsupportedAlgorithm("only RSA recipient certificates are supported")
    content_key = os.urandom(cipher.key_size)
    recipient_info = _recipient_info(recipient, public_key, content_key, key_transport)
    if cipher.mode is CipherMode.CBC:
        iv = os.urandom(cipher.block_size)
        padder = sym_padding.PKCS7(cipher.block_size * 8).padder()
        encryptor = CryptoCipher(_block_cipher(cipher, content_key), modes.CBC(iv)).encryptor()
        padded = padder.update(content) + padder.finalize()
        encrypted = encryptor.update(padded) + encryptor.finalize()
        info = asn1_cms.EncryptedContentInfo(
            {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": cipher.oid,
                    "parameters": core.OctetString(iv),
                },
                "encrypted_content": encrypted,
            }
        )
        enveloped = asn1_cms.EnvelopedData(
            {"version": "v0", "recipient_infos": [recipient_info], "encrypted_content_info": info}
        )
        return bytes(
            asn1_cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()
        )
    nonce = os.urandom(12)
    encryptor = CryptoCipher(algorithms.AES(content_key), modes.GCM(nonce)).encryptor()
    encrypted = encryptor.update(content) + encryptor.finalize()
    algorithm = asn1_algos.EncryptionAlgorithm(
        {
            "algorithm": cipher.oid,
            "parameters": GcmParameters({"aes_nonce": nonce, "aes_icvlen": GCM_TAG_SIZE}),
        }
    )
    info = asn1_cms.EncryptedContentInfo(
        {
            "content_type": "data",
            "content_encryption_algorithm": algorithm,
            "encrypted_content": encrypted,
        }
    )
    auth_enveloped = asn1_cms.AuthEnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [recipient_info],
            "auth_encrypted_content_info": info,
            "mac": encryptor.tag,
        }
    )
    return bytes(
        asn1_cms.ContentInfo(
            {"content_type": "authenticated_enveloped_data", "content": auth_enveloped}
        ).dump()
    )


def _recipient_info(
    recipient: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    content_key: bytes,
    key_transport: KeyTransport,
) -> asn1_cms.RecipientInfo:
    parsed = asn1_certificate(recipient)
    if key_transport is KeyTransport.RSA_OAEP:
        rsa_padding: padding.AsymmetricPadding = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        algorithm = {
            "algorithm": "rsaes_oaep",
            "parameters": asn1_algos.RSAESOAEPParams(
                {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": "sha256"},
                    },
                }
            ),
        }
    else:
        rsa_padding = padding.PKCS1v15()
        algorithm = {"algorithm": "rsaes_pkcs1v15", "parameters": core.Null()}
    return asn1_cms.RecipientInfo(
        name="ktri",
        value=asn1_cms.KeyTransRecipientInfo(
            {
                "version": "v0",
                "rid": asn1_cms.RecipientIdentifier(
                    name="issuer_and_serial_number",
                    value=asn1_cms.IssuerAndSerialNumber(
                        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
                    ),
                ),
                "key_encryption_algorithm": algorithm,
                "encrypted_key": public_key.encrypt(content_key, rsa_padding),
            }
        ),
    )
