"""Services' environment variables (pkg/kubelet/envvars and getServiceEnvVarMap)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.kubelet import envvars, service_env


def service(
    name: str, cluster_ip: str, ports: list[dict], namespace: str = "default", **spec: Any
) -> dict:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"bar": "baz"}, "clusterIP": cluster_ip, "ports": ports, **spec},
    }


def test_from_services_as_envvars_test_expects() -> None:
    services = [
        service("foo-bar", "1.2.3.4", [{"port": 8080, "protocol": "TCP"}]),
        service(
            "abc-123",
            "5.6.7.8",
            [
                {"name": "u-d-p", "port": 8081, "protocol": "UDP"},
                {"name": "t-c-p", "port": 8081, "protocol": "TCP"},
            ],
        ),
        service(
            "q-u-u-x",
            "9.8.7.6",
            [{"port": 8082, "protocol": "TCP"}, {"name": "8083", "port": 8083, "protocol": "TCP"}],
        ),
        service("svrc-clusterip-none", "None", [{"port": 8082, "protocol": "TCP"}]),
        service("svrc-clusterip-empty", "", [{"port": 8082, "protocol": "TCP"}]),
    ]
    assert service_env.from_services(services) == [
        ("FOO_BAR_SERVICE_HOST", "1.2.3.4"),
        ("FOO_BAR_SERVICE_PORT", "8080"),
        ("FOO_BAR_PORT", "tcp://1.2.3.4:8080"),
        ("FOO_BAR_PORT_8080_TCP", "tcp://1.2.3.4:8080"),
        ("FOO_BAR_PORT_8080_TCP_PROTO", "tcp"),
        ("FOO_BAR_PORT_8080_TCP_PORT", "8080"),
        ("FOO_BAR_PORT_8080_TCP_ADDR", "1.2.3.4"),
        ("ABC_123_SERVICE_HOST", "5.6.7.8"),
        ("ABC_123_SERVICE_PORT", "8081"),
        ("ABC_123_SERVICE_PORT_U_D_P", "8081"),
        ("ABC_123_SERVICE_PORT_T_C_P", "8081"),
        ("ABC_123_PORT", "udp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_UDP", "udp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_UDP_PROTO", "udp"),
        ("ABC_123_PORT_8081_UDP_PORT", "8081"),
        ("ABC_123_PORT_8081_UDP_ADDR", "5.6.7.8"),
        ("ABC_123_PORT_8081_TCP", "tcp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_TCP_PROTO", "tcp"),
        ("ABC_123_PORT_8081_TCP_PORT", "8081"),
        ("ABC_123_PORT_8081_TCP_ADDR", "5.6.7.8"),
        ("Q_U_U_X_SERVICE_HOST", "9.8.7.6"),
        ("Q_U_U_X_SERVICE_PORT", "8082"),
        ("Q_U_U_X_SERVICE_PORT_8083", "8083"),
        ("Q_U_U_X_PORT", "tcp://9.8.7.6:8082"),
        ("Q_U_U_X_PORT_8082_TCP", "tcp://9.8.7.6:8082"),
        ("Q_U_U_X_PORT_8082_TCP_PROTO", "tcp"),
        ("Q_U_U_X_PORT_8082_TCP_PORT", "8082"),
        ("Q_U_U_X_PORT_8082_TCP_ADDR", "9.8.7.6"),
        ("Q_U_U_X_PORT_8083_TCP", "tcp://9.8.7.6:8083"),
        ("Q_U_U_X_PORT_8083_TCP_PROTO", "tcp"),
        ("Q_U_U_X_PORT_8083_TCP_PORT", "8083"),
        ("Q_U_U_X_PORT_8083_TCP_ADDR", "9.8.7.6"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("redis-master", "REDIS_MASTER"), ("kubernetes", "KUBERNETES"), ("8083", "8083")],
)
def test_env_var_names(name: str, expected: str) -> None:
    assert service_env.env_var_name(name) == expected


def test_a_protocol_left_out_is_tcp() -> None:
    made = dict(service_env.from_services([service("s", "10.43.0.5", [{"port": 80}])]))
    assert made["S_PORT"] == "tcp://10.43.0.5:80" and made["S_PORT_80_TCP_PROTO"] == "tcp"


KUBERNETES = service("kubernetes", "10.43.0.1", [{"name": "https", "port": 443}])
KUBERNETES_VARS = {
    "KUBERNETES_SERVICE_HOST": "10.43.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": "tcp://10.43.0.1:443",
    "KUBERNETES_PORT_443_TCP": "tcp://10.43.0.1:443",
    "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443",
    "KUBERNETES_PORT_443_TCP_ADDR": "10.43.0.1",
}
CLUSTER = [
    KUBERNETES,
    service("web", "10.43.0.20", [{"port": 80}], namespace="shop"),
    service("db", "None", [{"port": 5432}], namespace="shop"),  # headless
    service("ext", "", [], namespace="shop", type="ExternalName", externalName="a.example"),
    service("other", "10.43.0.30", [{"port": 81}], namespace="elsewhere"),
    service("app", "10.43.0.40", [{"port": 82}], namespace="default"),
]


def _names(env: dict[str, str]) -> set[str]:
    return {name.split("_")[0] for name in env}


@pytest.mark.parametrize(
    ("namespace", "links", "prefixes"),
    [
        ("shop", True, {"KUBERNETES", "WEB"}),
        ("shop", False, {"KUBERNETES"}),
        ("default", True, {"KUBERNETES", "APP"}),
        ("default", False, {"KUBERNETES"}),
        ("empty", True, {"KUBERNETES"}),
    ],
)
def test_which_services_a_pod_sees(namespace: str, links: bool, prefixes: set[str]) -> None:
    made = service_env.service_env(CLUSTER, namespace, links)
    assert _names(made) == prefixes
    assert {k: v for k, v in made.items() if k.startswith("KUBERNETES")} == KUBERNETES_VARS


@pytest.mark.parametrize("order", [1, -1])
def test_a_namespaces_own_kubernetes_service_wins(order: int) -> None:
    own = service("kubernetes", "10.43.0.99", [{"port": 8443}], namespace="shop")
    made = service_env.service_env([KUBERNETES, own][::order], "shop", True)
    assert made["KUBERNETES_SERVICE_HOST"] == "10.43.0.99"
    # Without service links the default one is the only one.
    made = service_env.service_env([KUBERNETES, own][::order], "shop", False)
    assert made["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"


class NoObjects:
    def config_map(self, namespace: str, name: str) -> None:
        return None

    def secret(self, namespace: str, name: str) -> None:
        return None


async def test_a_containers_env_expands_service_variables_and_keeps_its_own_first() -> None:
    pod = {"metadata": {"name": "p", "namespace": "shop"}, "spec": {"containers": []}}
    container = {
        "name": "c",
        "env": [
            {"name": "URL", "value": "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"},
            {"name": "WEB_SERVICE_PORT", "value": "8080"},
        ],
    }
    services = service_env.service_env(CLUSTER, "shop", True)
    made = await envvars.container_env(pod, container, lookup=NoObjects(), service_env=services)
    env = made.as_dict()
    # $(VAR) sees the service variables; the container's own definition wins over them.
    assert env["URL"] == "http://10.43.0.20:80/"
    assert env["WEB_SERVICE_PORT"] == "8080"
    assert env["WEB_SERVICE_HOST"] == "10.43.0.20"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
    assert [name for name, _ in made.env][:2] == ["URL", "WEB_SERVICE_PORT"]
