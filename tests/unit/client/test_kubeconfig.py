"""Loading kubeconfigs as kubectl does: where from, how files merge, what a context selects."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelite.apiserver import certs
from kubelite.client import kubeconfig
from kubelite.client.kubeconfig import ClientConfig, ConfigError, load_config


def write_config(
    path: Path,
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str = "",
) -> Path:
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [{"name": n, "context": c} for n, c in (contexts or {}).items()],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the machine's own kubeconfig or kubelite's."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(kubeconfig, "KUBELITE_FALLBACK_FILE", tmp_path / "etc" / "kubelite.yaml")


def simple(path: Path, server: str = "https://a:6443", namespace: str = "") -> Path:
    context: dict[str, Any] = {"cluster": "c", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    return write_config(
        path,
        clusters={"c": {"server": server}},
        users={"u": {"token": "secret"}},
        contexts={"ctx": context},
        current="ctx",
    )


def test_explicit_path_is_used_and_must_exist(tmp_path: Path):
    config = load_config(kubeconfig=str(simple(tmp_path / "k.yaml")))
    assert config.server == "https://a:6443"
    assert config.token == "secret"
    with pytest.raises(ConfigError, match="no such file"):
        load_config(kubeconfig=str(tmp_path / "missing.yaml"))


def test_namespace_comes_from_the_context_else_default(tmp_path: Path):
    assert load_config(kubeconfig=str(simple(tmp_path / "a.yaml", namespace="team"))).namespace == (
        "team"
    )
    assert load_config(kubeconfig=str(simple(tmp_path / "b.yaml"))).namespace == "default"


def test_kubeconfig_env_merges_files_first_definition_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    first = write_config(
        tmp_path / "first.yaml",
        clusters={"c": {"server": "https://first"}},
        contexts={"one": {"cluster": "c", "user": "u"}},
    )
    second = write_config(
        tmp_path / "second.yaml",
        clusters={"c": {"server": "https://second"}, "d": {"server": "https://d"}},
        users={"u": {"token": "t2"}},
        contexts={"two": {"cluster": "d", "user": "u"}},
        current="one",
    )
    missing = tmp_path / "missing.yaml"
    monkeypatch.setenv("KUBECONFIG", f"{missing}:{first}:{second}")
    config = load_config()
    # current-context comes from the first file that sets one; cluster c from the first file.
    assert (config.context, config.server, config.token) == ("one", "https://first", "t2")
    assert load_config(context="two").server == "https://d"


def test_home_config_then_kubelite_fallback(tmp_path: Path):
    fallback = kubeconfig.KUBELITE_FALLBACK_FILE
    fallback.parent.mkdir(parents=True)
    simple(fallback, server="https://kubelite:6443")
    assert load_config().server == "https://kubelite:6443"
    home = Path(tmp_path / "home" / ".kube")
    home.mkdir(parents=True)
    simple(home / "config", server="https://home:6443")
    assert load_config().server == "https://home:6443"


def test_no_configuration_at_all_is_a_clear_error():
    with pytest.raises(ConfigError, match="no configuration has been provided"):
        load_config()


@pytest.mark.parametrize(
    ("contexts", "context", "message"),
    [
        ({"ctx": {"cluster": "c", "user": "u"}}, "other", "context was not found"),
        ({"ctx": {"cluster": "nope", "user": "u"}}, "ctx", 'cluster "nope"'),
    ],
)
def test_unknown_names_are_reported(
    tmp_path: Path, contexts: dict[str, Any], context: str, message: str
):
    path = write_config(
        tmp_path / "k.yaml", clusters={"c": {"server": "https://a"}}, contexts=contexts
    )
    with pytest.raises(ConfigError, match=message):
        load_config(kubeconfig=str(path), context=context)


def test_certificates_from_relative_files_and_from_data(tmp_path: Path):
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(b"CA")
    (tmp_path / "pki" / "token").write_text("from-file\n")
    path = write_config(
        tmp_path / "k.yaml",
        clusters={
            "c": {
                "server": "https://a/",
                "certificate-authority": "pki/ca.crt",
                "tls-server-name": "n",
            }
        },
        users={
            "u": {
                "client-certificate-data": base64.b64encode(b"CERT").decode(),
                "client-key-data": base64.b64encode(b"KEY").decode(),
                "tokenFile": "pki/token",
            }
        },
        contexts={"ctx": {"cluster": "c", "user": "u"}},
        current="ctx",
    )
    config = load_config(kubeconfig=str(path))
    assert config.server == "https://a"
    assert config.certificate_authority_data == b"CA"
    assert (config.client_certificate_data, config.client_key_data) == (b"CERT", b"KEY")
    assert config.token == "from-file"
    assert config.tls_server_name == "n"


def test_bad_base64_names_the_field(tmp_path: Path):
    path = write_config(
        tmp_path / "k.yaml",
        clusters={"c": {"server": "https://a", "certificate-authority-data": "%%%"}},
        contexts={"ctx": {"cluster": "c"}},
        current="ctx",
    )
    with pytest.raises(ConfigError, match="certificate-authority-data"):
        load_config(kubeconfig=str(path))


def test_ssl_context_trusts_the_ca_and_presents_the_client_certificate(tmp_path: Path):
    pki = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    config = ClientConfig(
        server="https://127.0.0.1:6443",
        certificate_authority_data=pki.ca_cert.read_bytes(),
        client_certificate_data=pki.admin_cert.read_bytes(),
        client_key_data=pki.admin_key.read_bytes(),
    )
    context = config.ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1


def test_insecure_skip_tls_verify_and_plain_http():
    insecure = ClientConfig(server="https://a", insecure_skip_tls_verify=True).ssl_context()
    assert insecure is not None and insecure.verify_mode == ssl.CERT_NONE
    assert ClientConfig(server="http://a").ssl_context() is None
