"""The `[as2]` section of gateway.toml: our AS2 station and its listener.

Kept free of the rest of the gateway (only pydantic), so `config.py` can embed it as
`as2: As2Settings | None = None` without an import cycle.

```toml
[as2]
enabled = true
host = "0.0.0.0"
port = 4080
as2_id = "MOE-GATEWAY"
# our key pairs, relative to the data dir; the first signs and is the one partners encrypt
# to, both decrypt (rollover)
keys = [{ key = "as2/key.pem", certificate = "as2/cert.pem" }]
public_url = "https://as2.example.org:4080/as2"  # where partners send (and async MDNs go)
```
"""

from __future__ import annotations

from edi_gateway.channel_settings import DEFAULT_KEYS, As2KeyFiles, As2Settings

__all__ = ["DEFAULT_KEYS", "As2KeyFiles", "As2Settings"]
