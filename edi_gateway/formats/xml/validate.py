"""Validation of one detected XML document: its XSD, then every rule set that applies.

Which XSD and which rule sets apply comes from the catalogue; extra rule sets (a national
CIUS, a Peppol BIS profile) are added by configuration, per document type, as XSLT paths.
A schema the operator has not installed yet is a warning, never a rejection, so documents keep
flowing while the installation is pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from edi_gateway.formats.xml import xsd
from edi_gateway.formats.xml.catalogue import Catalogue, DocumentType, DocumentVersion
from edi_gateway.formats.xml.rules import RuleEngine
from edi_gateway.model import Finding, Location, Severity


@dataclass(frozen=True)
class ExtraRuleSet:
    """A rule set added by configuration: a name (used as finding source) and its XSLT."""

    name: str
    xslt: Path


class DocumentValidator:
    def __init__(
        self,
        catalogue: Catalogue,
        data_dir: Path | None,
        schemas: xsd.SchemaCache,
        rules: RuleEngine,
        extra_rules: Mapping[str, Sequence[ExtraRuleSet]] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.data_dir = data_dir
        self.schemas = schemas
        self.rules = rules
        self.extra_rules = dict(extra_rules or {})

    def schema_path(self, version: DocumentVersion) -> Path | None:
        return self.catalogue.resolve(version.xsd, self.data_dir)

    def rule_sets(
        self, doc_type: DocumentType, version: DocumentVersion
    ) -> list[tuple[str, Path | None]]:
        """(name, stylesheet or None when not installed) for every rule set that applies."""
        result: list[tuple[str, Path | None]] = []
        for name in version.rules:
            definition = self.catalogue.rule_sets.get(name)
            path = self.catalogue.resolve(definition.xslt, self.data_dir) if definition else None
            result.append((name, path))
        result.extend((extra.name, extra.xslt) for extra in self.extra_rules.get(doc_type.name, ()))
        return result

    def warm_up(self) -> list[Path]:
        """Compile, for the calling thread, every XSD and rule set that is available now.

        Call once per worker thread at start-up so the first documents are not the slow ones;
        returns the files compiled.
        """
        compiled: list[Path] = []
        for doc_type in self.catalogue.documents.values():
            for version in doc_type.versions:
                schema = self.schema_path(version)
                if schema is not None and schema not in compiled:
                    self.schemas.get(schema)
                    compiled.append(schema)
                for _, xslt in self.rule_sets(doc_type, version):
                    if xslt is not None and xslt not in compiled:
                        self.rules.warm_up(xslt)
                        compiled.append(xslt)
        return compiled

    def validate_schema(
        self, element: etree._Element, version: DocumentVersion, message: int | None = None
    ) -> list[Finding]:
        path = self.schema_path(version)
        if path is None:
            return [
                Finding(
                    code="SCHEMA-NOT-INSTALLED",
                    severity=Severity.WARNING,
                    text="schema not installed: the XSD for this document type "
                    f"({', '.join(version.xsd)}) is not in the data directory; "
                    "the document was not validated against it",
                    location=Location(message=message),
                    source=xsd.SOURCE,
                )
            ]
        return xsd.validate(self.schemas.get(path), element, message)

    def validate_rules(
        self,
        element: etree._Element,
        doc_type: DocumentType,
        version: DocumentVersion,
        message: int | None = None,
    ) -> list[Finding]:
        findings: list[Finding] = []
        for name, path in self.rule_sets(doc_type, version):
            if path is None:
                findings.append(
                    Finding(
                        code="RULES-NOT-INSTALLED",
                        severity=Severity.WARNING,
                        text=f"rule set {name} not installed: its business rules were not checked",
                        location=Location(message=message),
                        source=name,
                    )
                )
                continue
            findings.extend(self.rules.run(path, element, name, message))
        return findings

    def validate(
        self,
        element: etree._Element,
        doc_type: DocumentType,
        version: DocumentVersion,
        message: int | None = None,
    ) -> list[Finding]:
        return self.validate_schema(element, version, message) + self.validate_rules(
            element, doc_type, version, message
        )
