"""`kubelite version`: this client's version and the server's, in kubectl's shapes.

kubelite's client speaks the Kubernetes release of `kubelite.api.schema.KUBERNETES_VERSION`,
so it reports that release with a `+kubelite` suffix, as the server does. There is no kustomize
in kubelite, hence no Kustomize line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

from kubelite.api.schema import KUBERNETES_VERSION
from kubelite.api.types import Obj
from kubelite.cli import output
from kubelite.cli.kubectl.kubectl_args import Session, add_global_flags, run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client", action="store_true", help="only the client's version")
    parser.add_argument("-o", "--output", default="", help="yaml or json")
    add_global_flags(parser)


def client_version() -> Obj:
    """The client's build information, shaped like the server's /version."""
    major, minor = KUBERNETES_VERSION.split(".")
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{KUBERNETES_VERSION}.0+kubelite",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"{platform.system().lower()}/{machine}",
    }


def _print(versions: Obj, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(versions, indent=2))
    elif fmt == "yaml":
        sys.stdout.write(output.to_yaml(versions))
    else:
        print(f"Client Version: {versions['clientVersion']['gitVersion']}")
        if "serverVersion" in versions:
            print(f"Server Version: {versions['serverVersion'].get('gitVersion', '')}")


def run(args: argparse.Namespace) -> int:
    if args.output not in ("", "json", "yaml"):
        print("error: --output must be 'yaml' or 'json'", file=sys.stderr)
        return 1
    if args.client:
        _print({"clientVersion": client_version()}, args.output)
        return 0
    return run_command(args, lambda session: _version(session, args))


async def _version(session: Session, args: argparse.Namespace) -> int:
    versions: Obj = {"clientVersion": client_version()}
    try:
        versions["serverVersion"] = await session.client.version()
    except Exception:
        # kubectl prints the client's version before it reports the server's failure.
        _print(versions, args.output)
        raise
    _print(versions, args.output)
    return 0
