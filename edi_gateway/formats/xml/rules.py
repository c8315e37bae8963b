"""Business rules: compiled Schematron (XSLT 2.0) run with saxonche, SVRL read back as findings.

Compiling the EN 16931 stylesheet takes about half a second and running it some tens of
milliseconds, so a `RuleEngine` compiles each stylesheet once and reuses it.

Thread safety: saxonche objects (the processor aside) are not documented as safe to share
between threads, and an executable carries per-run state (parameters, messages). The engine
therefore keeps one XSLT processor and one compiled executable per (thread, stylesheet),
created on first use in that thread; the `PySaxonProcessor` itself is created once per engine
and shared. Give each worker process its own engine (the app builds one per `XmlFormat`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

from edi_gateway.model import Finding, Location, Severity

SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
_SVRL = {"svrl": SVRL_NS}

# A broken 5 MB document can fail one rule per line: past this many, one finding says so.
MAX_FINDINGS = 1000

_FLAG_SEVERITY = {
    "fatal": Severity.FATAL,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "information": Severity.INFO,
    "info": Severity.INFO,
}


class RuleSetError(Exception):
    """A rule set's stylesheet cannot be compiled (a deployment defect)."""


class RuleEngine:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processor: Any = None
        self._local = threading.local()

    def _saxon(self) -> Any:
        with self._lock:
            if self._processor is None:
                self._processor = PySaxonProcessor(license=False)
            return self._processor

    def _executable(self, xslt: Path) -> Any:
        compiled: dict[Path, Any] | None = getattr(self._local, "compiled", None)
        if compiled is None:
            compiled = self._local.compiled = {}
        executable = compiled.get(xslt)
        if executable is None:
            processor = self._saxon().new_xslt30_processor()
            try:
                executable = processor.compile_stylesheet(stylesheet_file=str(xslt))
            except PySaxonApiError as exc:
                raise RuleSetError(f"cannot compile rule set {xslt}: {exc}") from exc
            if executable is None:
                raise RuleSetError(f"cannot compile rule set {xslt}")
            compiled[xslt] = executable
        return executable

    def warm_up(self, xslt: Path) -> None:
        """Compile `xslt` for the calling thread now rather than on the first document."""
        self._executable(xslt)

    def run(
        self, xslt: Path, document: etree._Element, rule_set: str, message: int | None = None
    ) -> list[Finding]:
        """Run one rule set on `document`; each failed assertion becomes a finding."""
        executable = self._executable(xslt)
        text = etree.tostring(document, encoding="unicode")
        try:
            node = self._saxon().parse_xml(xml_text=text)
            svrl = executable.transform_to_string(xdm_node=node)
        except PySaxonApiError as exc:
            return [
                Finding(
                    code="RULES",
                    severity=Severity.ERROR,
                    text=f"rule set {rule_set} could not run on this document: {exc}",
                    location=Location(message=message),
                    source=rule_set,
                )
            ]
        return svrl_findings(svrl.encode("utf-8") if svrl else b"", rule_set, message)


def svrl_findings(svrl: bytes, rule_set: str, message: int | None = None) -> list[Finding]:
    """Failed assertions and successful reports of an SVRL report, as findings."""
    if not svrl:
        return [
            Finding(code="RULES", text=f"rule set {rule_set} produced no report", source=rule_set)
        ]
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
    )
    report = etree.fromstring(svrl, parser)
    findings: list[Finding] = []
    for item in report.iter(f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report"):
        if len(findings) == MAX_FINDINGS:
            findings.append(
                Finding(
                    code="RULES",
                    severity=Severity.ERROR,
                    text=f"more than {MAX_FINDINGS} rule findings; the rest are not listed",
                    location=Location(message=message),
                    source=rule_set,
                )
            )
            break
        findings.append(_finding(item, rule_set, message))
    return findings


def _finding(item: etree._Element, rule_set: str, message: int | None) -> Finding:
    flag = (item.get("flag") or "error").lower()
    text_node = item.find("svrl:text", _SVRL)
    text = " ".join("".join(text_node.itertext()).split()) if text_node is not None else ""
    return Finding(
        code=item.get("id") or "RULE",
        severity=_FLAG_SEVERITY.get(flag, Severity.ERROR),
        text=text or f"assertion failed: {item.get('test')}",
        location=Location(message=message, xpath=item.get("location")),
        source=rule_set,
    )
