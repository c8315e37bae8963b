"""The official EN 16931 unit tests (VEFA testSets), reproduced case by case.

Each `<test>` holds one document and says which rules must fire (`<error>`, `<warning>`) and
which must not (`<success>`). UBL: 1,133 expectations over Invoice-unit-UBL and
CreditNote-unit-UBL; CII: test/cii.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from edi_gateway.formats.xml.catalogue import Catalogue
from edi_gateway.formats.xml.install import install_schemas
from edi_gateway.formats.xml.rules import RuleEngine
from edi_gateway.model import Severity
from tests.support import SHARED

VEFA = "{http://difi.no/xsd/vefa/validator/1.0}"
UNIT_DIR = SHARED / "xml" / "en16931" / "test"


@dataclass(frozen=True)
class Case:
    file: Path
    index: int
    document: etree._Element
    expectations: tuple[tuple[str, str], ...]  # (error|warning|success, rule id)

    @property
    def id(self) -> str:
        return f"{self.file.parent.name}/{self.file.stem}#{self.index}"


def load_cases(folder: Path) -> list[Case]:
    cases = []
    for file in sorted(folder.glob("*.xml")):
        root = etree.parse(str(file)).getroot()
        for index, test in enumerate(root.iterfind(f"{VEFA}test"), 1):
            assertion = test.find(f"{VEFA}assert")
            assert assertion is not None
            expectations = tuple(
                (etree.QName(e).localname, (e.text or "").strip())
                for e in assertion
                if isinstance(e.tag, str)
                and etree.QName(e).localname in ("error", "warning", "success")
            )
            documents = [c for c in test if isinstance(c.tag, str) and not c.tag.startswith(VEFA)]
            assert len(documents) == 1, f"{file} test {index}"
            cases.append(Case(file, index, documents[0], expectations))
    return cases


UBL_CASES = load_cases(UNIT_DIR / "Invoice-unit-UBL") + load_cases(UNIT_DIR / "CreditNote-unit-UBL")
CII_CASES = load_cases(UNIT_DIR / "cii")


def test_the_ubl_suite_has_its_1133_expectations() -> None:
    assert sum(len(c.expectations) for c in UBL_CASES) == 1133


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine()


@pytest.fixture(scope="module")
def stylesheets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    catalogue = Catalogue.load()
    packaged = catalogue.resolve(catalogue.rule_sets["en16931-ubl"].xslt, None)
    data_dir = tmp_path_factory.mktemp("data")
    install_schemas("en16931", SHARED / "xml" / "en16931", data_dir)
    cii = catalogue.resolve(catalogue.rule_sets["en16931-cii"].xslt, data_dir)
    assert packaged is not None and "facturx" in str(packaged)
    assert cii is not None
    return {"ubl": packaged, "cii": cii}


def check(case: Case, engine: RuleEngine, xslt: Path, rule_set: str) -> None:
    findings = engine.run(xslt, case.document, rule_set)
    fired = {(f.code, f.severity) for f in findings}
    fired_ids = {f.code for f in findings}
    for expected, rule in case.expectations:
        if expected == "success":
            assert rule not in fired_ids, f"{rule} fired but must not: {findings}"
        elif expected == "error":
            assert (rule, Severity.FATAL) in fired, f"{rule} must fire as fatal; fired {fired}"
        else:
            assert (rule, Severity.WARNING) in fired, f"{rule} must fire as warning; fired {fired}"


@pytest.mark.parametrize("case", UBL_CASES, ids=lambda c: c.id)
def test_ubl_unit(case: Case, engine: RuleEngine, stylesheets: dict[str, Path]) -> None:
    check(case, engine, stylesheets["ubl"], "en16931-ubl")


@pytest.mark.parametrize("case", CII_CASES, ids=lambda c: c.id)
def test_cii_unit(case: Case, engine: RuleEngine, stylesheets: dict[str, Path]) -> None:
    check(case, engine, stylesheets["cii"], "en16931-cii")
