"""Getting a built archive somewhere else: kubelite's image store, or a registry.

Both go through kubelite's own image store: loading imports the archive into a data dir's
store; pushing imports it into a throwaway store and pushes each name with the store's OCI
distribution client (plain HTTP for a loopback registry such as Debian's docker-registry).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from .oci import Reference

# The image store's directory inside a data dir (kubelite.cli.cluster.image's IMAGES_SUBDIR).
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
    try:
        from kubelite.runtime.images import LocalImageService
    except ImportError as e:
        raise PublishError(f"--push: kubelite's image store is not importable: {e}") from e
    from kubelite.runtime.errors import ImageError

    async def push_all(store_dir: Path) -> None:
        async with LocalImageService(store_dir) as store:
            await store.import_archive(archive)
            for ref in references:
                await store.push_image(str(ref), f"{registry}/{ref.repository}:{ref.tag}")

    with tempfile.TemporaryDirectory(prefix="kubelite-push-") as tmp:
        try:
            asyncio.run(push_all(Path(tmp)))
        except ImageError as e:
            raise PublishError(f"--push to {registry}: {e}") from e
