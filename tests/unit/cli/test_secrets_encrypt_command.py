"""`kubelite secrets-encrypt` without a running server: what it reads and writes under the
data directory (the integration test drives it against a running one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubelite.apiserver import encryption
from kubelite.cli.main import main


def test_status_without_a_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secrets-encrypt", "status", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "Encryption Status: Disabled, no configuration file found\n"


def test_status_of_a_configuration_no_server_has_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    encryption.ensure_managed_config(tmp_path)
    assert main(["secrets-encrypt", "status", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Encryption Status: Enabled",
        "Current Rotation Stage: unknown",
        "Server Encryption Hashes: no server has loaded this configuration",
        "Secrets Encrypted With Active Key: unknown (re-encryption not finished)",
        "",
        "Active  Key Type  Name",
        "------  --------  ----",
        " *      AES-CBC   aescbc-key",
    ]


def test_rotate_keys_with_the_server_stopped_only_changes_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = encryption.ensure_managed_config(tmp_path)
    assert main(["secrets-encrypt", "rotate-keys", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("keys rotated: aescbckey-")
    assert out.endswith("the server re-encrypts every secret with it when it starts\n")
    providers = json.loads(path.read_bytes())["resources"][0]["providers"]
    names = [key["name"] for key in providers[0]["aescbc"]["keys"]]
    assert names[0].startswith("aescbckey-") and names[1:] == ["aescbc-key"]
    assert providers[1] == {"identity": {}}


def test_rotate_keys_needs_a_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["secrets-encrypt", "rotate-keys", "--data-dir", str(tmp_path)]) == 1
    assert "start the server with --secrets-encryption first" in capsys.readouterr().err


def test_reencrypt_needs_a_running_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    encryption.ensure_managed_config(tmp_path)
    assert main(["secrets-encrypt", "reencrypt", "--data-dir", str(tmp_path)]) == 1
    assert "no running server uses" in capsys.readouterr().err
