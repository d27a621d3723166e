"""`kubelite secrets-encrypt status|rotate-keys|reencrypt`: k3s' commands, on this machine.

k3s' commands ask the server over its supervisor port; kubelite's server runs on the machine
the command runs on, so they talk through files under `<data-dir>/cred/` instead:

- the configuration the server uses (`encryption-config.json` under `--secrets-encryption`, or
  the `--encryption-provider-config` it was given), which `rotate-keys` changes, and
- the state the server writes there (`encryption-state.json`, see `apiserver/encryption.py`):
  which content it has loaded, and what its last re-encryption found.

`rotate-keys` puts a new aescbc key first (the old ones stay, for reading), as k3s does, then
waits until the server has loaded the file and written every Secret again with the new key.
`reencrypt` asks for such a pass without a new key (by touching the file). `status` prints
k3s' table, and whether every Secret is written with the active key.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from kubelite.api.wellknown import DEFAULT_DATA_DIR
from kubelite.apiserver import encryption
from kubelite.cli.flags import SERVER_ENV

# How long `rotate-keys` and `reencrypt` wait for the server (k3s' rotate-keys gives its
# request 70 s).
DEFAULT_TIMEOUT = 70.0
_POLL = 0.2
ACTIONS = ("status", "rotate-keys", "reencrypt")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.add_argument(
        "--data-dir",
        default=SERVER_ENV("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="the server's data directory (default %(default)s)",
    )
    parser.add_argument(
        "--output",
        "-o",
        choices=("text", "json"),
        default="text",
        help="status as a table or as JSON (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for the server to re-encrypt (default %(default)s)",
    )


class _Failure(Exception):
    """What the command could not do, for `error: ...`."""


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    try:
        if args.action == "status":
            return _status(data_dir, json_output=args.output == "json")
        if args.action == "rotate-keys":
            return _rotate_keys(data_dir, args.timeout)
        return _reencrypt(data_dir, args.timeout)
    except _Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _config_path(data_dir: Path, state: dict[str, Any] | None) -> Path:
    """The file the server uses (its state says), else `--secrets-encryption`'s."""
    if state and state.get("configFile"):
        return Path(state["configFile"])
    return encryption.managed_config_path(data_dir)


def _server_running(state: dict[str, Any] | None, path: Path) -> bool:
    """Whether the server that wrote the state still runs with this file."""
    if not state or state.get("configFile") != str(path.resolve()):
        return False
    try:
        os.kill(int(state.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def _status(data_dir: Path, *, json_output: bool) -> int:
    state = encryption.read_state(data_dir)
    path = _config_path(data_dir, state)
    if not path.exists():
        if json_output:
            print(json.dumps({}, indent="\t"))
        else:
            print("Encryption Status: Disabled, no configuration file found")
        return 0
    try:
        loaded = encryption.load(path)
    except encryption.EncryptionConfigError as exc:
        raise _Failure(f"{path}: {exc}") from None
    enabled, keys = encryption.secrets_keys(loaded.config)
    hash_match = state is not None and state.get("configHash") == loaded.hash
    if state is None:
        hash_error = "no server has loaded this configuration"
    elif not hash_match:
        hash_error = f"the server has not loaded {path} as it is now"
    else:
        hash_error = ""
    error_now = (
        state.get("error", "")
        if state and state.get("errorSignature") == list(loaded.signature or ())
        else ""
    )
    stage = str(state.get("stage", "")) if hash_match and state else ""
    secrets = (state.get("resources") or {}).get("secrets") if hash_match and state else None
    reencrypted = _reencrypted(stage, secrets)
    if json_output:
        document = {
            "stage": stage,
            "activekey": next((k.name for k in keys if k.active), ""),
            "enable": enabled,
            "hashmatch": hash_match,
            "hasherror": hash_error,
            "inactivekeys": [k.name for k in keys if not k.active],
            "configfile": str(path),
            "secrets": secrets or {},
            "reloaderror": error_now,
        }
        print(json.dumps(document, indent="\t"))
        return 0
    lines = [
        f"Encryption Status: {'Enabled' if enabled else 'Disabled'}",
        f"Current Rotation Stage: {stage or 'unknown'}",
        "Server Encryption Hashes: " + ("All hashes match" if hash_match else hash_error),
        f"Secrets Encrypted With Active Key: {reencrypted}",
    ]
    if error_now:
        lines.append(f"Configuration Error: {error_now}")
    rows = [("Active", "Key Type", "Name"), ("------", "--------", "----")]
    rows += [(" *" if k.active else "", k.type, k.name) for k in keys]
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(2)]
    table = [f"{r[0]:<{widths[0]}}{r[1]:<{widths[1]}}{r[2]}" for r in rows]
    print("\n".join([*lines, "", *table]))
    return 0


def _reencrypted(stage: str, secrets: dict[str, Any] | None) -> str:
    """Whether every Secret is written with the active key, from the server's last pass
    (writes since then use the active key too)."""
    if stage != encryption.STAGE_FINISHED or secrets is None:
        return "unknown (re-encryption not finished)"
    failed = int(secrets.get("failed", 0))
    if failed:
        keys = ", ".join(secrets.get("failedKeys") or [])
        return f"no: {failed} cannot be read with the configured keys ({keys})"
    return f"all ({secrets.get('total', 0)} at the last re-encryption)"


def _rotate_keys(data_dir: Path, timeout: float) -> int:
    state = encryption.read_state(data_dir)
    path = _config_path(data_dir, state)
    if not path.exists():
        raise _Failure(
            f"no encryption configuration at {path}: start the server with "
            "--secrets-encryption first"
        )
    running = _server_running(state, path)
    if running and state is not None and not state.get("automaticReload"):
        raise _Failure(
            f"the server does not reload {path}: start it with "
            "--encryption-provider-config-automatic-reload (or --secrets-encryption)"
        )
    text = path.read_bytes()
    try:
        encryption.load(path)
        document = yaml.safe_load(text)
        name = encryption.rotate_keys(document, datetime.datetime.now(datetime.UTC))
    except (encryption.EncryptionConfigError, ValueError, AttributeError, TypeError) as exc:
        raise _Failure(f"{path}: {exc}") from None
    as_json = path.suffix == ".json" or text.lstrip().startswith(b"{")
    data = (
        json.dumps(document).encode()
        if as_json
        else yaml.safe_dump(document, sort_keys=False).encode()
    )
    encryption.write_private(path, data)
    if not running:
        print(
            f"keys rotated: {name} is the active key; the server re-encrypts every secret "
            "with it when it starts"
        )
        return 0
    done = _wait_for_pass(data_dir, path, timeout)
    print(f"keys rotated, reencryption finished: {name} is the active key{_summary(done)}")
    return 0


def _reencrypt(data_dir: Path, timeout: float) -> int:
    state = encryption.read_state(data_dir)
    path = _config_path(data_dir, state)
    if not _server_running(state, path):
        raise _Failure(f"no running server uses {path}")
    if state is not None and not state.get("automaticReload"):
        raise _Failure(f"the server does not reload {path}: restart it to re-encrypt")
    # A new modification time is a change the server sees: it loads the file (the same
    # content) and writes again what the first provider did not write.
    os.utime(path)
    done = _wait_for_pass(data_dir, path, timeout)
    print(f"reencryption finished{_summary(done)}")
    return 0


def _wait_for_pass(data_dir: Path, path: Path, timeout: float) -> dict[str, Any]:
    """The server's state once it has loaded `path` as it is now and re-encrypted."""
    target = list(encryption.signature(path) or ())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = encryption.read_state(data_dir) or {}
        if state.get("errorSignature") == target:
            raise _Failure(f"the server refused {path}: {state.get('error')}")
        if (
            state.get("configSignature") == target
            and state.get("stage") == encryption.STAGE_FINISHED
        ):
            return state
        time.sleep(_POLL)
    raise _Failure(f"the server did not re-encrypt with {path} within {timeout:g}s")


def _summary(state: dict[str, Any]) -> str:
    secrets = (state.get("resources") or {}).get("secrets") or {}
    if not secrets:
        return ""
    text = f"; {secrets.get('rewritten', 0)} of {secrets.get('total', 0)} secrets written again"
    if secrets.get("failed"):
        text += f", {secrets['failed']} cannot be read: {', '.join(secrets['failedKeys'])}"
    return text
