"""The kubelet's AppArmor admission: pods asking for a profile on a node without AppArmor."""

from __future__ import annotations

from kubelite.kubelet.apparmor import NOT_ENABLED, AppArmorAdmission
from kubelite.kubelet.security_context import APPARMOR_ANNOTATION_PREFIX


def pod(phase: str = "Pending", annotations: dict | None = None, **pod_sc: object) -> dict:
    return {
        "metadata": {"name": "p", "annotations": annotations or {}},
        "spec": {"containers": [{"name": "c"}], "securityContext": pod_sc},
        "status": {"phase": phase},
    }


WITHOUT = AppArmorAdmission(NOT_ENABLED)
WITH = AppArmorAdmission("")


def test_a_profile_on_a_node_without_apparmor_is_rejected() -> None:
    verdict = WITHOUT.admit(pod(appArmorProfile={"type": "RuntimeDefault"}))
    assert not verdict.admit
    assert verdict.reason == "AppArmor"
    assert verdict.message == "Cannot enforce AppArmor: AppArmor is not enabled on the host"
    annotated = pod(annotations={APPARMOR_ANNOTATION_PREFIX + "c": "localhost/k8s-x"})
    assert not WITHOUT.admit(annotated).admit


def test_unconfined_or_no_profile_runs_anywhere() -> None:
    assert WITHOUT.admit(pod()).admit
    assert WITHOUT.admit(pod(appArmorProfile={"type": "Unconfined"})).admit


def test_a_pod_already_running_is_not_checked_again() -> None:
    assert WITHOUT.admit(pod("Running", appArmorProfile={"type": "RuntimeDefault"})).admit


def test_a_node_with_apparmor_admits_profiles_but_not_an_empty_localhost_name() -> None:
    assert WITH.admit(pod(appArmorProfile={"type": "RuntimeDefault"})).admit
    blank = WITH.admit(pod(appArmorProfile={"type": "Localhost", "localhostProfile": " "}))
    assert not blank.admit and "invalid empty AppArmor profile name" in blank.message
