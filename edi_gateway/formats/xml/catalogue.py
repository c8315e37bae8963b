"""The XML document catalogue: root element and namespace → document type, XSD, rule sets, mapping.

The catalogue is data (`schemas/xml/catalogue.toml`); this module reads it and resolves the
locations it names against the packages that ship definitions and the operator's data
directory, where `install_schemas` puts the schema sets that are not ours to redistribute.
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edi_gateway.model import DocumentKind
from edi_gateway.resources import data_root

DEFINITIONS_DIR = data_root() / "schemas" / "xml"
CATALOGUE_FILE = DEFINITIONS_DIR / "catalogue.toml"


class CatalogueError(ValueError):
    """The catalogue file is malformed (a deployment defect, not a partner's)."""


@dataclass(frozen=True)
class DocumentVersion:
    version: str
    xsd: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    mapping: str | None = None


@dataclass(frozen=True)
class DocumentType:
    name: str
    syntax: str  # "ubl" or "cii": also the Envelope.standard of such a document
    namespace: str
    root: str
    kind: DocumentKind | None
    versions: tuple[DocumentVersion, ...]

    def version(self, requested: str | None) -> DocumentVersion | None:
        """The entry for `requested` (the first one when None); None when unknown."""
        if requested is None:
            return self.versions[0]
        return next((v for v in self.versions if v.version == requested), None)

    def message_type(self, version: str) -> str:
        return f"{self.namespace}::{self.root}::{version}"


@dataclass(frozen=True)
class RuleSetDef:
    name: str
    title: str
    xslt: tuple[str, ...]


@dataclass
class Catalogue:
    documents: dict[tuple[str, str], DocumentType]
    rule_sets: dict[str, RuleSetDef]
    packages: dict[str, str] = field(default_factory=dict)
    definitions_dir: Path = DEFINITIONS_DIR

    @classmethod
    def load(cls, path: Path = CATALOGUE_FILE) -> Catalogue:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        try:
            documents = {}
            for entry in raw.get("document", []):
                kind = entry.get("kind")
                doc = DocumentType(
                    name=entry["name"],
                    syntax=entry["syntax"],
                    namespace=entry["namespace"],
                    root=entry["root"],
                    kind=DocumentKind(kind) if kind else None,
                    versions=tuple(
                        DocumentVersion(
                            version=v["version"],
                            xsd=tuple(v.get("xsd", ())),
                            rules=tuple(v.get("rules", ())),
                            mapping=v.get("mapping"),
                        )
                        for v in entry["version"]
                    ),
                )
                documents[(doc.namespace, doc.root)] = doc
            rule_sets = {
                name: RuleSetDef(name, spec.get("title", name), tuple(spec["xslt"]))
                for name, spec in raw.get("rules", {}).items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogueError(f"{path}: malformed catalogue entry: {exc!r}") from exc
        return cls(documents, rule_sets, dict(raw.get("packages", {})), path.parent)

    def lookup(self, namespace: str | None, root: str) -> DocumentType | None:
        return self.documents.get((namespace or "", root))

    def installable_sets(self) -> list[str]:
        return sorted(p.name.removesuffix(".sha256") for p in self.definitions_dir.glob("*.sha256"))

    def manifest(self, release: str) -> Path:
        return self.definitions_dir / f"{release}.sha256"

    def resolve(self, candidates: tuple[str, ...], data_dir: Path | None) -> Path | None:
        """The first candidate location that exists, or None (not installed)."""
        for location in candidates:
            path = self._locate(location, data_dir)
            if path is not None and path.is_file():
                return path
        return None

    def _locate(self, location: str, data_dir: Path | None) -> Path | None:
        origin, sep, relative = location.partition(":")
        if not sep:
            raise CatalogueError(f"location {location!r} has no '<origin>:' prefix")
        if origin in self.packages:
            spec = importlib.util.find_spec(self.packages[origin])
            if spec is None or not spec.submodule_search_locations:
                return None
            return Path(next(iter(spec.submodule_search_locations))) / relative
        if data_dir is None:
            return None
        return installed_dir(data_dir, origin) / relative


def installed_dir(data_dir: Path, release: str) -> Path:
    return data_dir / "schemas" / release
