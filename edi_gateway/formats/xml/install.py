"""Installing schema sets the project may not redistribute (OASIS UBL, UN/CEFACT CII, CEN rules).

The operator hands over the official release (a folder or a zip, as published); we find the
tree inside it whose every file matches the SHA-256 sums the project keeps in
`schemas/xml/<release>.sha256`, and copy exactly those files to
`<data_dir>/schemas/<release>/`. Nothing else from the archive is copied, and a release with a
missing or altered file is refused as a whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edi_gateway.formats.xml.catalogue import DEFINITIONS_DIR, installed_dir


class InstallError(Exception):
    """The release could not be installed: unknown name, files missing or sums wrong."""


@dataclass(frozen=True)
class InstallResult:
    release: str
    target: Path
    files: int


def read_manifest(path: Path) -> dict[str, str]:
    """`sha256sum` format: '<hex>  <relative path>' per line."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise InstallError(f"{path}:{number}: expected '<sha256>  <path>', found {line!r}")
        entries[name] = digest.lower()
    return entries


Reader = Callable[[str], bytes | None]


def _folder_members(source: Path) -> tuple[list[str], Reader]:
    members = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]

    def read(name: str) -> bytes | None:
        path = source / name
        return path.read_bytes() if path.is_file() else None

    return members, read


def _zip_members(archive: zipfile.ZipFile) -> tuple[list[str], Reader]:
    members = [i.filename for i in archive.infolist() if not i.is_dir()]
    names = set(members)

    def read(name: str) -> bytes | None:
        return archive.read(name) if name in names else None

    return members, read


def _candidate_roots(members: list[str], anchor: str) -> list[str]:
    """Prefixes under which `anchor` appears: the possible roots of the release tree."""
    roots = []
    for member in members:
        if member == anchor:
            roots.append("")
        elif member.endswith("/" + anchor):
            roots.append(member[: -len(anchor)])
    return sorted(roots, key=len)


def _verified_root(manifest: dict[str, str], members: list[str], read: Reader) -> str:
    anchor = next(iter(manifest))
    roots = _candidate_roots(members, anchor)
    if not roots:
        raise InstallError(f"the source holds no file named {anchor!r}: is it the right release?")
    problems: list[str] = []
    for root in roots:
        bad = []
        for name, digest in manifest.items():
            data = read(root + name)
            if data is None:
                bad.append(f"missing {root + name}")
            elif hashlib.sha256(data).hexdigest() != digest:
                bad.append(f"checksum mismatch for {root + name}")
            if len(bad) > 3:
                break
        if not bad:
            return root
        problems.append(f"under {root or '.'!r}: " + "; ".join(bad))
    raise InstallError("no tree in the source matches the expected files: " + " | ".join(problems))


def install_schemas(
    release: str, source: Path, data_dir: Path, definitions_dir: Path = DEFINITIONS_DIR
) -> InstallResult:
    """Copy the verified files of `release` from `source` (folder or zip) into the data dir."""
    manifest_path = definitions_dir / f"{release}.sha256"
    if not manifest_path.is_file():
        known = sorted(p.name.removesuffix(".sha256") for p in definitions_dir.glob("*.sha256"))
        raise InstallError(f"unknown release {release!r}; known: {', '.join(known)}")
    manifest = read_manifest(manifest_path)
    if not manifest:
        raise InstallError(f"{manifest_path} lists no files")
    for name in manifest:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts:
            raise InstallError(f"{manifest_path}: unsafe path {name!r}")
    source = Path(source)
    if source.is_dir():
        members, read = _folder_members(source)
        return _copy(release, manifest, members, read, data_dir)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            members, read = _zip_members(archive)
            return _copy(release, manifest, members, read, data_dir)
    raise InstallError(f"{source} is neither a folder nor a zip archive")


def _copy(
    release: str, manifest: dict[str, str], members: list[str], read: Reader, data_dir: Path
) -> InstallResult:
    root = _verified_root(manifest, members, read)
    target = installed_dir(data_dir, release)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build the tree next to the target and swap it in, so a half-copied set is never used.
    staging = Path(tempfile.mkdtemp(prefix=f".{release}-", dir=target.parent))
    try:
        for name in manifest:
            data = read(root + name)
            assert data is not None  # verified above
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return InstallResult(release, target, len(manifest))
