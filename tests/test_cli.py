"""The command line on a real store: submit, status, messages, reprocess, queues."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from edi_gateway import samples
from edi_gateway.cli import main

MOE = samples.INSTITUTIONS[0]
HANIL = samples.SUPPLIERS[0]


def test_submit_status_messages_reprocess_queues(tmp_path: Path, config_dir) -> None:
    directory, _ = config_dir
    cfg = str(directory / "gateway.toml")
    doc = tmp_path / "po.json"
    doc.write_text(json.dumps(samples.order("PO-CLI", MOE, HANIL)))
    run = CliRunner().invoke
    out = run(main, ["-c", cfg, "submit", str(doc), "--partner", "hanil-office"])
    assert out.exit_code == 0, out.output
    status = json.loads(out.stdout)
    assert status["state"] == "done" and status["documents"][0]["queue"] == "moe.order"
    rid = status["receipt_id"]

    listed = run(main, ["-c", cfg, "messages", "list"])
    assert rid in listed.output and "done" in listed.output
    shown = json.loads(run(main, ["-c", cfg, "messages", "show", rid]).stdout)
    assert [e["type"] for e in shown["timeline"]] == ["received", "processing", "done"]
    assert run(main, ["-c", cfg, "reprocess", rid]).exit_code == 0
    assert json.loads(run(main, ["-c", cfg, "status", rid]).stdout)["state"] == "received"
    queues = run(main, ["-c", cfg, "queues"]).output
    assert "moe.order" in queues
    unknown = run(main, ["-c", cfg, "submit", str(doc), "--partner", "nobody"])
    assert unknown.exit_code != 0 and "unknown partner" in unknown.output


def test_directory_import_and_schemas_install(tmp_path: Path, config_dir) -> None:
    from tests.support import SHARED

    directory, _ = config_dir
    cfg = str(directory / "gateway.toml")
    run = CliRunner().invoke
    out = run(main, ["-c", cfg, "directory", "import", str(SHARED / "edifact/directories/D97A"),
                     "--messages", "INVOIC,ORDERS"])
    assert out.exit_code == 0, out.output
    assert "D97A: 2 messages" in out.stdout
    assert (directory / "data/schemas/edifact/D97A/messages/INVOIC.json").is_file()
    out = run(main, ["-c", cfg, "schemas", "install", "ubl-2.1", str(SHARED / "xml/ubl-2.1")])
    assert out.exit_code == 0, out.output
    assert "files verified" in out.stdout
    bad = tmp_path / "fake-ubl"
    bad.mkdir()
    (bad / "UBL-Order-2.1.xsd").write_text("<xs:schema/>")
    out = run(main, ["-c", cfg, "schemas", "install", "ubl-2.2", str(bad)])
    assert out.exit_code != 0
