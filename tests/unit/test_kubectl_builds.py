"""Which kubectl build a test gets: Google's build of the release asked for, else the virtual
environment's build of it, else its newest, else PATH's; a test about one release is skipped where
it is missing; and which releases the machine has a build of."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests import kubectl_builds


def fake_kubectl(path: Path, minor: int) -> Path:
    """A script that answers `kubectl version --client -o json` as kubectl 1.<minor> does."""
    version = {"clientVersion": {"major": "1", "minor": str(minor), "gitVersion": f"v1.{minor}.0"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{json.dumps(version)}'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No kubectl anywhere until a test lays one down."""
    monkeypatch.setattr(kubectl_builds, "SDK_DIR", tmp_path / "sdk")
    monkeypatch.setattr(kubectl_builds, "VENV_BUILDS", tmp_path / "venv" / "builds")
    monkeypatch.setattr(kubectl_builds, "VENV_KUBECTL", tmp_path / "venv" / "kubectl")
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    kubectl_builds.find.cache_clear()
    yield tmp_path
    kubectl_builds.find.cache_clear()


def test_the_release_asked_for_comes_first(machine: Path) -> None:
    fake_kubectl(machine / "sdk" / "kubectl.1.27", 27)
    fake_kubectl(machine / "venv" / "kubectl", 37)
    build = kubectl_builds.find("1.27")
    assert (build.path, build.minor) == (str(machine / "sdk" / "kubectl.1.27"), 27)
    assert kubectl_builds.exactly("1.27") == build


def test_the_virtual_environments_build_then_paths(machine: Path) -> None:
    fake_kubectl(machine / "path" / "kubectl", 32)
    assert kubectl_builds.find("1.27").minor == 32
    kubectl_builds.find.cache_clear()
    fake_kubectl(machine / "venv" / "kubectl", 37)
    assert kubectl_builds.find("1.27").minor == 37
    assert kubectl_builds.find(kubectl_builds.NEWEST).minor == 37


def test_the_virtual_environments_build_of_a_release(machine: Path) -> None:
    fake_kubectl(machine / "venv" / "kubectl", 37)
    fake_kubectl(machine / "venv" / "builds" / "1.36" / "kubectl", 36)
    build = kubectl_builds.exactly("1.36")
    assert (build.path, build.minor) == (str(machine / "venv" / "builds" / "1.36" / "kubectl"), 36)
    # Google's build comes first where a release has both.
    fake_kubectl(machine / "sdk" / "kubectl.1.36", 36)
    kubectl_builds.find.cache_clear()
    assert kubectl_builds.find("1.36").path == str(machine / "sdk" / "kubectl.1.36")


def test_available_lists_the_releases_with_a_build_of_their_own(machine: Path) -> None:
    fake_kubectl(machine / "path" / "kubectl", 31)
    fake_kubectl(machine / "venv" / "kubectl", 37)
    assert kubectl_builds.available() == []
    fake_kubectl(machine / "sdk" / "kubectl.1.27", 27)
    fake_kubectl(machine / "sdk" / "kubectl.1.33", 33)
    fake_kubectl(machine / "sdk" / "kubectl.1.26", 26)  # older than the tests go
    fake_kubectl(machine / "venv" / "builds" / "1.37" / "kubectl", 37)
    fake_kubectl(machine / "venv" / "builds" / "1.36" / "kubectl", 35)  # filed wrongly
    assert kubectl_builds.available() == ["1.27", "1.33", "1.36", "1.37"]
    assert [b.minor for b in kubectl_builds.available_builds()] == [27, 33, 37]


def test_a_test_about_a_missing_release_is_skipped_with_the_reason(machine: Path) -> None:
    fake_kubectl(machine / "venv" / "kubectl", 37)
    with pytest.raises(
        pytest.skip.Exception,
        match=r"needs kubectl 1\.27, which this machine lacks \(it has kubectl 1\.37",
    ):
        kubectl_builds.exactly("1.27")


def test_no_kubectl_at_all_says_where_it_looked(machine: Path) -> None:
    with pytest.raises(RuntimeError, match=r"scripts/setup\.sh installs one"):
        kubectl_builds.find("1.32")
    with pytest.raises(pytest.skip.Exception, match="needs the newest kubectl"):
        kubectl_builds.exactly(kubectl_builds.NEWEST)


@pytest.mark.parametrize(
    ("minor", "deleted", "not_a_container"),
    [
        (33, 'pod "web" deleted', "container c is not valid for pod web"),
        (34, 'pod "web" deleted from ns namespace', "container c is not valid for pod web"),
        (
            36,
            'pod "web" deleted from ns namespace',
            "container c is not valid for pod web out of: a, b",
        ),
        (
            37,
            'pod "web" deleted from ns namespace',
            "container c is not valid for pod web out of: a, b",
        ),
    ],
)
def test_texts_that_changed_between_releases(minor: int, deleted: str, not_a_container: str):
    build = kubectl_builds.KubectlBuild("kubectl", (1, minor))
    assert build.deleted('pod "web"', "ns") == deleted
    assert build.not_a_container("c", "web", ["a", "b"]) == not_a_container


@pytest.mark.parametrize(
    ("minor", "not_a_container", "refused"),
    [
        (
            30,
            "Error from server (BadRequest): container c is not valid for pod web",
            "Error from server (BadRequest): no",
        ),
        (
            33,
            "Error from server (BadRequest): container c is not valid for pod web",
            "Error from server (BadRequest): no",
        ),
        (
            36,
            "error: container c is not valid for pod web out of: a, b",
            "error: unable to upgrade connection: no",
        ),
        (
            37,
            "error: container c is not valid for pod web out of: a, b",
            "error: unable to upgrade connection: no",
        ),
    ],
)
def test_exec_errors_that_changed_between_releases(minor: int, not_a_container: str, refused: str):
    build = kubectl_builds.KubectlBuild("kubectl", (1, minor))
    assert build.exec_not_a_container("c", "web", ["a", "b"]) == not_a_container
    assert build.exec_refused("BadRequest", "no") == refused
