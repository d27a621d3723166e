"""The API server's side of encryption at rest: which storage prefixes a configuration covers,
k3s' managed file and its rotation, and the controller that reloads the file and re-encrypts."""

from __future__ import annotations

import asyncio
import datetime
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.apiserver import encryption
from kubelite.storage.sqlite import SqliteStore

SECRET = "/registry/secrets/default/s"
VALUE = b'{"kind":"Secret"}'


def config_bytes(resources: list[str], providers: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [{"resources": resources, "providers": providers}],
        }
    ).encode()


def prefixes(tmp_path: Path, resources: list[str]) -> set[str]:
    path = tmp_path / "enc.json"
    path.write_bytes(config_bytes(resources, [{"identity": {}}]))
    return set(encryption.load(path).transformers.by_prefix)


def test_rules_cover_the_storage_prefixes_of_their_resources(tmp_path: Path) -> None:
    assert prefixes(tmp_path, ["secrets"]) == {"/registry/secrets/"}
    assert prefixes(tmp_path, ["*.apps"]) == {
        "/registry/controllerrevisions/",
        "/registry/daemonsets/",
        "/registry/deployments/",
        "/registry/replicasets/",
        "/registry/statefulsets/",
    }
    # events.k8s.io Events are stored as core events, and encrypted by the `events` rule.
    assert prefixes(tmp_path, ["events"]) == {"/registry/events/"}
    assert "/registry/pods/" in prefixes(tmp_path, ["*."])
    assert "/registry/roles/" not in prefixes(tmp_path, ["*."])
    assert "/registry/roles/" in prefixes(tmp_path, ["*.*"])


def test_the_managed_file_is_made_once_with_k3s_layout(tmp_path: Path) -> None:
    path = encryption.ensure_managed_config(tmp_path)
    assert path == tmp_path / "cred" / "encryption-config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_bytes())
    (entry,) = document["resources"]
    assert entry["resources"] == ["secrets"]
    (key,) = entry["providers"][0]["aescbc"]["keys"]
    assert key["name"] == "aescbc-key"
    assert entry["providers"][1] == {"identity": {}}
    before = path.read_bytes()
    encryption.ensure_managed_config(tmp_path)
    assert path.read_bytes() == before
    enabled, keys = encryption.secrets_keys(encryption.load(path).config)
    assert enabled
    assert [(k.active, k.type, k.name) for k in keys] == [(True, "AES-CBC", "aescbc-key")]


def test_rotation_puts_a_new_key_first_and_keeps_the_old(tmp_path: Path) -> None:
    path = encryption.ensure_managed_config(tmp_path)
    document = json.loads(path.read_bytes())
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    name = encryption.rotate_keys(document, now)
    assert name == "aescbckey-2026-01-02T03:04:05Z"
    keys = document["resources"][0]["providers"][0]["aescbc"]["keys"]
    assert [k["name"] for k in keys] == [name, "aescbc-key"]
    with pytest.raises(ValueError, match="needs aescbc as the first provider"):
        encryption.rotate_keys(encryption.managed_document(keys, enabled=False), now)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "db" / "state.db")
    yield s
    await s.close()


async def wait_for_state(data_dir: Path, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        state = encryption.read_state(data_dir) or {}
        if check(state):
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"state never matched: {encryption.read_state(data_dir)}")


async def test_the_controller_reloads_keeps_a_bad_file_out_and_reencrypts(
    tmp_path: Path, sqlite: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encryption, "RELOAD_INTERVAL", 0.02)
    await sqlite.create(SECRET, VALUE)  # stored before encryption was on
    path = encryption.ensure_managed_config(tmp_path)
    controller = encryption.EncryptionController(
        sqlite, path, tmp_path, encryption.load(path), reload=True
    )
    task = asyncio.create_task(controller.run())
    try:
        state = await wait_for_state(tmp_path, lambda s: s.get("stage") == "reencrypt_finished")
        assert state["resources"]["secrets"] == {
            "total": 1,
            "rewritten": 1,
            "failed": 0,
            "failedKeys": [],
        }
        stored = await sqlite.get(SECRET)
        assert stored is not None and stored.value.startswith(b"k8s:enc:aescbc:v1:aescbc-key:")

        good = path.read_bytes()
        path.write_bytes(b"kind: EncryptionConfiguration\n")
        state = await wait_for_state(tmp_path, lambda s: bool(s.get("error")))
        assert state["error"].startswith("error while parsing file: error decoding")
        # The configuration in force stays: the secret still reads.
        got = await controller.store.get(SECRET)
        assert got is not None and got.value == VALUE

        document = json.loads(good)
        name = encryption.rotate_keys(document, datetime.datetime.now(datetime.UTC))
        encryption.write_private(path, json.dumps(document).encode())
        target = list(encryption.signature(path) or ())
        state = await wait_for_state(
            tmp_path,
            lambda s: s.get("configSignature") == target and s.get("stage") == "reencrypt_finished",
        )
        assert state["error"] == ""
        assert state["resources"]["secrets"]["rewritten"] == 1
        stored = await sqlite.get(SECRET)
        assert stored is not None and stored.value.startswith(f"k8s:enc:aescbc:v1:{name}:".encode())
        got = await controller.store.get(SECRET)
        assert got is not None and got.value == VALUE
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
