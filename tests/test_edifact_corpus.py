"""Every file of the shared EDIFACT corpus through `EdifactFormat`: its exact outcome.

Directories come from ../shared, imported by the test itself (D96A, D97A, D01B, D03B, D14B and
the service directories), as in test_edifact_structure. A finding reads
``<0085 code><severity initial> <segment number>:<tag> <element>.<component>``; a message with
more than ten findings is summarised as {signature prefix: count}. Each file is also answered
with a CONTRL (and an APERAK where one is due), which must be valid CONTRL and APERAK.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

import pytest

from edi_gateway.formats.base import (
    AckOptions,
    AckPolicy,
    InterchangeOutcome,
    Limits,
    UnitOutcome,
    Verdict,
)
from edi_gateway.formats.edifact.directory import DirectoryCatalog
from edi_gateway.formats.edifact.directory_import import import_directory
from edi_gateway.formats.edifact.envelope import EnvelopeChecker, Message
from edi_gateway.formats.edifact.format import EdifactFormat, EdifactFormatSettings
from edi_gateway.formats.edifact.structure import schema_for, validate_message
from edi_gateway.model import Finding, rejects
from tests.support import SHARED

CORPUS = SHARED / "corpus" / "edifact"
DIRECTORIES = SHARED / "edifact" / "directories"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> DirectoryCatalog:
    root = tmp_path_factory.mktemp("directories")
    for name in ("D96A", "D14B"):
        import_directory(DIRECTORIES / name, root, None)
    references = [DIRECTORIES / "D96A", DIRECTORIES / "D14B"]
    for name in ("D97A", "D01B", "D03B"):
        import_directory(DIRECTORIES / name, root, None, fill_from=references)
    for version, codes in (("3", "service_codes_v3.xml"), ("4", "service_codes_v4.xml")):
        import_directory(
            DIRECTORIES / f"Service_V{version}",
            root,
            None,
            service_codes=[DIRECTORIES / "D14B" / codes],
        )
    return DirectoryCatalog([root])


@pytest.fixture(scope="module")
def fmt(catalog: DirectoryCatalog) -> EdifactFormat:
    return EdifactFormat(EdifactFormatSettings(catalog=catalog, clock=lambda: NOW))


def signature(f: Finding) -> str:
    where = f.location
    return (
        f"{f.code}{f.severity.value[0]} {where.segment}:{where.segment_tag} "
        f"{where.element}.{where.component}"
    )


def summary(findings: list[Finding]) -> str | list[str] | dict[str, int]:
    signatures = [signature(f) for f in findings]
    if not signatures:
        return "ok"
    if len(signatures) <= 10:
        return signatures
    return dict(sorted(Counter(s.split()[0] for s in signatures).items()))


def run(fmt: EdifactFormat, data: bytes) -> tuple[dict[str, Any], InterchangeOutcome]:
    """The file's outcome as in EXPECTED, and an InterchangeOutcome to acknowledge."""
    reader = fmt.open(io.BytesIO(data), Limits())
    interchange = list(reader.envelope.findings)
    units: list[Any] = []
    outcomes = []
    for unit in reader.units():
        findings = [*unit.findings, *reader.validate(unit)]
        units.append(summary(findings))
        verdict = Verdict.REJECTED if rejects(findings) else Verdict.ACCEPTED
        outcomes.append(
            UnitOutcome(unit.index, unit.message_type, unit.reference, verdict, findings)
        )
    interchange += reader.trailer_findings()
    result: dict[str, Any] = {} if fmt.sniff(data[:4096]) else {"sniff": False}
    if interchange:
        result["interchange"] = [signature(f) for f in interchange]
    result["units"] = units
    verdict = Verdict.REJECTED if rejects(interchange) else Verdict.ACCEPTED
    outcome = InterchangeOutcome(
        "corpus", None, NOW, "0" * 64, reader.envelope, verdict, interchange, outcomes
    )
    return result, outcome


EXPECTED: dict[str, dict[str, Any]] = {
    "bots-plugins/APERAK_D96A_dutchic.edi": {"units": ["ok"]},
    "bots-plugins/DESADV_D96A_desadv1.edi": {
        "units": [
            "ok",
            [
                "12w 33:RFF 1.1",
                "12w 37:RFF 1.1",
                "12w 44:NAD 1.None",
                "12w 45:NAD 1.None",
                "12w 46:NAD 1.None",
                "12w 80:DTM 1.1",
                "12w 96:DTM 1.1",
                "12w 133:DTM 1.1",
                "12w 149:DTM 1.1",
            ],
            ["12w 175:DTM 1.1"],
        ]
    },
    "bots-plugins/INVOIC_D96A_dutchic.edi": {"units": ["ok"]},
    "bots-plugins/INVOIC_D96A_invoic01.edi": {"units": ["ok", "ok"]},
    "bots-plugins/INVOIC_D96A_invoic1.edi": {"units": [["12w 13:RFF 1.1", "12w 17:RFF 1.1"], "ok"]},
    "bots-plugins/ORDERS_D96A_csvdemo_test.edi": {
        "units": [
            ["12w 3:BGM 1.1", "12w 18:TAX 2.1"],
            ["12w 33:BGM 1.1"],
            ["12w 49:BGM 1.1"],
            ["12w 58:BGM 1.1"],
        ]
    },
    "bots-plugins/ORDERS_D96A_dutchic_0T0000000004.edi": {
        "units": [["12w 3:BGM 1.1"], ["12w 12:BGM 1.1"], ["12w 3:BGM 1.1"]]
    },
    "bots-plugins/ORDERS_D96A_orders01.edi": {"units": [["12w 3:BGM 1.1"], ["12w 25:BGM 1.1"]]},
    "bots-plugins/ORDERS_D96A_orders02_multi.edi": {
        "units": [
            "ok",
            ["12w 3:BGM 1.1"],
            "ok",
            ["12w 9:TAX 2.1"],
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            [
                "12w 8:DTM 1.1",
                "12w 9:DTM 1.1",
                "12w 12:DTM 1.3",
                "12w 13:DTM 1.1",
                "12w 21:RFF 1.1",
                "12w 23:RFF 1.1",
                "12w 26:NAD 1.None",
                "12w 27:NAD 1.None",
                "12w 33:TAX 2.1",
            ],
            "ok",
            ["12w 3:BGM 1.1"],
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
        ]
    },
    "bots-plugins/ORDERS_D96A_sap_idoc_1.edi": {
        "units": [
            ["12w 3:BGM 1.1"],
            ["12w 17:BGM 1.1"],
            ["12w 29:BGM 1.1"],
            "ok",
            "ok",
            ["12w 67:BGM 1.1"],
            ["12w 79:BGM 1.1"],
            "ok",
            "ok",
            "ok",
            "ok",
            ["12w 141:BGM 1.1"],
        ]
    },
    "bots-plugins/PRICAT_D96A_146.edi": {"units": [{"12w": 285}, {"12w": 12}]},
    "bots-plugins/SLSRPT_D96A_slsrpt01.edi": {"units": [{"12w": 197}, {"12w": 197}]},
    "en16931-invoic-d14b/EDIFACT_EXAMPLE0.TXT": {"units": [["29e 38:UNT 1.1"]]},
    "en16931-invoic-d14b/EDIFACT_EXAMPLE0a.TXT": {"units": [["29e 35:UNT 1.1"]]},
    # syntax 4: the published examples keep trailing separators (PRI+AAA:9.95::::'), code 45
    "en16931-invoic-d14b/EDIFACT_EXAMPLE1.TXT": {
        "interchange": ["28f 173:UNZ 2.1"],
        "units": [{"45w": 22}],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE2.TXT": {
        "interchange": ["29f 143:UNZ 1.1", "28f 143:UNZ 2.1"],
        "units": [
            [
                "45w 3:BGM 3.None",
                "45w 63:PRI 1.6",
                "45w 81:PRI 1.6",
                "45w 92:PRI 1.6",
                "45w 93:PRI 1.6",
                "45w 106:PRI 1.6",
                "45w 118:PRI 1.6",
            ]
        ],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE3.TXT": {
        "interchange": ["28f 45:UNZ 2.1"],
        "units": [["45w 3:BGM 3.None", "45w 12:FII 3.None", "45w 32:PRI 1.6"]],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE4.TXT": {
        "interchange": ["28f 62:UNZ 2.1"],
        "units": [
            [
                "45w 3:BGM 3.None",
                "45w 11:FII 3.None",
                "45w 32:PRI 1.6",
                "45w 40:PRI 1.6",
                "45w 47:PRI 1.6",
            ]
        ],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE5.TXT": {
        "interchange": ["29f 141:UNZ 1.1", "28f 141:UNZ 2.1"],
        "units": [["45w 48:NAD 2.2", "45w 110:PRI 1.6", "45w 120:PRI 1.6"]],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE6.TXT": {
        "interchange": ["28f 43:UNZ 2.1"],
        "units": [["45w 3:BGM 3.None", "45w 16:PRI 1.6", "45w 22:PRI 1.6", "45w 28:PRI 1.6"]],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE7.TXT": {
        "interchange": ["28f 51:UNZ 2.1"],
        "units": [
            [
                "45w 3:BGM 3.None",
                "45w 12:NAD 2.2",
                "45w 31:PRI 1.6",
                "45w 33:TAX 5.4",
                "45w 40:PRI 1.6",
                "45w 41:TAX 5.4",
                "45w 47:TAX 5.4",
            ]
        ],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE8.TXT": {
        "interchange": ["28f 121:UNZ 2.1"],
        "units": [["21e 28:IMD 3.4", "45w 14:FII 3.None", "45w 20:NAD 2.2"]],
    },
    "en16931-invoic-d14b/EDIFACT_EXAMPLE9.TXT": {
        "interchange": ["28f 42:UNZ 2.1"],
        "units": ["ok"],
    },
    "generated/berrywave_CONTRL_for_synthetic_5msgs.edi": {"units": [["14e 2:UNH 2.1"]]},
    "generated/mock-edi_CONTRL_reply.edi": {"units": ["ok"]},
    "generated/mock-edi_ORDERS_D96A_sent_over_AS2.edi": {"units": ["ok"]},
    "generated/mock-edi_ORDRSP_reply.edi": {
        "units": [["15e 17:FTX None.None", "15e 24:FTX None.None", "15e 31:FTX None.None"]]
    },
    "generated/synthetic_ORDERS_D96A_5msgs.edi": {"units": ["ok", "ok", "ok", "ok", "ok"]},
    "generated/synthetic_ORDERS_D96A_5msgs_newlines.edi": {"units": ["ok", "ok", "ok", "ok", "ok"]},
    "generated/synthetic_ORDERS_D96A_to_mock.edi": {"units": ["ok"]},
    "php-edifact/DESADV_D96A.edi": {"units": [["14e 2:UNH 2.1"]]},
    "php-edifact/DESADV_utf8.edi": {"units": [["21e 12:IMD 3.4", "14e 2:UNH 2.1"]]},
    "php-edifact/ORDERS_D01B_example_order_error.edi": {"units": [{"16e": 1, "39e": 124}]},
    "php-edifact/ORDERS_D01B_example_order_ok.edi": {"units": [{"39e": 123}]},
    "php-edifact/PAORES_release_character.edi": {"units": [["29e 24:UNT 1.1", "14e 2:UNH 2.1"]]},
    "php-edifact/PAORES_wrapped.edi": {"units": [["14e 2:UNH 2.1"]]},
    "pydifact/APERAK_D96A_v3_accepted.edi": {"units": [["21w 7:FTX 4.1", "29e 8:UNT 1.1"]]},
    "pydifact/APERAK_D96A_v3_rejected.edi": {"units": [["21w 7:FTX 4.1", "29e 8:UNT 1.1"]]},
    "pydifact/APERAK_D96A_v4_accepted.edi": {
        "interchange": ["12w 1:UNB 4.1"],
        "units": [["21w 7:FTX 4.1", "29e 8:UNT 1.1"]],
    },
    "pydifact/APERAK_D96A_v4_rejected.edi": {
        "interchange": ["12w 1:UNB 4.1"],
        "units": [["21w 7:FTX 4.1", "29e 8:UNT 1.1"]],
    },
    "pydifact/invoice1.edi": {"units": ["ok"]},
    "pydifact/invoice_with_colon_at_end.edi": {"units": ["ok"]},
    "pydifact/order.edi": {
        "interchange": ["12w 1:UNB 4.1", "13f None:None None.None"],
        "units": ["ok"],
    },
    "pydifact/order2.edi": {"interchange": ["13f None:None None.None"], "units": ["ok"]},
    "pydifact/sage_coala.ped": {
        "interchange": ["33w None:None None.None"],
        "units": [["29e 99:UNT 1.1", "14e 3:UNH 2.1"]],
    },
    "pydifact/wikipedia_en.edi": {"units": [["14e 2:UNH 2.1"]]},
    "smooks/INVOIC_D03B_with_UNA.edi": {
        "interchange": ["12w 1:UNB 4.1"],
        "units": [["29e 36:UNT 1.1"]],
    },
    "smooks/INVOIC_D96A_input.edi": {
        "sniff": False,
        "interchange": ["33w None:None None.None", "13f None:None None.None"],
        "units": [],
    },
    "smooks/ORDERS_D03B_BAD.edi": {
        "units": [
            [
                "21w 43:COM 1.1",
                "21w 46:FTX 4.1",
                "21w 49:FTX 4.1",
                "21w 52:FTX 4.1",
                "21w 55:FTX 4.1",
                "29e 58:UNT 1.1",
                "35e 39:DTM None.None",
            ]
        ]
    },
    "smooks/ORDERS_D03B_Interchange.edi": {
        "units": [
            [
                "21w 8:COM 1.1",
                "21w 11:FTX 4.1",
                "21w 14:FTX 4.1",
                "21w 17:FTX 4.1",
                "21w 20:FTX 4.1",
            ]
        ]
    },
    "smooks/RECADV_D01B.edi": {
        "units": [
            [
                "21w 8:NAD 4.1",
                "21e 10:NAD 4.1",
                "21w 13:NAD 4.1",
                "12w 9:RFF 1.1",
                "12w 11:RFF 1.1",
                "39e 13:NAD 4.1",
                "12w 14:RFF 1.1",
                "12w 23:RFF 1.1",
            ]
        ]
    },
}


def corpus_files() -> list[str]:
    return sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix.lower() in (".edi", ".ped", ".txt")
    )


def test_every_corpus_file_has_an_expectation() -> None:
    assert corpus_files() == sorted(EXPECTED)
    assert len(EXPECTED) == 51


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_corpus_file(fmt: EdifactFormat, catalog: DirectoryCatalog, relative: str) -> None:
    result, outcome = run(fmt, (CORPUS / relative).read_bytes())
    assert result == EXPECTED[relative]
    options = AckOptions(syntax_ack=AckPolicy.ALWAYS, application_ack=AckPolicy.ALWAYS)
    for ack in fmt.acknowledge(outcome, options):
        assert_valid_ack(ack.content, catalog)


def assert_valid_ack(content: bytes, catalog: DirectoryCatalog) -> None:
    """An acknowledgement is a sound interchange of valid CONTRL or APERAK messages."""
    checker = EnvelopeChecker(io.BytesIO(content))
    messages = [e for e in checker if isinstance(e, Message)]
    assert messages and checker.findings == []
    for message in messages:
        assert message.findings == []
        version = message.interchange.syntax_version
        schema = schema_for(message.segments[0], catalog, int(version))
        assert schema is not None, message.message_type
        findings = validate_message(message.segments, schema)
        assert [f for f in findings if f.rejects] == [], findings


def read(relative: str) -> bytes:
    return (CORPUS / relative).read_bytes()


def test_php_edifact_broken_order_is_answered_at_the_broken_imd(fmt: EdifactFormat) -> None:
    ok, _ = run(fmt, read("php-edifact/ORDERS_D01B_example_order_ok.edi"))
    broken, outcome = run(fmt, read("php-edifact/ORDERS_D01B_example_order_error.edi"))
    assert ok["units"][0] == {"39e": 123}
    assert broken["units"][0] == {"16e": 1, "39e": 124}
    extra = [f for f in outcome.units[0].findings if f.location.segment == 360]
    assert [signature(f) for f in extra] == ["16e 360:IMD 3.7", "39e 360:IMD 3.6"]
    [contrl] = fmt.acknowledge(outcome, AckOptions())
    # UNH is segment 2 of the interchange, so segment 360 is position 359 of the message
    assert b"UCS+359'UCD+16+4:7'UCD+39+4:6'" in contrl.content
    assert b"UCM+2019265563+ORDERS:D:01B:UN:EAN010+4'UCS+16'UCD+39+2:3'" in contrl.content


def test_smooks_bad_order_has_one_dtm_too_many(fmt: EdifactFormat) -> None:
    result, outcome = run(fmt, read("smooks/ORDERS_D03B_BAD.edi"))
    assert "35e 39:DTM None.None" in result["units"][0]
    [too_many] = [f for f in outcome.units[0].findings if f.code == "35"]
    assert too_many.text == "segment DTM occurs 36 times here; at most 35 allowed"
    [contrl] = fmt.acknowledge(outcome, AckOptions())
    assert b"UCS+38+35'" in contrl.content  # segment 39, UNH being segment 2


@pytest.mark.parametrize("name", ["order.edi", "order2.edi"])
def test_pydifact_files_without_unz_are_truncated(fmt: EdifactFormat, name: str) -> None:
    result, outcome = run(fmt, read(f"pydifact/{name}"))
    assert result["interchange"][-1] == "13f None:None None.None"
    [truncated] = [f for f in outcome.findings if f.code == "13"]
    assert truncated.text.endswith("found the end of the data. The interchange is truncated.")
    [contrl] = fmt.acknowledge(outcome, AckOptions())
    reference = outcome.envelope.control_reference
    assert f"UCI+{reference}+".encode() in contrl.content
    assert b"+4+13'" in contrl.content and not contrl.positive
