"""The --leader-elect* flags of `kubelite control-plane` and `kubelite scheduler`, and the
stable identity of a server's own control plane."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubelite.cli.cluster import leader_election
from kubelite.cli.flags import Env


def parse(*argv: str) -> leader_election.LeaderElectionFlags:
    parser = argparse.ArgumentParser()
    leader_election.add_arguments(parser, Env("KUBELITE_TEST_LE_"))
    return leader_election.flags_from(parser.parse_args(argv))


def test_defaults_are_kube_schedulers() -> None:
    flags = parse()
    assert flags.leader_elect is True
    timings = flags.timings
    assert (timings.lease_duration, timings.renew_deadline, timings.retry_period) == (15, 10, 2)
    assert flags.resource_namespace == "kube-system"
    assert leader_election.problems(flags) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--leader-elect=false"], False), (["--leader-elect"], True), (["--leader-elect=1"], True)],
)
def test_leader_elect_is_a_go_boolean(argv: list[str], expected: bool) -> None:
    assert parse(*argv).leader_elect is expected


def test_durations_are_go_durations_and_checked_together() -> None:
    flags = parse("--leader-elect-lease-duration=1m", "--leader-elect-renew-deadline=1m")
    assert flags.timings.lease_duration == 60
    assert leader_election.problems(flags) == [
        "leader election: leaseDuration must be greater than renewDeadline"
    ]
    # Not electing, the durations do not matter.
    assert (
        leader_election.problems(parse("--leader-elect=false", "--leader-elect-renew-deadline=1h"))
        == []
    )


def test_without_an_identity_each_start_is_a_new_candidate() -> None:
    flags = parse()
    first, second = flags.holder_identity(), flags.holder_identity()
    assert first != second
    assert first.split("_")[0] == second.split("_")[0]


def test_a_servers_identity_is_the_same_at_every_start(tmp_path: Path) -> None:
    first = leader_election.server_identity(tmp_path, "node-1")
    assert first.startswith("node-1_")
    assert leader_election.server_identity(tmp_path, "node-1") == first
    assert (tmp_path / leader_election.IDENTITY_FILE).read_text().strip() in first
    assert leader_election.server_identity(tmp_path / "other", "node-1") != first
