"""Configuration: `init` writes a working set; mistakes name the file, the key and the expectation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi_gateway.cli import main
from edi_gateway.config import ConfigError, hash_token, load


def test_init_writes_a_working_configuration(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "gw")])
    assert result.exit_code == 0, result.output
    config = load(tmp_path / "gw" / "gateway.toml")
    roles = sorted(p.role.value for p in config.partners.values())
    assert roles == ["institution", "institution", "supplier", "supplier", "supplier"]
    creds = json.loads((tmp_path / "gw" / "credentials.json").read_text())
    assert (tmp_path / "gw" / "credentials.json").stat().st_mode & 0o077 == 0
    token = creds["hanil-office"]["api_token"]
    assert token in result.output
    assert config.partner_by_token(token).id == "hanil-office"
    assert token not in (tmp_path / "gw" / "partners" / "hanil-office.toml").read_text()
    assert hash_token(token) in (tmp_path / "gw" / "partners" / "hanil-office.toml").read_text()
    assert config.backoffice_by_token(creds["moe"]["backoffice_token"]).id == "moe"
    again = CliRunner().invoke(main, ["init", str(tmp_path / "gw")])
    assert again.exit_code != 0 and "--force" in again.output


@pytest.fixture
def gw_dir(tmp_path: Path) -> Path:
    CliRunner().invoke(main, ["init", str(tmp_path / "gw")])
    return tmp_path / "gw"


def broken(gw_dir: Path, file: str, old: str, new: str) -> ConfigError:
    path = gw_dir / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load(gw_dir / "gateway.toml")
    return info.value


def test_wrong_type_names_file_key_and_expectation(gw_dir: Path) -> None:
    err = broken(gw_dir, "gateway.toml", "port = 8080", 'port = "eighty"')
    assert err.file == gw_dir / "gateway.toml"
    assert err.key == "http.port"
    assert "integer" in err.problem and "'eighty'" in err.problem


def test_unknown_key_is_refused(gw_dir: Path) -> None:
    err = broken(gw_dir, "gateway.toml", "[worker]\n", "[worker]\nthreadz = 4\n")
    assert err.key == "worker.threadz"


def test_route_to_an_unknown_partner(gw_dir: Path) -> None:
    err = broken(gw_dir, "gateway.toml", 'receiver = "moe"', 'receiver = "nobody"')
    assert err.key == "routes.0.receiver" and "nobody" in err.problem


def test_partner_file_errors_name_the_partner_file(gw_dir: Path) -> None:
    err = broken(gw_dir, "partners/moe.toml", 'role = "institution"', 'role = "ministry"')
    assert err.file.name == "moe.toml" and err.key == "role"
    assert "institution" in err.problem and "supplier" in err.problem


def test_partner_id_must_match_its_file(gw_dir: Path) -> None:
    err = broken(gw_dir, "partners/moe.toml", 'id = "moe"', 'id = "moe2"')
    assert err.key == "id" and "file name" in err.problem


def test_invalid_toml(gw_dir: Path) -> None:
    err = broken(gw_dir, "gateway.toml", "[http]", "[http")
    assert "not valid TOML" in err.problem


def test_the_cli_reports_configuration_errors_without_a_traceback(gw_dir: Path) -> None:
    (gw_dir / "gateway.toml").write_text((gw_dir / "gateway.toml").read_text().replace("port = 8080", "port = -1"))
    result = CliRunner().invoke(main, ["-c", str(gw_dir / "gateway.toml"), "queues"])
    assert result.exit_code == 1
    assert "configuration error" in result.output and "http.port" in result.output
    assert "Traceback" not in result.output


def test_schema_command_prints_the_canonical_json_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    schema = json.loads(result.output)
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"Order", "Invoice", "Tender", "Party", "Batch"} <= set(schema["$defs"])
    amount = schema["$defs"]["Line"]["properties"]["quantity"]
    assert amount["type"] == "string"  # decimals travel as strings
