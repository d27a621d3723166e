"""`kubelite kubeconfig --user NAME --group G`: a kubeconfig for someone other than the admin.

Run on a server, it signs a client certificate with the cluster CA (CN the user, an O per
group: who Kubernetes' x509 authenticator says the holder is) and prints a kubeconfig that
uses it, for the server the admin kubeconfig names. What the user may then do is RBAC's
business: bind them a role (`kubectl create rolebinding dev --clusterrole=edit --group=dev`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from kubelite.api.wellknown import DEFAULT_DATA_DIR
from kubelite.apiserver import certs
from kubelite.cli.cluster.server import client_kubeconfig
from kubelite.cli.flags import SERVER_ENV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="the user name (the certificate's CN)")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        help="a group the user is in (the certificate's O); repeat for more",
    )
    parser.add_argument(
        "--data-dir",
        default=SERVER_ENV("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="the server's data directory, where the cluster CA is (default %(default)s)",
    )
    parser.add_argument(
        "--server",
        default="",
        help="the API server's URL (default: the one of the admin kubeconfig)",
    )
    parser.add_argument(
        "--output", "-o", default="", help="write the kubeconfig here (default: print it)"
    )


def _server_of(data_dir: Path) -> str:
    config = yaml.safe_load((data_dir / "kubeconfig.yaml").read_text())
    return str(config["clusters"][0]["cluster"]["server"])


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    pki = certs.paths(data_dir / "tls")
    if not args.user.strip():
        print("error: --user must name someone", file=sys.stderr)
        return 2
    try:
        server = args.server or _server_of(data_dir)
        cert, key = certs.issue_client_cert(pki, args.user, args.group)
        ca = pki.ca_cert.read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: no cluster CA or server under {data_dir}: {exc}", file=sys.stderr)
        return 1
    text = client_kubeconfig(ca, server, cert, key)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch(mode=0o600)
        out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0
