"""kubelite's KYAML encoder against what the real kubectl 1.37 printed for the same objects.

kyaml_cases.json holds each input, the kubectl command that printed it and its output or error;
capture_kyaml_cases.py regenerates it from a kubectl build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubelite.cli import kyaml
from kubelite.cli.kubectl import get
from kubelite.cli.kubectl.kubectl_args import CommandError

CASES = json.loads((Path(__file__).parent / "kyaml_cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_kubectl(case: dict[str, Any]) -> None:
    if case["exit"] == 0:
        assert kyaml.encode(case["input"], sort_keys=case["sort_keys"]) == case["stdout"]
    else:
        with pytest.raises(kyaml.KYAMLError) as failed:
            kyaml.encode(case["input"], sort_keys=case["sort_keys"])
        assert f"error: {failed.value}\n" == case["stderr"]


def test_get_offers_kyaml() -> None:
    get._check_output("kyaml")
    with pytest.raises(CommandError) as refused:
        get._check_output("bogus")
    assert str(refused.value).endswith("allowed formats are: json,kyaml,name,wide,yaml")


def test_get_reports_what_kyaml_cannot_write() -> None:
    with pytest.raises(CommandError) as refused:
        get.to_kyaml({"data": {"s": "a\x7fb"}})
    assert str(refused.value) == "error decoding: yaml: control characters are not allowed"
