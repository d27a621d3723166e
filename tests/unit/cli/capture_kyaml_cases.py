"""Regenerate kyaml_cases.json: what the real kubectl prints with `-o kyaml` for each input.

Run it with a kubectl 1.35 or newer (the tests compare kubelite's encoder with what it wrote):

    .venv/bin/python tests/unit/cli/capture_kyaml_cases.py .venv/bin/kubectl

Each case keeps the input, the kubectl command that printed it (no server is needed: `annotate
--local` prints the unstructured object it read, keys sorted as kubectl sorts them; `create
configmap --dry-run=client` prints a typed object in its Go field order), the output or error
and the kubectl version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CASES = HERE / "kyaml_cases.json"

# Strings that YAML could read as something else, or that need escapes.
SPECIAL = [
    "",
    "yes",
    "no",
    "Yes",
    "NO",
    "y",
    "n",
    "Y",
    "N",
    "on",
    "off",
    "On",
    "OFF",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "null",
    "Null",
    "NULL",
    "~",
    "1",
    "0",
    "t",
    "f",
    "T",
    "F",
    "123",
    "-1",
    "+1",
    "0123",
    "007",
    "08",
    "09.5",
    "0x1F",
    "0X1f",
    "0o17",
    "0b101",
    "0b102",
    "1_000",
    "_1",
    "1e5",
    "1E5",
    "1e",
    "1.5",
    ".5",
    "5.",
    "1.e5",
    "1e400",
    "1e-400",
    "0x1p4",
    "0x1.8",
    "inf",
    "Inf",
    "infinity",
    "Infinity",
    "infin",
    "nan",
    "NaN",
    ".inf",
    ".nan",
    "12:30",
    "1:2:3",
    "2024-01-01",
    "2024-1-2",
    "2024-02-29",
    "2023-02-29",
    "2024-02-30",
    "2024-13-01",
    "2024-00-10",
    "2024-01-01T10:00:00Z",
    "99999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "0xFFFFFFFFFFFFFFFFFF",
    "1.2.3",
    "a-b",
    "-a",
    "a-",
    "a.b",
    ".a",
    "a.",
    "a/b",
    "/a",
    "a/",
    "_a",
    "a_",
    "a b",
    "a:b",
    "a#b",
    "a,b",
    "@a",
    "-",
    ".",
    "/",
    "_",
    "a..b",
    "héllo",
    "日本語",
    "ünï",
    "²",
    "Ⅻ",
    "٣",
    "½",
    "emoji 🎉",
    "🎉",
    "tab\there",
    "cr\rhere",
    "nul\x00",
    "bell\x07",
    "esc\x1b",
    "\x01",
    "\x1f",
    "nbsp\xa0",
    "nel\x85",
    "ls\u2028",
    "ps\u2029",
    "tab\tand\ttab",
    "ideo\u3000space",
    "zw\u200bsp",
    "\U000e0001",
    'quote"',
    "back\\slash",
    "<&>",
    "'single'",
    "[",
    "{}",
    "#",
    "*a",
    "&a",
    "!a",
    "%a",
    "|",
    ">",
    "?",
]
MULTILINE = [
    "a\nb",
    "a\n",
    "\n",
    "\n\n",
    "\nlead",
    "  indented\n  lines\n",
    "\ttab-led\nline",
    "line1\n\n\nline4",
    "end space \nx",
    'q"\n\\b',
    "a\n b\n\tc\n\xa0d\n\u3000e",
]


def _object(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    # `annotate --local ... absent-` leaves an empty annotations map behind: start with one.
    metadata = {"annotations": {}, "name": "x"}
    return {"apiVersion": "example.com/v1", "kind": kind, "metadata": metadata, **body}


def inputs() -> list[tuple[str, dict[str, Any]]]:
    long_text = "word " * 70
    return [
        (
            "string values",
            _object("Values", {"data": {f"k{i:03d}": s for i, s in enumerate(SPECIAL)}}),
        ),
        # A NEL (U+0085) reaches kubectl's YAML parser raw, which reads it as a line break.
        (
            "keys",
            _object("Keys", {"data": {s: "v" for s in [*SPECIAL, "a\nb"] if "\x85" not in s}}),
        ),
        ("NEL in a key is refused", _object("Keys", {"data": {"a\x85b": "v"}})),
        (
            "NEL in values folds",
            _object(
                "Nel",
                {
                    "data": {
                        "a": "x\x85y",
                        "b": "x \x85  y",
                        "c": "x\x85\x85y",
                        "d": "\x85",
                        "e": "x\n\x85\ty",
                    }
                },
            ),
        ),
        ("empty key", _object("Keys", {"data": {"": "empty"}})),
        (
            "multi-line values",
            _object(
                "Text",
                {
                    "data": {f"m{i}": s for i, s in enumerate(MULTILINE)},
                    "list": MULTILINE[:3],
                    "nested": {"deeper": {"text": "one\ntwo\n"}},
                },
            ),
        ),
        ("long string", _object("Long", {"spec": {"text": long_text, "list": [long_text]}})),
        (
            "scalars",
            _object(
                "Scalars",
                {
                    "spec": {
                        "int": 1,
                        "zero": 0,
                        "negative": -42,
                        "int64max": 9223372036854775807,
                        "int64min": -9223372036854775808,
                        "beyond": 12345678901234567890,
                        "float": 1.5,
                        "tenth": 0.1,
                        "small": 1e-7,
                        "tiny": 1.5e-10,
                        "big": 1e20,
                        "huge": 1e21,
                        "bigger": 1.234e25,
                        "negzero": -0.0,
                        "integral": 3.0,
                        "yes": True,
                        "no": False,
                        "nothing": None,
                    }
                },
            ),
        ),
        (
            "collections",
            _object(
                "Collections",
                {
                    "spec": {
                        "emptyList": [],
                        "emptyMap": {},
                        "nestedEmpty": [[]],
                        "listOfEmptyMaps": [{}, {}],
                        "listOfLists": [[1, 2], ["a"], []],
                        "mixed": [1, {"a": 1}, [2]],
                        "objects": [{"name": "a", "ports": [{"port": 80}]}, {"name": "b"}],
                        "strings": ["a", "", "yes"],
                        "numbers": [1, 2.5, True, None],
                        "deep": {"a": {"b": {"c": {"d": []}}}},
                    }
                },
            ),
        ),
        ("DEL is refused", _object("Control", {"data": {"s": "a\x7fb"}})),
        ("C1 control is refused", _object("Control", {"data": {"s": "a\x80b"}})),
        ("U+FFFE is refused", _object("Control", {"data": {"s": "a\ufffeb"}})),
    ]


def run(kubectl: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([kubectl, *args], capture_output=True, text=True, env=env, timeout=60)


def main() -> int:
    kubectl = sys.argv[1] if len(sys.argv) > 1 else ".venv/bin/kubectl"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "KUBECACHEDIR": tmp,
            "HOME": tmp,
            "KUBECONFIG": os.devnull,
            "KUBECTL_KUBERC": "false",
        }
        version = json.loads(run(kubectl, ["version", "--client", "-o", "json"], env).stdout)
        cases: list[dict[str, Any]] = []
        for name, obj in inputs():
            path = Path(tmp) / "in.json"
            path.write_text(json.dumps(obj, ensure_ascii=True))
            args = ["annotate", "--local", "-f", "in.json", "absent-", "-o", "kyaml"]
            done = run(kubectl, [*args[:3], str(path), *args[4:]], env)
            cases.append(
                {
                    "name": name,
                    "command": "kubectl " + " ".join(args),
                    "sort_keys": True,
                    "input": obj,
                    "stdout": done.stdout,
                    "stderr": done.stderr,
                    "exit": done.returncode,
                }
            )
        create = ["create", "configmap", "demo", "--from-literal=m=a\nb", "--dry-run=client"]
        typed = json.loads(run(kubectl, [*create, "-o", "json"], env).stdout)
        done = run(kubectl, [*create, "-o", "kyaml"], env)
        cases.append(
            {
                "name": "typed ConfigMap, field order kept",
                "command": "kubectl "
                + " ".join(create)
                + " -o kyaml (input: the same with -o json)",
                "sort_keys": False,
                "input": typed,
                "stdout": done.stdout,
                "stderr": done.stderr,
                "exit": done.returncode,
            }
        )
    document = {"kubectl": version["clientVersion"]["gitVersion"], "cases": cases}
    CASES.write_text(json.dumps(document, indent=1, ensure_ascii=True) + "\n")
    print(f"wrote {len(cases)} cases to {CASES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
