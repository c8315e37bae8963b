"""Our own AS2 certificates (the `[as2] keys` of gateway.toml) and when they expire. Only the
certificates are read; a PKCS#12 bundle is opened with the password its `password_env`
names, and the private key in it is dropped at once."""

from __future__ import annotations

import os

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from edi_gateway.config import Config
from edi_gateway.web.dashboard.overview import Certificate

OURS = "(gateway)"  # shown in place of a partner id


def station_certificates(config: Config) -> list[Certificate]:
    settings = config.settings.as2
    if settings is None:
        return []
    out = []
    for files in settings.keys:
        name = files.certificate or files.pkcs12
        if name is None:
            continue
        try:
            data = (config.data_dir / name).read_bytes()
            if files.certificate:
                cert = (
                    x509.load_pem_x509_certificate(data)
                    if b"-----BEGIN" in data
                    else x509.load_der_x509_certificate(data)
                )
            else:
                secret = os.environ.get(files.password_env) if files.password_env else None
                _key, found, _chain = pkcs12.load_key_and_certificates(
                    data, secret.encode() if secret is not None else None
                )
                if found is None:
                    raise ValueError("no certificate in the bundle")
                cert = found
            out.append(Certificate(OURS, name, cert.not_valid_after_utc, None))
        except (OSError, ValueError, TypeError) as exc:
            out.append(Certificate(OURS, name, None, type(exc).__name__))
    return out
