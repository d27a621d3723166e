"""Getting a built archive somewhere else: kubelite's image store, or a registry.

Pushing goes through skopeo, which reads OCI archives directly and speaks the distribution
protocol, including plain HTTP to a loopback registry such as Debian's docker-registry
(`--dest-tls-verify=false`).
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from .oci import Reference

# The image store's directory inside a data dir (kubelite.cli.image's IMAGES_SUBDIR).
STORE_SUBDIR = "images"


class PublishError(RuntimeError):
    """An image could not be pushed or loaded."""


def load(archive: Path, data_dir: Path) -> list[str]:
    """Import an archive into the image store of the kubelite whose data dir is `data_dir`.

    LEAD: written against `kubelite.runtime.images.LocalImageService` as it is while this was
    written (`LocalImageService(root)`, `await import_archive(path) -> image ids`); imported late
    so that building images needs no kubelite. Returns the ids of the imported images.
    """
    try:
        from kubelite.runtime.images import LocalImageService
    except ImportError as e:
        raise PublishError(f"--load: kubelite's image store is not importable: {e}") from e
    from kubelite.runtime.errors import ImageError

    async def import_into_store() -> list[str]:
        async with LocalImageService(data_dir / STORE_SUBDIR) as store:
            return await store.import_archive(archive)

    try:
        return asyncio.run(import_into_store())
    except ImageError as e:
        raise PublishError(f"--load: {e}") from e


def push(archive: Path, references: list[Reference], registry: str) -> None:
    """Copy every name in the archive to `registry`, under its repository path and tag."""
    for ref in references:
        dest = f"docker://{registry}/{ref.repository}:{ref.tag}"
        done = subprocess.run(
            [
                "skopeo",
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                f"oci-archive:{archive}:{ref.tag}",
                dest,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise PublishError(f"skopeo copy to {dest}: {done.stderr.strip()}")
