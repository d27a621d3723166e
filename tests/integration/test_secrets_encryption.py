"""Secrets encrypted at rest, seen from outside: the rows in the server's SQLite file (or its
etcd's keys), kubectl reading them back, `kubelite secrets-encrypt`, and a server that refuses a
bad configuration.

The store's raw rows are read with sqlite3 beside the running server (WAL: a reader sees what
is committed), or with etcdctl, by the key the API server keeps a Secret under.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster, wait_for


def raw_value(cluster: Cluster, key: str) -> bytes:
    """The newest stored value of `key`, as the server wrote it to disk (or to etcd)."""
    if cluster.etcd is not None:
        answer = json.loads(cluster.etcd.etcdctl("get", key, "-w", "json"))
        kvs = answer.get("kvs") or []
        assert kvs, f"no etcd key {key}"
        return base64.b64decode(kvs[0]["value"])
    db = sqlite3.connect(cluster.data_dir / "db" / "state.db", timeout=10)
    try:
        row = db.execute(
            "SELECT log.value FROM kv JOIN log ON log.revision = kv.revision WHERE kv.key = ?",
            (key,),
        ).fetchone()
    finally:
        db.close()
    assert row is not None, f"no row for {key}"
    return bytes(row[0])


def secret_value(cluster: Cluster, namespace: str, name: str, field: str = "k") -> str:
    out = cluster.kubectl(
        "get", "secret", name, "-n", namespace, "-o", f"jsonpath={{.data.{field}}}"
    ).stdout
    return base64.b64decode(out).decode()


def make_cluster(base: Path, *args: str) -> Cluster:
    c = Cluster(base / "data", base / "cache", extra_args=["--disable-scheduler", *args])
    c.start()
    return c


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = make_cluster(tmp_path_factory.mktemp("encrypted"), "--secrets-encryption")
    try:
        yield c
    finally:
        c.stop()


def test_secrets_are_stored_encrypted_and_read_back(encrypted: Cluster) -> None:
    encrypted.kubectl("create", "namespace", "enc-a")
    encrypted.kubectl("create", "secret", "generic", "s", "-n", "enc-a", "--from-literal=k=v")
    stored = raw_value(encrypted, "/registry/secrets/enc-a/s")
    assert stored.startswith(b"k8s:enc:aescbc:v1:aescbc-key:")
    assert b'"dg=="' not in stored and b'"k"' not in stored
    assert secret_value(encrypted, "enc-a", "s") == "v"
    # Other resources are stored as they always are.
    encrypted.kubectl("create", "configmap", "c", "-n", "enc-a", "--from-literal=k=v")
    assert raw_value(encrypted, "/registry/configmaps/enc-a/c").startswith(b"{")
    config = encrypted.data_dir / "cred" / "encryption-config.json"
    assert config.stat().st_mode & 0o077 == 0


def test_rotate_keys_rewrites_every_secret_with_the_new_key(encrypted: Cluster) -> None:
    encrypted.kubectl("create", "namespace", "enc-b")
    for name in ("one", "two"):
        encrypted.kubectl(
            "create", "secret", "generic", name, "-n", "enc-b", f"--from-literal=k={name}"
        )
    data_dir = str(encrypted.data_dir)
    before = encrypted.kubelite("secrets-encrypt", "status", "--data-dir", data_dir).stdout
    assert "Encryption Status: Enabled" in before
    rotated = encrypted.kubelite("secrets-encrypt", "rotate-keys", "--data-dir", data_dir)
    assert rotated.stdout.startswith("keys rotated, reencryption finished: aescbckey-")
    new_key = rotated.stdout.split(": ")[1].split(" ")[0]
    for name in ("one", "two"):
        stored = raw_value(encrypted, f"/registry/secrets/enc-b/{name}")
        assert stored.startswith(f"k8s:enc:aescbc:v1:{new_key}:".encode())
        assert secret_value(encrypted, "enc-b", name) == name
    status = encrypted.kubelite("secrets-encrypt", "status", "--data-dir", data_dir).stdout
    lines = status.splitlines()
    assert lines[:3] == [
        "Encryption Status: Enabled",
        "Current Rotation Stage: reencrypt_finished",
        "Server Encryption Hashes: All hashes match",
    ]
    assert lines[3].startswith("Secrets Encrypted With Active Key: all")
    table = [line.split() for line in lines[5:]]
    assert table[2] == ["*", "AES-CBC", new_key]
    assert table[3] == ["AES-CBC", "aescbc-key"]
    as_json = json.loads(
        encrypted.kubelite("secrets-encrypt", "status", "-o", "json", "--data-dir", data_dir).stdout
    )
    assert as_json["activekey"] == new_key and as_json["inactivekeys"] == ["aescbc-key"]
    # New secrets are written with the new key too.
    encrypted.kubectl("create", "secret", "generic", "three", "-n", "enc-b", "--from-literal=k=3")
    assert raw_value(encrypted, "/registry/secrets/enc-b/three").startswith(
        f"k8s:enc:aescbc:v1:{new_key}:".encode()
    )
    again = encrypted.kubelite("secrets-encrypt", "reencrypt", "--data-dir", data_dir)
    assert again.stdout.startswith("reencryption finished; 0 of 4 secrets written again")


def test_a_server_without_encryption_stores_plain_json(tmp_path: Path) -> None:
    plain = make_cluster(tmp_path)
    try:
        plain.kubectl("create", "secret", "generic", "s", "--from-literal=k=v")
        stored = raw_value(plain, "/registry/secrets/default/s")
        assert json.loads(stored)["data"] == {"k": "dg=="}
    finally:
        plain.stop()


def test_an_unreadable_secret_is_an_internal_error_and_the_rest_goes_on(tmp_path: Path) -> None:
    config = tmp_path / "encryption.yaml"

    def write(key_name: str) -> None:
        secret = base64.b64encode(b"0123456789abcdef").decode()
        config.write_text(
            "apiVersion: apiserver.config.k8s.io/v1\n"
            "kind: EncryptionConfiguration\n"
            "resources:\n"
            "  - resources: [secrets]\n"
            "    providers:\n"
            f"      - aesgcm: {{keys: [{{name: {key_name}, secret: {secret}}}]}}\n"
            "      - identity: {}\n"
        )

    write("first")
    c = make_cluster(
        tmp_path,
        "--encryption-provider-config",
        str(config),
        "--encryption-provider-config-automatic-reload",
    )
    try:
        c.kubectl("create", "secret", "generic", "s", "--from-literal=k=v")
        assert raw_value(c, "/registry/secrets/default/s").startswith(b"k8s:enc:aesgcm:v1:first:")
        write("second")

        def refused() -> str:
            result = c.kubectl("get", "secret", "s", "-o", "name", check=False)
            return result.stderr if result.returncode else ""

        message = wait_for("the reloaded key to be in force", refused)
        assert message.strip() == (
            "Error from server (InternalError): Internal error occurred: unable to transform "
            'key "/registry/secrets/default/s": no matching key was found for the provided '
            "AES transformer"
        )
        # Everything else works as before: other kinds, and new secrets with the new key.
        c.kubectl("create", "configmap", "still", "--from-literal=a=b")
        c.kubectl("create", "secret", "generic", "t", "--from-literal=k=w")
        assert secret_value(c, "default", "t") == "w"
    finally:
        c.stop()


def test_a_bad_configuration_stops_the_server_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "encryption.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "EncryptionConfiguration",
                "resources": [
                    {
                        "resources": ["secrets"],
                        "providers": [{"aescbc": {"keys": [{"name": "k", "secret": "c2hvcnQ="}]}}],
                    }
                ],
            }
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubelite",
            "server",
            "--data-dir",
            str(tmp_path / "data"),
            "--https-port",
            "0",
            "--bind-address",
            "127.0.0.1",
            "--disable-agent",
            "--disable-cluster-dns",
            "--encryption-provider-config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "error: error while parsing file: resources[0].providers[0].aescbc.keys[0].secret: "
        'Invalid value: "REDACTED": secret is not of the expected length, got 5, expected one '
        "of [16 24 32]"
    )
    assert not (tmp_path / "data" / "db").exists()
