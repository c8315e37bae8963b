"""Where the gateway's own data lives: the `schemas/` and `mappings/` trees.

A source checkout (and the editable install that `make` does) has them next to the package. A
wheel installs them under `<prefix>/share/edi-gateway/` (the data-files table in
pyproject.toml), since package data cannot reach directories outside the package.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """The directory holding `schemas/` and `mappings/`."""
    if (_SOURCE_ROOT / "schemas").is_dir():
        return _SOURCE_ROOT
    return Path(sysconfig.get_path("data")) / "share" / "edi-gateway"
