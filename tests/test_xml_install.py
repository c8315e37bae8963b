"""Installing the schema sets the operator supplies, and what happens before they are there."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from edi_gateway.formats.base import Limits
from edi_gateway.formats.xml import InstallError, XmlFormat, XmlSettings, install_schemas
from edi_gateway.formats.xml.catalogue import Catalogue
from edi_gateway.formats.xml.install import read_manifest
from tests.support import SHARED

UBL21 = SHARED / "xml" / "ubl-2.1"
ORDER = SHARED / "corpus" / "xml" / "ubl-2.1-examples" / "UBL-Order-2.1-Example.xml"


def zip_tree(folder: Path, target: Path, prefix: str) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
        archive.writestr(prefix + "README.txt", "not part of the release tree")
    return target


def validate_order(data_dir: Path | None) -> list[str]:
    fmt = XmlFormat(XmlSettings(data_dir=data_dir))
    reader = fmt.open(io.BytesIO(ORDER.read_bytes()), Limits())
    (unit,) = reader.units()
    return [f.code for f in reader.validate(unit)]


@pytest.mark.parametrize("release", ["ubl-2.1", "ubl-2.2", "cii-d16b", "en16931"])
def test_every_manifest_matches_the_reference_release(release: str) -> None:
    manifest = read_manifest(Catalogue.load().manifest(release))
    assert manifest
    assert all(len(digest) == 64 for digest in manifest.values())


def test_install_from_a_folder_enables_schema_validation(tmp_path: Path) -> None:
    assert validate_order(tmp_path) == ["SCHEMA-NOT-INSTALLED"]
    result = install_schemas("ubl-2.1", UBL21, tmp_path)
    assert result.files == 79
    assert (tmp_path / "schemas" / "ubl-2.1" / "maindoc" / "UBL-Order-2.1.xsd").is_file()
    assert validate_order(tmp_path) == []


def test_install_from_an_oasis_style_zip(tmp_path: Path) -> None:
    archive = zip_tree(UBL21 / "xsdrt", tmp_path / "UBL-2.1.zip", "os-UBL-2.1/xsdrt/")
    install_schemas("ubl-2.1", archive, tmp_path / "data")
    installed = sorted(
        p.name for p in (tmp_path / "data" / "schemas" / "ubl-2.1").rglob("*") if p.is_file()
    )
    assert len(installed) == 79 and "README.txt" not in installed


def test_cii_schemas_are_found_inside_the_whole_cen_folder(tmp_path: Path) -> None:
    # both "coupled" and "uncoupled" trees hold files of the same names; only one matches
    install_schemas("cii-d16b", SHARED / "xml" / "en16931" / "cii" / "schema", tmp_path)
    assert (
        tmp_path
        / "schemas"
        / "cii-d16b"
        / "data"
        / "standard"
        / "CrossIndustryInvoice_100pD16B.xsd"
    ).is_file()


def test_a_tampered_file_refuses_the_whole_release(tmp_path: Path) -> None:
    archive = zip_tree(UBL21 / "xsdrt", tmp_path / "UBL-2.1.zip", "xsdrt/")
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("UBL-Order-2.1.xsd"):
                data = data.replace(b"</xsd:schema>", b"<!-- changed --></xsd:schema>")
            dst.writestr(info, data)
    with pytest.raises(
        InstallError, match=r"checksum mismatch for xsdrt/maindoc/UBL-Order-2\.1\.xsd"
    ):
        install_schemas("ubl-2.1", tampered, tmp_path / "data")
    assert not (tmp_path / "data" / "schemas" / "ubl-2.1").exists()


def test_the_wrong_release_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="no file named"):
        install_schemas("ubl-2.1", SHARED / "xml" / "ubl-2.2", tmp_path)
    with pytest.raises(InstallError, match=r"unknown release 'ubl-9\.9'"):
        install_schemas("ubl-9.9", UBL21, tmp_path)
    with pytest.raises(InstallError, match="neither a folder nor a zip"):
        install_schemas("ubl-2.1", ORDER, tmp_path)


def test_reinstalling_replaces_the_previous_tree(tmp_path: Path) -> None:
    install_schemas("ubl-2.1", UBL21, tmp_path)
    stray = tmp_path / "schemas" / "ubl-2.1" / "stray.xsd"
    stray.write_text("left over")
    install_schemas("ubl-2.1", UBL21, tmp_path)
    assert not stray.exists()
    assert [p.name for p in (tmp_path / "schemas").iterdir()] == ["ubl-2.1"]


def test_packaged_invoice_schema_and_rules_need_no_installation(tmp_path: Path) -> None:
    catalogue = Catalogue.load()
    invoice = catalogue.lookup("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "Invoice")
    assert invoice is not None
    version = invoice.version("2.1")
    assert version is not None
    assert catalogue.resolve(version.xsd, tmp_path) is not None
    assert catalogue.resolve(catalogue.rule_sets["en16931-ubl"].xslt, None) is not None
    assert catalogue.resolve(catalogue.rule_sets["en16931-cii"].xslt, tmp_path) is None
