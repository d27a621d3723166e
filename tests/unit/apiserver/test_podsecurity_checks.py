"""The Pod Security checks, one table per check: pods each allows, and pods each refuses with
Kubernetes' reason and detail word for word (the cases of `pod-security-admission/policy/
check_*_test.go`, as JSON); then which checks a level runs at a version, and in what order."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.apiserver.podsecurity import baseline, restricted
from kubelite.apiserver.podsecurity.checks import (
    ALLOWED,
    CheckPod,
    aggregate,
    forbidden,
)
from kubelite.apiserver.podsecurity.levels import (
    BASELINE,
    LATEST,
    PRIVILEGED,
    RESTRICTED,
    LevelVersion,
    v1,
)
from kubelite.apiserver.podsecurity.registry import DEFAULT_CHECKS, EVALUATOR, Evaluator

Obj = dict[str, Any]


def sc(name: str, **context: Any) -> Obj:
    """A container with a securityContext."""
    return {"name": name, "securityContext": context}


# (check, pod metadata, pod spec, expected reason, expected detail); reason None: allowed.
Case = tuple[CheckPod, Obj, Obj, str | None, str]

CASES: dict[str, Case] = {
    # --- appArmorProfile
    "apparmor: default and localhost annotations": (
        baseline.app_armor_profile_1_0,
        {
            "annotations": {
                "container.apparmor.security.beta.kubernetes.io/a": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/b": "localhost/sec-profile01",
                "env": "prod",
            }
        },
        {},
        None,
        "",
    ),
    "apparmor: RuntimeDefault and Localhost fields": (
        baseline.app_armor_profile_1_0,
        {},
        {
            "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
            "containers": [sc("a", appArmorProfile={"type": "Localhost"})],
        },
        None,
        "",
    ),
    "apparmor: unconfined pod": (
        baseline.app_armor_profile_1_0,
        {},
        {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
        "forbidden AppArmor profile",
        'pod must not set AppArmor profile type to "Unconfined"',
    ),
    "apparmor: unconfined init container": (
        baseline.app_armor_profile_1_0,
        {},
        {
            "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "foo"}],
            "initContainers": [sc("bar", appArmorProfile={"type": "Unconfined"})],
        },
        "forbidden AppArmor profile",
        'container "bar" must not set AppArmor profile type to "Unconfined"',
    ),
    "apparmor: annotations": (
        baseline.app_armor_profile_1_0,
        {
            "annotations": {
                "container.apparmor.security.beta.kubernetes.io/": "bogus",
                "container.apparmor.security.beta.kubernetes.io/a": "",
                "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/c": "localhost/",
                "container.apparmor.security.beta.kubernetes.io/d": "localhost/foo",
                "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
                "container.apparmor.security.beta.kubernetes.io/f": "unknown",
            }
        },
        {},
        "forbidden AppArmor profiles",
        "annotations must not set AppArmor profile type to "
        '"container.apparmor.security.beta.kubernetes.io/="bogus"", '
        '"container.apparmor.security.beta.kubernetes.io/e="unconfined"", '
        '"container.apparmor.security.beta.kubernetes.io/f="unknown""',
    ),
    "apparmor: pod, container and annotation": (
        baseline.app_armor_profile_1_0,
        {"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}},
        {
            "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
            "containers": [sc("a", appArmorProfile={"type": "Unconfined"})],
        },
        "forbidden AppArmor profiles",
        'pod and container "a" and annotation must not set AppArmor profile type to '
        '"Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined""',
    ),
    # --- capabilities_baseline
    "capabilities baseline: default set": (
        baseline.capabilities_baseline_1_0,
        {},
        {"containers": [sc("a", capabilities={"add": ["CHOWN", "NET_BIND_SERVICE"]})]},
        None,
        "",
    ),
    "capabilities baseline: multiple containers": (
        baseline.capabilities_baseline_1_0,
        {},
        {
            "containers": [
                sc("a", capabilities={"add": ["FOO", "BAR"]}),
                sc("b", capabilities={"add": ["BAR", "BAZ"]}),
            ]
        },
        "non-default capabilities",
        'containers "a", "b" must not include "BAR", "BAZ", "FOO" in '
        "securityContext.capabilities.add",
    ),
    # --- hostNamespaces
    "host namespaces: none": (
        baseline.host_namespaces_1_0,
        {},
        {"hostNetwork": False, "containers": [{"name": "a"}]},
        None,
        "",
    ),
    "host namespaces: all three": (
        baseline.host_namespaces_1_0,
        {},
        {"hostIPC": True, "hostPID": True, "hostNetwork": True},
        "host namespaces",
        "hostNetwork=true, hostPID=true, hostIPC=true",
    ),
    # --- hostPathVolumes
    "hostPath volumes: none": (
        baseline.host_path_volumes_1_0,
        {},
        {"volumes": [{"name": "c", "emptyDir": {}}]},
        None,
        "",
    ),
    "hostPath volumes: two": (
        baseline.host_path_volumes_1_0,
        {},
        {
            "volumes": [
                {"name": "a", "hostPath": {"path": "/a"}},
                {"name": "b", "hostPath": {"path": "/b"}},
                {"name": "c", "emptyDir": {}},
            ]
        },
        "hostPath volumes",
        'volumes "a", "b"',
    ),
    # --- hostPorts
    "host ports: 0 is none": (
        baseline.host_ports_1_0,
        {},
        {"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 0}]}]},
        None,
        "",
    ),
    "host ports: one container": (
        baseline.host_ports_1_0,
        {},
        {
            "containers": [
                {"name": "a", "ports": [{"hostPort": 0}]},
                {"name": "b", "ports": [{"hostPort": 0}, {"hostPort": 20}]},
            ]
        },
        "hostPort",
        'container "b" uses hostPort 20',
    ),
    "host ports: sorted as strings": (
        baseline.host_ports_1_0,
        {},
        {
            "containers": [
                {"name": "a", "ports": [{"hostPort": 0}]},
                {"name": "b", "ports": [{"hostPort": 0}, {"hostPort": 9}, {"hostPort": 20}]},
                {"name": "c", "ports": [{"hostPort": 0}, {"hostPort": 9}, {"hostPort": 100}]},
            ]
        },
        "hostPort",
        'containers "b", "c" use hostPorts 100, 20, 9',
    ),
    # --- privileged
    # --- hostProbesAndHostLifecycle (check_hostProbesAndhostLifecycle_test.go)
    "probe host: unset hosts": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {
            "containers": [
                {
                    "name": "a",
                    "livenessProbe": {"httpGet": {"port": 80}},
                    "readinessProbe": {"tcpSocket": {"port": 80, "host": ""}},
                    "lifecycle": {"postStart": {"httpGet": {"port": 80}}},
                }
            ]
        },
        None,
        "",
    ),
    "probe host: local host IPs and localhost too": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {
            "containers": [
                {
                    "name": "a",
                    "livenessProbe": {"httpGet": {"host": "127.0.0.1", "port": 80}},
                    "readinessProbe": {"tcpSocket": {"host": "::1", "port": 80}},
                    "startupProbe": {"httpGet": {"host": "localhost", "port": 80}},
                }
            ]
        },
        "probe or lifecycle host",
        'container "a" uses probe or lifecycle hosts "127.0.0.1", "::1", "localhost"',
    ),
    "probe host: liveness httpGet": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"host": "invalid.host"}}}]},
        "probe or lifecycle host",
        'container "a" uses probe or lifecycle host "invalid.host"',
    ),
    "probe host: readiness tcpSocket": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {"containers": [{"name": "b", "readinessProbe": {"tcpSocket": {"host": "invalid.host"}}}]},
        "probe or lifecycle host",
        'container "b" uses probe or lifecycle host "invalid.host"',
    ),
    "probe host: startup httpGet": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {"containers": [{"name": "c", "startupProbe": {"httpGet": {"host": "invalid.host"}}}]},
        "probe or lifecycle host",
        'container "c" uses probe or lifecycle host "invalid.host"',
    ),
    "probe host: postStart tcpSocket": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {
            "containers": [
                {"name": "d", "lifecycle": {"postStart": {"tcpSocket": {"host": "invalid.host"}}}}
            ]
        },
        "probe or lifecycle host",
        'container "d" uses probe or lifecycle host "invalid.host"',
    ),
    "probe host: preStop httpGet": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {
            "containers": [
                {
                    "name": "e",
                    "lifecycle": {"preStop": {"httpGet": {"host": "another.invalid.host"}}},
                }
            ]
        },
        "probe or lifecycle host",
        'container "e" uses probe or lifecycle host "another.invalid.host"',
    ),
    "probe host: containers and hosts each once, sorted": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {
            "containers": [
                {"name": "valid"},
                {"name": "invalid2", "livenessProbe": {"httpGet": {"host": "b.com"}}},
                {
                    "name": "invalid1",
                    "lifecycle": {"preStop": {"tcpSocket": {"host": "b.com"}}},
                    "startupProbe": {"httpGet": {"host": "a.com"}},
                },
            ]
        },
        "probe or lifecycle host",
        'containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com"',
    ),
    "probe host: IPv4 and IPv6": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {
            "containers": [
                {"name": "a", "livenessProbe": {"httpGet": {"host": "8.8.8.8"}}},
                {"name": "b", "livenessProbe": {"tcpSocket": {"host": "2001:4860:4860::8888"}}},
            ]
        },
        "probe or lifecycle host",
        'containers "a", "b" use probe or lifecycle hosts "2001:4860:4860::8888", "8.8.8.8"',
    ),
    "probe host: init and ephemeral containers": (
        baseline.host_probes_and_host_lifecycle_1_34,
        {},
        {
            "initContainers": [
                {"name": "init", "livenessProbe": {"httpGet": {"host": "invalid.init.host"}}}
            ],
            "containers": [{"name": "c"}],
            "ephemeralContainers": [
                {"name": "debug", "lifecycle": {"postStart": {"httpGet": {"host": "x"}}}}
            ],
        },
        "probe or lifecycle host",
        'containers "debug", "init" use probe or lifecycle hosts "invalid.init.host", "x"',
    ),
    "privileged: false and unset": (
        baseline.privileged_1_0,
        {},
        {"containers": [{"name": "a"}, sc("b"), sc("c", privileged=False)]},
        None,
        "",
    ),
    "privileged: two containers": (
        baseline.privileged_1_0,
        {},
        {
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("c", privileged=False),
                sc("d", privileged=True),
                sc("e", privileged=True),
            ]
        },
        "privileged",
        'containers "d", "e" must not set securityContext.privileged=true',
    ),
    "privileged: init and ephemeral containers too, init first": (
        baseline.privileged_1_0,
        {},
        {
            "containers": [sc("c", privileged=True)],
            "initContainers": [sc("i", privileged=True)],
            "ephemeralContainers": [sc("e", privileged=True)],
        },
        "privileged",
        'containers "i", "c", "e" must not set securityContext.privileged=true',
    ),
    # --- procMount
    "procMount: Default": (
        baseline.proc_mount_1_0,
        {},
        {"containers": [sc("a", procMount="Default")]},
        None,
        "",
    ),
    "procMount: Unmasked and other": (
        baseline.proc_mount_1_0,
        {},
        {
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("c", procMount="Default"),
                sc("d", procMount="Unmasked"),
                sc("e", procMount="other"),
            ],
            # Not relaxed for user namespaces before v1.35.
            "hostUsers": False,
        },
        "procMount",
        'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"',
    ),
    "procMount v1.35: any value in a user namespace": (
        baseline.proc_mount_1_35,
        {},
        {"hostUsers": False, "containers": [sc("a", procMount="Unmasked")]},
        None,
        "",
    ),
    "procMount v1.35: host users set true": (
        baseline.proc_mount_1_35,
        {},
        {"hostUsers": True, "containers": [sc("a", procMount="Unmasked")]},
        "procMount",
        'container "a" must not set securityContext.procMount to "Unmasked"',
    ),
    "procMount v1.35: host users unset": (
        baseline.proc_mount_1_35,
        {},
        {"initContainers": [sc("i", procMount="Unmasked")], "containers": [{"name": "a"}]},
        "procMount",
        'container "i" must not set securityContext.procMount to "Unmasked"',
    ),
    "procMount_restricted: not relaxed in a user namespace": (
        restricted.proc_mount_restricted_1_35,
        {},
        {
            "hostUsers": False,
            "containers": [sc("a", procMount="Unmasked"), sc("b", procMount="Unmasked")],
        },
        "procMount",
        'containers "a", "b" must not set securityContext.procMount to "Unmasked"',
    ),
    "procMount_restricted: Default": (
        restricted.proc_mount_restricted_1_35,
        {},
        {"hostUsers": False, "containers": [sc("a", procMount="Default")]},
        None,
        "",
    ),
    # --- seLinuxOptions
    "seLinuxOptions: container types": (
        baseline.se_linux_options_1_31,
        {},
        {
            "securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s0:c1"}},
            "containers": [
                sc("a", seLinuxOptions={"type": "container_init_t"}),
                sc("b", seLinuxOptions={"type": "container_kvm_t"}),
                sc("c", seLinuxOptions={"type": "container_engine_t"}),
            ],
        },
        None,
        "",
    ),
    "seLinuxOptions: container_engine_t only from v1.31": (
        baseline.se_linux_options_1_0,
        {},
        {"containers": [sc("d", seLinuxOptions={"type": "container_engine_t"})]},
        "seLinuxOptions",
        'container "d" set forbidden securityContext.seLinuxOptions: type "container_engine_t"',
    ),
    "seLinuxOptions: pod and containers": (
        baseline.se_linux_options_1_31,
        {},
        {
            "securityContext": {"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}},
            "containers": [
                sc("a", seLinuxOptions={"type": "container_t"}),
                sc("d", seLinuxOptions={"type": "container_engine_t"}),
                sc("e", seLinuxOptions={"type": "bar"}),
                sc("f", seLinuxOptions={"user": "bar"}),
                sc("g", seLinuxOptions={"role": "baz"}),
            ],
        },
        "seLinuxOptions",
        'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: '
        'types "bar", "foo"; user may not be set; role may not be set',
    ),
    "seLinuxOptions: user alone": (
        baseline.se_linux_options_1_31,
        {},
        {"securityContext": {"seLinuxOptions": {"user": "bad"}}},
        "seLinuxOptions",
        "pod set forbidden securityContext.seLinuxOptions: user may not be set",
    ),
    # --- seccompProfile_baseline
    "seccomp baseline: RuntimeDefault, Localhost or unset": (
        baseline.seccomp_profile_baseline_1_19,
        {},
        {
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a"}, sc("b", seccompProfile={"type": "Localhost"})],
        },
        None,
        "",
    ),
    "seccomp baseline: pod and containers unconfined": (
        baseline.seccomp_profile_baseline_1_19,
        {},
        {
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("c", seccompProfile={"type": "Unconfined"}),
                sc("d", seccompProfile={"type": "Unconfined"}),
                sc("e", seccompProfile={"type": "RuntimeDefault"}),
            ],
        },
        "seccompProfile",
        'pod and containers "c", "d" must not set securityContext.seccompProfile.type to '
        '"Unconfined"',
    ),
    "seccomp baseline before v1.19: annotations": (
        baseline.seccomp_profile_baseline_1_0,
        {
            "annotations": {
                "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                "container.seccomp.security.alpha.kubernetes.io/a": "unconfined",
                "container.seccomp.security.alpha.kubernetes.io/b": "unknown",
            }
        },
        {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
        "seccompProfile",
        'forbidden annotations container.seccomp.security.alpha.kubernetes.io/a="unconfined", '
        'container.seccomp.security.alpha.kubernetes.io/b="unknown", '
        'seccomp.security.alpha.kubernetes.io/pod="unconfined"',
    ),
    # --- sysctls
    "sysctls: safe at v1.32": (
        baseline.sysctls_1_32,
        {},
        {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "4096"}]}},
        None,
        "",
    ),
    "sysctls: in the order given": (
        baseline.sysctls_1_0,
        {},
        {"securityContext": {"sysctls": [{"name": "b"}, {"name": "a"}]}},
        "forbidden sysctls",
        "b, a",
    ),
    "sysctls: ip_local_reserved_ports only from v1.27": (
        baseline.sysctls_1_0,
        {},
        {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_reserved_ports"}]}},
        "forbidden sysctls",
        "net.ipv4.ip_local_reserved_ports",
    ),
    "sysctls: tcp_slow_start_after_idle and tcp_notsent_lowat from v1.37": (
        baseline.sysctls_1_37,
        {},
        {
            "securityContext": {
                "sysctls": [
                    {"name": "net.ipv4.tcp_slow_start_after_idle", "value": "0"},
                    {"name": "net.ipv4.tcp_notsent_lowat", "value": "16384"},
                    {"name": "net.ipv4.tcp_rmem", "value": "4096 87380 16777216"},
                ]
            }
        },
        None,
        "",
    ),
    "sysctls: tcp_slow_start_after_idle and tcp_notsent_lowat not before v1.37": (
        baseline.sysctls_1_32,
        {},
        {
            "securityContext": {
                "sysctls": [
                    {"name": "net.ipv4.tcp_notsent_lowat"},
                    {"name": "net.ipv4.tcp_rmem"},
                    {"name": "net.ipv4.tcp_slow_start_after_idle"},
                ]
            }
        },
        "forbidden sysctls",
        "net.ipv4.tcp_notsent_lowat, net.ipv4.tcp_slow_start_after_idle",
    ),
    "sysctls: still forbidden at v1.37": (
        baseline.sysctls_1_37,
        {},
        {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_congestion_control"}]}},
        "forbidden sysctls",
        "net.ipv4.tcp_congestion_control",
    ),
    "sysctls: tcp_rmem only from v1.32": (
        baseline.sysctls_1_29,
        {},
        {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem"}]}},
        "forbidden sysctls",
        "net.ipv4.tcp_rmem",
    ),
    # --- windowsHostProcess
    "hostProcess: false": (
        baseline.windows_host_process_1_0,
        {},
        {"containers": [sc("a", windowsOptions={"hostProcess": False})]},
        None,
        "",
    ),
    "hostProcess: pod and containers": (
        baseline.windows_host_process_1_0,
        {},
        {
            "securityContext": {"windowsOptions": {"hostProcess": True}},
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("c", windowsOptions={}),
                sc("d", windowsOptions={"hostProcess": False}),
                sc("e", windowsOptions={"hostProcess": True}),
                sc("f", windowsOptions={"hostProcess": True}),
            ],
        },
        "hostProcess",
        'pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true',
    ),
    # --- allowPrivilegeEscalation
    "allowPrivilegeEscalation: false": (
        restricted.allow_privilege_escalation_1_25,
        {},
        {"containers": [sc("a", allowPrivilegeEscalation=False)]},
        None,
        "",
    ),
    "allowPrivilegeEscalation: unset, empty and true": (
        restricted.allow_privilege_escalation_1_25,
        {},
        {
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("c", allowPrivilegeEscalation=True),
                sc("d", allowPrivilegeEscalation=False),
            ]
        },
        "allowPrivilegeEscalation != false",
        'containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false',
    ),
    "allowPrivilegeEscalation: Windows pods exempt from v1.25": (
        restricted.allow_privilege_escalation_1_25,
        {},
        {"os": {"name": "windows"}, "containers": [{"name": "a"}]},
        None,
        "",
    ),
    "allowPrivilegeEscalation: Windows pods not exempt before v1.25": (
        restricted.allow_privilege_escalation_1_8,
        {},
        {"os": {"name": "windows"}, "containers": [{"name": "a"}]},
        "allowPrivilegeEscalation != false",
        'container "a" must set securityContext.allowPrivilegeEscalation=false',
    ),
    "allowPrivilegeEscalation: Linux pods": (
        restricted.allow_privilege_escalation_1_25,
        {},
        {"os": {"name": "linux"}, "containers": [{"name": "a"}]},
        "allowPrivilegeEscalation != false",
        'container "a" must set securityContext.allowPrivilegeEscalation=false',
    ),
    # --- capabilities_restricted
    "capabilities restricted: drop ALL, add NET_BIND_SERVICE": (
        restricted.capabilities_restricted_1_25,
        {},
        {"containers": [sc("a", capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})]},
        None,
        "",
    ),
    "capabilities restricted: multiple containers": (
        restricted.capabilities_restricted_1_22,
        {},
        {
            "containers": [
                sc("a", capabilities={"add": ["FOO", "BAR"]}),
                sc("b", capabilities={"add": ["BAR", "BAZ"]}),
                sc(
                    "c", capabilities={"add": ["NET_BIND_SERVICE", "CHOWN"], "drop": ["ALL", "FOO"]}
                ),
            ]
        },
        "unrestricted capabilities",
        'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; '
        'containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in '
        "securityContext.capabilities.add",
    ),
    "capabilities restricted: no capabilities": (
        restricted.capabilities_restricted_1_25,
        {},
        {"containers": [{"name": "a"}, sc("b")]},
        "unrestricted capabilities",
        'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]',
    ),
    "capabilities restricted: Windows pods exempt from v1.25": (
        restricted.capabilities_restricted_1_25,
        {},
        {"os": {"name": "windows"}, "containers": [{"name": "a"}]},
        None,
        "",
    ),
    # --- restrictedVolumes
    "restricted volumes: allowed types": (
        restricted.restricted_volumes_1_0,
        {},
        {
            "volumes": [
                {"name": "a1", "emptyDir": {}},
                {"name": "a2", "secret": {}},
                {"name": "a3", "persistentVolumeClaim": {"claimName": "c"}},
                {"name": "a4", "downwardAPI": {}},
                {"name": "a5", "configMap": {}},
                {"name": "a6", "projected": {}},
                {"name": "a7", "csi": {"driver": "d"}},
                {"name": "a8", "ephemeral": {}},
                {"name": "a9", "image": {"reference": "r"}},
            ]
        },
        None,
        "",
    ),
    "restricted volumes: every restricted type and an unknown one": (
        restricted.restricted_volumes_1_0,
        {},
        {
            "volumes": [
                {"name": f"b{i}", type_: {}}
                for i, type_ in enumerate(restricted.RESTRICTED_VOLUME_TYPES, 1)
            ]
            + [{"name": "c1"}]
        },
        "restricted volume types",
        'volumes "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", '
        '"b13", "b14", "b15", "b16", "b17", "b18", "b19", "b20", "b21", "c1" use restricted '
        'volume types "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", '
        '"fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", '
        '"hostPath", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", '
        '"rbd", "scaleIO", "storageos", "unknown", "vsphereVolume"',
    ),
    "restricted volumes: one": (
        restricted.restricted_volumes_1_0,
        {},
        {"volumes": [{"name": "host", "hostPath": {"path": "/"}}]},
        "restricted volume types",
        'volume "host" uses restricted volume type "hostPath"',
    ),
    # --- runAsNonRoot
    "runAsNonRoot: at pod level": (
        restricted.run_as_non_root_1_0,
        {},
        {"securityContext": {"runAsNonRoot": True}, "containers": [{"name": "a"}, sc("b")]},
        None,
        "",
    ),
    "runAsNonRoot: on every container": (
        restricted.run_as_non_root_1_0,
        {},
        {
            "containers": [sc("a", runAsNonRoot=True)],
            "initContainers": [sc("i", runAsNonRoot=True)],
        },
        None,
        "",
    ),
    "runAsNonRoot: nowhere": (
        restricted.run_as_non_root_1_0,
        {},
        {"containers": [{"name": "a"}]},
        "runAsNonRoot != true",
        'pod or container "a" must set securityContext.runAsNonRoot=true',
    ),
    "runAsNonRoot: pod false": (
        restricted.run_as_non_root_1_0,
        {},
        {"securityContext": {"runAsNonRoot": False}, "containers": [{"name": "a"}]},
        "runAsNonRoot != true",
        "pod must not set securityContext.runAsNonRoot=false",
    ),
    "runAsNonRoot: containers false": (
        restricted.run_as_non_root_1_0,
        {},
        {
            "securityContext": {"runAsNonRoot": True},
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("c", runAsNonRoot=False),
                sc("d", runAsNonRoot=False),
                sc("e", runAsNonRoot=True),
            ],
        },
        "runAsNonRoot != true",
        'containers "c", "d" must not set securityContext.runAsNonRoot=false',
    ),
    "runAsNonRoot: pod unset, containers fall through": (
        restricted.run_as_non_root_1_0,
        {},
        {"containers": [{"name": "a"}, sc("b"), sc("d", runAsNonRoot=True)]},
        "runAsNonRoot != true",
        'pod or containers "a", "b" must set securityContext.runAsNonRoot=true',
    ),
    "runAsNonRoot: not relaxed for user namespaces before v1.35": (
        restricted.run_as_non_root_1_0,
        {},
        {"hostUsers": False, "containers": [{"name": "a"}]},
        "runAsNonRoot != true",
        'pod or container "a" must set securityContext.runAsNonRoot=true',
    ),
    "runAsNonRoot v1.35: anything in a user namespace": (
        restricted.run_as_non_root_1_35,
        {},
        {
            "hostUsers": False,
            "securityContext": {"runAsNonRoot": False},
            "containers": [{"name": "a"}, sc("b", runAsNonRoot=False)],
        },
        None,
        "",
    ),
    "runAsNonRoot v1.35: host users": (
        restricted.run_as_non_root_1_35,
        {},
        {"hostUsers": True, "containers": [{"name": "a"}, sc("b", runAsNonRoot=False)]},
        "runAsNonRoot != true",
        'container "b" must not set securityContext.runAsNonRoot=false',
    ),
    "runAsNonRoot v1.35: host users unset": (
        restricted.run_as_non_root_1_35,
        {},
        {"containers": [{"name": "a"}]},
        "runAsNonRoot != true",
        'pod or container "a" must set securityContext.runAsNonRoot=true',
    ),
    # --- runAsUser
    "runAsUser: non-zero and unset": (
        restricted.run_as_user_1_23,
        {},
        {
            "securityContext": {"runAsUser": 1000},
            "containers": [{"name": "a"}, sc("b", runAsUser=1)],
        },
        None,
        "",
    ),
    "runAsUser: pod 0": (
        restricted.run_as_user_1_23,
        {},
        {"securityContext": {"runAsUser": 0}, "containers": [{"name": "a"}]},
        "runAsUser=0",
        "pod must not set runAsUser=0",
    ),
    "runAsUser: pod and containers 0": (
        restricted.run_as_user_1_23,
        {},
        {
            "securityContext": {"runAsUser": 0},
            "containers": [
                sc("b"),
                sc("c", runAsUser=0),
                sc("d", runAsUser=0),
                sc("e", runAsUser=1),
            ],
        },
        "runAsUser=0",
        'pod and containers "c", "d" must not set runAsUser=0',
    ),
    "runAsUser: not relaxed for user namespaces before v1.35": (
        restricted.run_as_user_1_23,
        {},
        {"hostUsers": False, "securityContext": {"runAsUser": 0}, "containers": [{"name": "a"}]},
        "runAsUser=0",
        "pod must not set runAsUser=0",
    ),
    "runAsUser v1.35: 0 in a user namespace": (
        restricted.run_as_user_1_35,
        {},
        {
            "hostUsers": False,
            "securityContext": {"runAsUser": 0},
            "containers": [sc("a", runAsUser=0)],
        },
        None,
        "",
    ),
    "runAsUser v1.35: host users": (
        restricted.run_as_user_1_35,
        {},
        {"hostUsers": True, "containers": [sc("a", runAsUser=0)]},
        "runAsUser=0",
        'container "a" must not set runAsUser=0',
    ),
    # --- seccompProfile_restricted
    "seccomp restricted: at pod level": (
        restricted.seccomp_profile_restricted_1_25,
        {},
        {
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a"}],
        },
        None,
        "",
    ),
    "seccomp restricted: nowhere": (
        restricted.seccomp_profile_restricted_1_19,
        {},
        {"containers": [{"name": "a"}]},
        "seccompProfile",
        'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost"',
    ),
    "seccomp restricted: pod unconfined": (
        restricted.seccomp_profile_restricted_1_19,
        {},
        {
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "a"}],
        },
        "seccompProfile",
        'pod must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    "seccomp restricted: containers unconfined": (
        restricted.seccomp_profile_restricted_1_19,
        {},
        {
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("c", seccompProfile={"type": "Unconfined"}),
                sc("d", seccompProfile={"type": "Unconfined"}),
                sc("e", seccompProfile={"type": "RuntimeDefault"}),
            ],
        },
        "seccompProfile",
        'containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    "seccomp restricted: pod unset, containers fall through": (
        restricted.seccomp_profile_restricted_1_19,
        {},
        {
            "containers": [
                {"name": "a"},
                sc("b"),
                sc("d", seccompProfile={"type": "RuntimeDefault"}),
                sc("e", seccompProfile={"type": "Localhost", "localhostProfile": "p"}),
            ]
        },
        "seccompProfile",
        'pod or containers "a", "b" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost"',
    ),
    "seccomp restricted: Windows pods exempt from v1.25": (
        restricted.seccomp_profile_restricted_1_25,
        {},
        {"os": {"name": "windows"}, "containers": [{"name": "a"}]},
        None,
        "",
    ),
}


@pytest.mark.parametrize(
    ("check", "metadata", "spec", "reason", "detail"), CASES.values(), ids=CASES
)
def test_check(check: CheckPod, metadata: Obj, spec: Obj, reason: str | None, detail: str) -> None:
    result = check(metadata, spec)
    if reason is None:
        assert result == ALLOWED
    else:
        assert (result.allowed, result.forbidden_reason, result.forbidden_detail) == (
            False,
            reason,
            detail,
        )


# --- aggregation ------------------------------------------------------------------------------


def test_aggregate_keeps_check_order_and_puts_details_in_parentheses() -> None:
    total = aggregate(
        [
            forbidden("host namespaces", "hostNetwork=true"),
            ALLOWED,
            forbidden("privileged"),
            forbidden(""),
        ]
    )
    assert not total.allowed
    assert total.forbidden_reason() == "host namespaces, privileged, unknown forbidden reason"
    assert total.forbidden_detail() == (
        "host namespaces (hostNetwork=true), privileged, unknown forbidden reason"
    )
    assert aggregate([ALLOWED]).allowed


# --- registry: which checks a level runs at a version -------------------------------------------

# A pod that breaks every rule.
WORST_POD: Obj = {
    "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}},
    "spec": {
        "hostNetwork": True,
        "securityContext": {
            "runAsUser": 0,
            "seccompProfile": {"type": "Unconfined"},
            "sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}, {"name": "kernel.msgmax"}],
            "seLinuxOptions": {"type": "container_engine_t"},
        },
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        "containers": [
            {
                "name": "c",
                "ports": [{"containerPort": 80, "hostPort": 80}],
                "readinessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}},
                "securityContext": {
                    "privileged": True,
                    "procMount": "Unmasked",
                    "capabilities": {"add": ["SYS_ADMIN"]},
                    "windowsOptions": {"hostProcess": True},
                },
            }
        ],
    },
}


def reasons(level: str, version: Any, pod: Obj = WORST_POD) -> list[str]:
    results = EVALUATOR.evaluate_pod(LevelVersion(level, version), pod["metadata"], pod["spec"])
    return aggregate(results).reasons


def test_privileged_runs_no_check() -> None:
    assert reasons(PRIVILEGED, LATEST) == []


def test_baseline_runs_the_baseline_checks_in_the_order_of_their_ids() -> None:
    assert reasons(BASELINE, LATEST) == [
        "forbidden AppArmor profile",  # appArmorProfile
        "non-default capabilities",  # capabilities_baseline
        "host namespaces",  # hostNamespaces
        "hostPath volumes",  # hostPathVolumes
        "hostPort",  # hostPorts
        "probe or lifecycle host",  # hostProbesAndHostLifecycle
        "privileged",  # privileged
        "procMount",  # procMount
        "seccompProfile",  # seccompProfile_baseline (seLinuxOptions allows engine_t at latest)
        "forbidden sysctls",  # sysctls
        "hostProcess",  # windowsHostProcess
    ]


def test_restricted_runs_baseline_checks_not_overridden_then_restricted_checks() -> None:
    assert reasons(RESTRICTED, LATEST) == [
        "forbidden AppArmor profile",
        "host namespaces",
        "hostPort",
        "probe or lifecycle host",
        "privileged",
        "forbidden sysctls",
        "hostProcess",
        "allowPrivilegeEscalation != false",
        "unrestricted capabilities",  # capabilities_restricted, in place of capabilities_baseline
        "procMount",  # procMount_restricted, in place of procMount
        "restricted volume types",  # restrictedVolumes, in place of hostPathVolumes
        "runAsNonRoot != true",
        "runAsUser=0",
        "seccompProfile",  # seccompProfile_restricted, in place of seccompProfile_baseline
    ]


def test_versions_after_the_newest_check_revision_evaluate_as_latest() -> None:
    # The newest revision in Kubernetes 1.37 is sysctls' v1.37: latest, and v1.38 on, are all
    # policy v1.37.
    assert EVALUATOR.max_version == v1(37)
    for version in (v1(37), v1(38), v1(99)):
        assert reasons(RESTRICTED, version) == reasons(RESTRICTED, LATEST)
        assert reasons(BASELINE, version) == reasons(BASELINE, LATEST)
    sysctl_pod = {
        "metadata": {},
        "spec": {
            "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat"}]},
            "containers": [{"name": "c"}],
        },
    }
    assert reasons(BASELINE, LATEST, sysctl_pod) == []
    assert reasons(BASELINE, v1(36), sysctl_pod) == ["forbidden sysctls"]


def test_an_emulated_older_minor_evaluates_latest_as_that_minor() -> None:
    # A 1.37 API server emulating 1.33 (NewEvaluator's emulationVersion): latest is v1.33, so
    # the probe host check of v1.34 does not run; an emulated version at or after the newest
    # revision changes nothing.
    emulating = Evaluator(DEFAULT_CHECKS, emulation_version=v1(33))
    spec = {"containers": [{"name": "c", "startupProbe": {"httpGet": {"host": "localhost"}}}]}
    assert emulating.max_version == v1(33)
    assert emulating.evaluate_pod(LevelVersion(BASELINE, LATEST), {}, spec) == (
        emulating.evaluate_pod(LevelVersion(BASELINE, v1(33)), {}, spec)
    )
    assert aggregate(emulating.evaluate_pod(LevelVersion(BASELINE, LATEST), {}, spec)).allowed
    assert aggregate(emulating.evaluate_pod(LevelVersion(BASELINE, v1(34)), {}, spec)).allowed
    assert not aggregate(EVALUATOR.evaluate_pod(LevelVersion(BASELINE, LATEST), {}, spec)).allowed
    assert Evaluator(DEFAULT_CHECKS, emulation_version=v1(40)).max_version == v1(37)


def test_older_versions_run_the_revisions_of_their_time() -> None:
    at = {minor: reasons(RESTRICTED, v1(minor)) for minor in (0, 8, 19, 21, 22, 23, 26, 28)}
    # runAsUser from v1.23, allowPrivilegeEscalation from v1.8.
    assert "runAsUser=0" not in at[22] and "runAsUser=0" in at[23]
    assert "allowPrivilegeEscalation != false" not in at[0]
    assert "allowPrivilegeEscalation != false" in at[8]
    # Before v1.22 the restricted level keeps capabilities_baseline.
    assert "non-default capabilities" in at[21] and "unrestricted capabilities" not in at[21]
    assert "unrestricted capabilities" in at[22] and "non-default capabilities" not in at[22]
    # Before v1.19 seccomp is read from the annotations only (none here): no seccomp reason.
    assert "seccompProfile" not in at[8] and "seccompProfile" in at[19]
    # seLinuxOptions allows container_engine_t from v1.31 on.
    assert "seLinuxOptions" in reasons(BASELINE, v1(30))
    assert "seLinuxOptions" not in reasons(BASELINE, v1(31))
    # A host on a probe is refused from v1.34 on.
    assert "probe or lifecycle host" not in reasons(BASELINE, v1(33))
    assert "probe or lifecycle host" in reasons(BASELINE, v1(34))
    # Before v1.35 the restricted level runs baseline's procMount, in its place among the
    # baseline checks; from v1.35 procMount_restricted, among the restricted ones.
    before, after = reasons(RESTRICTED, v1(34)), reasons(RESTRICTED, v1(35))
    assert before.index("procMount") == before.index("privileged") + 1
    assert after.index("procMount") == after.index("unrestricted capabilities") + 1
    assert before.count("procMount") == after.count("procMount") == 1


# A pod in a user namespace that runs as root, unmasks /proc and is otherwise restricted.
USER_NAMESPACE_POD: Obj = {
    "metadata": {},
    "spec": {
        "hostUsers": False,
        "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "procMount": "Unmasked",
                    "runAsNonRoot": False,
                },
            }
        ],
    },
}


@pytest.mark.parametrize(
    ("level", "minor", "expected"),
    [
        (BASELINE, 34, ["procMount"]),
        (BASELINE, 35, []),
        (BASELINE, 37, []),
        (RESTRICTED, 34, ["procMount", "runAsNonRoot != true", "runAsUser=0"]),
        (RESTRICTED, 35, ["procMount"]),
        (RESTRICTED, 37, ["procMount"]),
    ],
)
def test_user_namespace_pods_are_relaxed_from_v1_35(
    level: str, minor: int, expected: list[str]
) -> None:
    assert reasons(level, v1(minor), USER_NAMESPACE_POD) == expected
    if minor == 37:
        assert reasons(level, LATEST, USER_NAMESPACE_POD) == expected


@pytest.mark.parametrize(
    ("minor", "detail"),
    [
        (
            26,
            "net.ipv4.ip_local_reserved_ports, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_rmem, "
            "net.ipv4.tcp_slow_start_after_idle",
        ),
        (27, "net.ipv4.tcp_keepalive_time, net.ipv4.tcp_rmem, net.ipv4.tcp_slow_start_after_idle"),
        (29, "net.ipv4.tcp_rmem, net.ipv4.tcp_slow_start_after_idle"),
        (32, "net.ipv4.tcp_slow_start_after_idle"),
        (36, "net.ipv4.tcp_slow_start_after_idle"),
        (37, ""),
    ],
)
def test_sysctls_allowed_grow_with_the_version(minor: int, detail: str) -> None:
    spec = {
        "securityContext": {
            "sysctls": [
                {"name": "net.ipv4.ip_local_reserved_ports"},
                {"name": "net.ipv4.tcp_keepalive_time"},
                {"name": "net.ipv4.tcp_rmem"},
                {"name": "net.ipv4.tcp_slow_start_after_idle"},
            ]
        },
        "containers": [{"name": "c"}],
    }
    total = aggregate(EVALUATOR.evaluate_pod(LevelVersion(BASELINE, v1(minor)), {}, spec))
    assert total.forbidden_detail() == (f"forbidden sysctls ({detail})" if detail else "")


def test_windows_pods_are_exempt_from_linux_only_restricted_checks_from_v1_25() -> None:
    pod = {
        "metadata": {},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "c"}],
        },
    }
    assert reasons(RESTRICTED, v1(25), pod) == []
    assert reasons(RESTRICTED, v1(24), pod) == [
        "allowPrivilegeEscalation != false",
        "unrestricted capabilities",
        "seccompProfile",
    ]
