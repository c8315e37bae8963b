"""Hostile XML is refused with a finding: no entity expansion, no DTD, no network, bounded size.

A loopback HTTP server records every request; the tests that point a document at it assert
that nothing was ever fetched, through the whole path (parse, XSD, business rules, mapping).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edi_gateway.formats.base import Limits
from edi_gateway.formats.xml import XmlFormat, XmlLimits, XmlSettings, install_schemas
from edi_gateway.formats.xml.parse import has_doctype, parse_bytes
from edi_gateway.model import Finding
from tests.support import SHARED

UBL_NS = (
    'xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
    'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
)
EXAMPLE = SHARED / "xml" / "en16931" / "ubl" / "examples" / "ubl-tc434-example1.xml"


class Recorder(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        body = b'<!ENTITY leak "leaked">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.seen  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="module")
def fmt(tmp_path_factory: pytest.TempPathFactory) -> XmlFormat:
    data_dir = tmp_path_factory.mktemp("data")
    install_schemas("ubl-2.1", SHARED / "xml" / "ubl-2.1", data_dir)
    return XmlFormat(
        XmlSettings(data_dir=data_dir, limits=XmlLimits(max_bytes=2_000_000, max_depth=64))
    )


def open_all(fmt: XmlFormat, payload: bytes, limits: Limits | None = None) -> list[Finding]:
    """Everything the format says about a payload: envelope, validation and translation."""
    reader = fmt.open(io.BytesIO(payload), limits or Limits())
    findings = list(reader.envelope.findings)
    for unit in reader.units():
        findings += reader.validate(unit)
        findings += reader.translate(unit).findings
    return findings


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def invoice(body: str, doctype: str = "") -> bytes:
    return f'<?xml version="1.0"?>\n{doctype}<Invoice {UBL_NS}>{body}</Invoice>'.encode()


def test_xxe_file_entity_is_refused(fmt: XmlFormat) -> None:
    payload = invoice(
        "<cbc:ID>&xxe;</cbc:ID>", '<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    )
    findings = open_all(fmt, payload)
    assert codes(findings) == ["XML-DOCTYPE"]
    assert findings[0].rejects
    assert "root:" not in str(findings)


def test_xxe_http_entity_is_refused_without_a_request(
    fmt: XmlFormat, server: tuple[str, list[str]]
) -> None:
    url, seen = server
    payload = invoice(
        "<cbc:ID>&xxe;</cbc:ID>", f'<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "{url}/xxe">]>'
    )
    assert codes(open_all(fmt, payload)) == ["XML-DOCTYPE"]
    assert seen == []


def test_parameter_entity_and_external_dtd_are_refused_without_a_request(
    fmt: XmlFormat, server: tuple[str, list[str]]
) -> None:
    url, seen = server
    external = invoice("<cbc:ID>1</cbc:ID>", f'<!DOCTYPE Invoice SYSTEM "{url}/evil.dtd">')
    parameter = invoice(
        "<cbc:ID>1</cbc:ID>",
        f'<!DOCTYPE Invoice [<!ENTITY % remote SYSTEM "{url}/p.dtd"> %remote;]>',
    )
    assert codes(open_all(fmt, external)) == ["XML-DOCTYPE"]
    assert codes(open_all(fmt, parameter)) == ["XML-DOCTYPE"]
    assert seen == []


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    return invoice("<cbc:ID>&lol9;</cbc:ID>", f"<!DOCTYPE Invoice [{''.join(entities)}]>")


def test_billion_laughs_is_refused(fmt: XmlFormat) -> None:
    assert codes(open_all(fmt, billion_laughs())) == ["XML-DOCTYPE"]


def test_quadratic_blowup_is_refused(fmt: XmlFormat) -> None:
    big = "x" * 50_000
    payload = invoice(
        "<cbc:ID>" + "&a;" * 20_000 + "</cbc:ID>", f'<!DOCTYPE Invoice [<!ENTITY a "{big}">]>'
    )
    assert codes(open_all(fmt, payload)) == ["XML-DOCTYPE"]


@pytest.mark.parametrize(
    "prolog",
    [
        "<!-- a comment first --><!DOCTYPE x>",
        "<?pi data?>\n  <!DOCTYPE x>",
        "<!doctype x>",
    ],
)
def test_doctype_after_comments_and_pis_is_seen_before_parsing(prolog: str) -> None:
    assert has_doctype(invoice("", prolog))


def test_doctype_in_utf16_is_refused(fmt: XmlFormat) -> None:
    text = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Invoice [<!ENTITY a "b">]><Invoice {UBL_NS}/>'
    assert has_doctype(text.encode("utf-16"))
    assert codes(open_all(fmt, text.encode("utf-16"))) == ["XML-DOCTYPE"]


def test_no_doctype_in_a_comment_is_a_false_alarm() -> None:
    assert not has_doctype(invoice("<!-- <!DOCTYPE x> -->", "<!-- mentions DOCTYPE -->"))


class Endless(io.RawIOBase):
    """A source that never ends: the reader must stop at the limit."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        buffer[:] = b" " * len(buffer)
        self.served += len(buffer)
        return len(buffer)


def test_oversize_document_is_refused_before_parsing(fmt: XmlFormat) -> None:
    source = Endless()
    reader = fmt.open(io.BufferedReader(source), Limits(max_bytes=1_000_000))
    assert codes(reader.envelope.findings) == ["XML-SIZE"]
    assert list(reader.units()) == []
    assert source.served <= 1_000_000 + 64 * 1024


def test_the_gateway_limit_applies_when_lower_than_the_partner_limit(fmt: XmlFormat) -> None:
    payload = invoice("<cbc:Note>" + "n" * 2_100_000 + "</cbc:Note>")
    assert codes(open_all(fmt, payload, Limits(max_bytes=10_000_000))) == ["XML-SIZE"]


def test_deep_nesting_is_refused(fmt: XmlFormat) -> None:
    payload = invoice("<cbc:Note>" * 100 + "</cbc:Note>" * 100)
    assert codes(open_all(fmt, payload)) == ["XML-DEPTH"]


def test_very_deep_nesting_is_refused_by_the_parser_itself() -> None:
    payload = invoice("<a>" * 100_000 + "</a>" * 100_000)
    parsed = parse_bytes(payload, XmlLimits(max_depth=10_000_000))
    assert parsed.root is None
    assert codes(parsed.findings) == ["XML-SYNTAX"]


def test_malformed_xml_gives_a_located_finding(fmt: XmlFormat) -> None:
    findings = open_all(fmt, b"<?xml version='1.0'?>\n<Invoice>\n<a></b>\n</Invoice>")
    assert codes(findings) == ["XML-SYNTAX"]
    assert findings[0].location.line == 3


def test_schema_location_and_xinclude_are_never_fetched(
    fmt: XmlFormat, server: tuple[str, list[str]]
) -> None:
    url, seen = server
    text = EXAMPLE.read_text(encoding="utf-8")
    official = "http://docs.oasis-open.org/ubl/os-UBL-2.1/xsd/maindoc/UBL-Invoice-2.1.xsd"
    assert official in text  # the example already carries an xsi:schemaLocation
    hostile = (
        text.replace(official, f"{url}/evil.xsd")
        .replace("<Invoice ", '<Invoice xmlns:xi="http://www.w3.org/2001/XInclude" ', 1)
        .replace("<cbc:Note>", f'<cbc:Note><xi:include href="{url}/include.xml" parse="text"/>', 1)
    )
    findings = open_all(fmt, hostile.encode("utf-8"))
    assert seen == []
    # The XInclude element is just an unexpected element to the schema, nothing more.
    assert not any(f.source == "xml" for f in findings)
    assert any(f.source == "xsd" for f in findings)
    assert "leaked" not in str(findings)


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
def test_doctype_in_utf16_without_a_bom_is_refused(encoding: str) -> None:
    text = f"<?xml version='1.0' encoding='{encoding.upper()}'?><!DOCTYPE r [<!ENTITY a 'b'>]><r>&a;</r>"
    assert has_doctype(text.encode(encoding))
    assert codes(parse_bytes(text.encode(encoding), XmlLimits()).findings) == ["XML-DOCTYPE"]


def test_a_doctype_hidden_behind_a_huge_prolog_is_refused() -> None:
    payload = invoice("", "<!--" + "x" * 70_000 + "--><!DOCTYPE Invoice [<!ENTITY a 'b'>]>")
    assert codes(parse_bytes(payload, XmlLimits()).findings) == ["XML-PROLOG"]


def test_the_parser_itself_also_refuses_a_doctype(monkeypatch: pytest.MonkeyPatch) -> None:
    """Second line of defence: with the pre-scan out of the way, the parsed DOCTYPE is seen."""
    from edi_gateway.formats.xml import parse

    monkeypatch.setattr(parse, "has_doctype", lambda data: False)
    payload = invoice("<cbc:ID>&a;</cbc:ID>", '<!DOCTYPE Invoice [<!ENTITY a "expanded">]>')
    parsed = parse.parse_bytes(payload, XmlLimits())
    assert parsed.root is None
    assert codes(parsed.findings) == ["XML-DOCTYPE"]


@pytest.mark.parametrize("attack", ["file-entity", "http-entity", "external-dtd"])
def test_the_parser_options_alone_resolve_nothing(
    attack: str, server: tuple[str, list[str]], tmp_path: Path
) -> None:
    """Third line of defence: even a DOCTYPE that got through is never acted upon."""
    from lxml import etree

    from edi_gateway.formats.xml import parse

    url, seen = server
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret")
    doctype = {
        "file-entity": f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]>',
        "http-entity": f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}/h">]>',
        "external-dtd": f'<!DOCTYPE r SYSTEM "{url}/evil.dtd">',
    }[attack]
    payload = f"{doctype}<r>&x;</r>".encode()
    try:
        text = etree.tostring(etree.fromstring(payload, parse._new_parser()))
    except etree.XMLSyntaxError as exc:  # libxml2 may refuse outright ("network entity")
        text = str(exc).encode()
    assert b"top-secret" not in text
    assert b"leaked" not in text
    assert seen == []
