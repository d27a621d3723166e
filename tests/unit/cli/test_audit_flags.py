"""`kubelite server`'s audit flags: kube-apiserver's names and defaults, checked before anything
starts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubelite.apiserver.audit import AuditOptions
from kubelite.cli.cluster import server


def _flags(*argv: str) -> server.ServerFlags:
    parser = argparse.ArgumentParser()
    server.add_arguments(parser)
    return server.flags_from(parser.parse_args(list(argv)))


def test_auditing_is_off_by_default_with_kube_apiservers_defaults() -> None:
    assert _flags().audit == AuditOptions(None, "", 0, 0, 0)


def test_the_flags_are_read(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n")
    flags = _flags(
        "--audit-policy-file",
        str(policy),
        "--audit-log-path",
        "-",
        "--audit-log-maxage",
        "7",
        "--audit-log-maxbackup",
        "3",
        "--audit-log-maxsize",
        "50",
    )
    assert flags.audit == AuditOptions(policy, "-", 7, 3, 50)


def test_a_bad_policy_or_a_negative_limit_stops_the_server(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: All}]\n")
    with pytest.raises(SystemExit) as bad_policy:
        _flags("--audit-policy-file", str(policy))
    assert str(bad_policy.value) == (
        'kubelite server: loading audit policy file: rules[0].level: Unsupported value: "All": '
        'supported values: "None", "Metadata", "Request", "RequestResponse": from file '
        f"{policy}"
    )
    with pytest.raises(SystemExit) as negative:
        _flags("--audit-log-maxbackup", "-1")
    assert str(negative.value) == (
        "kubelite server: --audit-log-maxbackup -1 can't be a negative number"
    )
