"""`kubelite image`: pull with plain progress lines, the crictl-like table, inspect, rm."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_registry import FakeRegistry
from image_builder import LayerTar, build_image

from kubelite.cli.cluster.image import human_size
from kubelite.cli.main import main


@pytest.fixture
async def registry() -> AsyncIterator[FakeRegistry]:
    reg = FakeRegistry()
    await reg.start()
    try:
        yield reg
    finally:
        await reg.stop()


def _cli(tmp_path: Path, *args: str) -> list[str]:
    common = [
        "--data-dir",
        str(tmp_path / "data"),
        "--registries-config",
        str(tmp_path / "none.yaml"),
        "--docker-config",
        str(tmp_path / "none.json"),
    ]
    return ["image", args[0], *common, *args[1:]]


async def test_pull_ls_inspect_rm(registry, tmp_path, capsys) -> None:
    image = build_image([LayerTar().file("a", b"x" * 3000).bytes()])
    registry.add_image("team/app", "1", image)
    ref = f"{registry.host}/team/app:1"

    assert await asyncio.to_thread(main, _cli(tmp_path, "pull", ref)) == 0
    out = capsys.readouterr().out.splitlines()
    layer = image.layer_digests[0]
    layer_size = human_size(len(image.blobs[layer]))
    assert out[0] == f"{layer.split(':')[1][:12]}: done ({layer_size})"
    assert out[-1] == f"Image is up to date for {image.config_digest}"

    assert await asyncio.to_thread(main, _cli(tmp_path, "ls")) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert row.split() == [
        f"{registry.host}/team/app",
        "1",
        image.config_digest.split(":")[1][:13],
        layer_size,
    ]
    assert row.index("1 ") == header.index("TAG")

    assert await asyncio.to_thread(main, _cli(tmp_path, "inspect", ref)) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"]["id"] == image.config_digest
    assert info["info"]["imageSpec"]["rootfs"]["diff_ids"] == image.diff_ids

    assert await asyncio.to_thread(main, _cli(tmp_path, "rm", ref)) == 0
    assert capsys.readouterr().out == f"Deleted: {ref}\n"
    assert await asyncio.to_thread(main, _cli(tmp_path, "rm", ref)) == 1
    assert "no such image" in capsys.readouterr().err


async def test_pull_failure_prints_the_error(registry, tmp_path, capsys) -> None:
    ref = f"{registry.host}/nope:1"
    assert await asyncio.to_thread(main, _cli(tmp_path, "pull", ref)) == 1
    assert capsys.readouterr().err.startswith(f'error: failed to pull and unpack image "{ref}"')


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (742_000, "742kB"), (2_159_872, "2.16MB")],
)
def test_human_size_like_crictl(size: int, text: str) -> None:
    assert human_size(size) == text
