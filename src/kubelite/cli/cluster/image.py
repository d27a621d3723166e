"""`kubelite image`: the node's image store by hand, as `crictl` and `ctr images` offer it.

    kubelite image pull [--creds USER:PASSWORD] REF
    kubelite image ls [-q] [--digests]
    kubelite image inspect REF...
    kubelite image rm REF...
    kubelite image import FILE...
    kubelite image export [--format oci|docker] -o FILE REF...
    kubelite image push [--creds USER:PASSWORD] REF [TARGET]
    kubelite image tag SOURCE TARGET

Flags are kept apart from the action, as the other commands do: `ImageFlags` is filled from the
command line and `KUBELITE_*` environment variables, and each action opens the store
(`<data-dir>/images`, the kubelet's) and calls `LocalImageService`. Pulls draw a progress bar per
layer with rich on a terminal, and print one line per finished layer otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from kubelite.api.wellknown import DEFAULT_DATA_DIR
from kubelite.cli.flags import IMAGE_ENV
from kubelite.cli.output import TabWriter
from kubelite.runtime.cri import AuthConfig, Image, PullProgress
from kubelite.runtime.errors import ImageError
from kubelite.runtime.images import LocalImageService
from kubelite.runtime.images.registries import DEFAULT_REGISTRIES_CONFIG, RegistriesConfigError

IMAGES_SUBDIR = "images"
# crictl's `images` table: tabwriter.NewWriter(os.Stdout, 20, 1, 3, ' ', 0), and image ids cut
# to 13 characters (crictl's truncateID).
TABLE_MIN_WIDTH = 20
TABLE_PADDING = 3
SHORT_ID_LENGTH = 13
# go-units HumanSizeWithPrecision(size, 3), which crictl uses for SIZE: decimal units.
SIZE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


_env = IMAGE_ENV


def _default_docker_config() -> Path:
    # docker/cli config: $DOCKER_CONFIG is the directory that holds config.json.
    directory = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(directory) / "config.json"


@dataclass
class ImageFlags:
    """Where `kubelite image` finds the node's image store and the registry configuration and
    credentials it pulls with."""

    data_dir: Path
    registries_config: Path
    docker_config: Path

    @property
    def store(self) -> Path:
        return self.data_dir / IMAGES_SUBDIR


def _common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=_env("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="kubelite's data directory; images live in <data-dir>/images (default %(default)s)",
    )
    common.add_argument(
        "--registries-config",
        default=_env("REGISTRIES_CONFIG", str(DEFAULT_REGISTRIES_CONFIG)),
        help="mirrors, credentials and TLS per registry, k3s' registries.yaml format "
        "(default %(default)s)",
    )
    common.add_argument(
        "--docker-config",
        default=str(_default_docker_config()),
        help="a docker config.json whose auths are used (default %(default)s)",
    )
    return common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = _common_flags()
    commands = parser.add_subparsers(dest="image_command", metavar="COMMAND", required=True)

    pull = commands.add_parser("pull", parents=[common], help="pull an image from a registry")
    pull.add_argument("ref")
    pull.add_argument("--creds", default="", help="USER[:PASSWORD] for the registry")
    pull.set_defaults(image_action=_pull)

    ls = commands.add_parser("ls", aliases=["list"], parents=[common], help="list images")
    ls.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    ls.add_argument("--digests", action="store_true", help="show digests")
    ls.set_defaults(image_action=_ls)

    inspect = commands.add_parser("inspect", parents=[common], help="show images as JSON")
    inspect.add_argument("refs", nargs="+")
    inspect.set_defaults(image_action=_inspect)

    rm = commands.add_parser("rm", aliases=["rmi"], parents=[common], help="remove images")
    rm.add_argument("refs", nargs="+")
    rm.set_defaults(image_action=_rm)

    load = commands.add_parser(
        "import", parents=[common], help="import OCI archives or docker save tarballs"
    )
    load.add_argument("files", nargs="+")
    load.set_defaults(image_action=_import)

    export = commands.add_parser("export", parents=[common], help="write images to an archive")
    export.add_argument("refs", nargs="+")
    export.add_argument("-o", "--output", required=True, help="the archive to write")
    export.add_argument(
        "--format",
        choices=("oci", "docker"),
        default="oci",
        help="an OCI archive, or a tarball `docker load` reads (default %(default)s)",
    )
    export.set_defaults(image_action=_export)

    push = commands.add_parser("push", parents=[common], help="push an image to a registry")
    push.add_argument("ref")
    push.add_argument("target", nargs="?", default=None, help="the name to push as")
    push.add_argument("--creds", default="", help="USER[:PASSWORD] for the registry")
    push.set_defaults(image_action=_push)

    tag = commands.add_parser("tag", parents=[common], help="give an image another name")
    tag.add_argument("source")
    tag.add_argument("target")
    tag.set_defaults(image_action=_tag)


def flags_from(args: argparse.Namespace) -> ImageFlags:
    return ImageFlags(
        data_dir=Path(args.data_dir),
        registries_config=Path(args.registries_config),
        docker_config=Path(args.docker_config),
    )


Action = Callable[[LocalImageService, argparse.Namespace, TextIO], Awaitable[None]]


def run(args: argparse.Namespace) -> int:
    flags = flags_from(args)
    action: Action = args.image_action

    async def main() -> None:
        async with LocalImageService(
            flags.store, flags.registries_config, flags.docker_config
        ) as service:
            await action(service, args, sys.stdout)

    try:
        asyncio.run(main())
    except (ImageError, RegistriesConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


# --- actions ---


def _auth(creds: str) -> AuthConfig | None:
    if not creds:
        return None
    username, _, password = creds.partition(":")
    return AuthConfig(username=username, password=password)


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


class _PlainProgress:
    """One line per layer once it is done: for logs and pipes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._done: set[str] = set()

    def __call__(self, progress: PullProgress) -> None:
        if progress.finished and progress.digest not in self._done:
            self._done.add(progress.digest)
            print(f"{_short(progress.digest)}: done ({human_size(progress.total)})", file=self._out)


async def _with_progress(
    out: TextIO, work: Callable[[Callable[[PullProgress], None]], Awaitable[str]]
) -> str:
    if not out.isatty():
        return await work(_PlainProgress(out))
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TransferSpeedColumn,
    )

    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=False,
    ) as bars:

        def report(progress: PullProgress) -> None:
            task = tasks.get(progress.digest)
            if task is None:
                task = tasks[progress.digest] = bars.add_task(
                    _short(progress.digest), total=progress.total
                )
            bars.update(task, completed=progress.done)

        return await work(report)


async def _pull(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    auth = _auth(args.creds)
    image_id = await _with_progress(
        out, lambda report: service.pull_image(args.ref, auth=auth, progress=report)
    )
    print(f"Image is up to date for {image_id}", file=out)


def human_size(size: float) -> str:
    """go-units HumanSizeWithPrecision(size, 3): `2.16MB`, `742kB`."""
    unit = 0
    while size >= 1000 and unit < len(SIZE_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.3g}{SIZE_UNITS[unit]}"


def _rows(image: Image) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) per name, as crictl lists them; `<none>` where unknown."""
    digests = {d.rpartition("@")[0]: d.rpartition("@")[2] for d in image.repo_digests}
    rows = []
    for tag_ref in image.repo_tags:
        repo, _, tag = tag_ref.rpartition(":")
        rows.append((repo, tag, digests.get(repo, "<none>")))
    if not rows:
        rows = [(repo, "<none>", digest) for repo, digest in digests.items()]
    return rows or [("<none>", "<none>", "<none>")]


async def _ls(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    images = await service.list_images()
    if args.quiet:
        for image in images:
            print(image.id, file=out)
        return
    table = TabWriter(out, min_width=TABLE_MIN_WIDTH, padding=TABLE_PADDING)
    header = ["IMAGE", "TAG", "DIGEST", "IMAGE ID", "SIZE"]
    if not args.digests:
        header.remove("DIGEST")
    table.write("\t".join(header) + "\n")
    for image in images:
        image_id = image.id.split(":", 1)[-1][:SHORT_ID_LENGTH]
        for repo, tag, digest in _rows(image):
            cells = [repo, tag, _short(digest) if digest != "<none>" else digest, image_id]
            if not args.digests:
                del cells[2]
            table.write("\t".join([*cells, human_size(image.size)]) + "\n")
    table.flush()


async def _inspect(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    found = []
    for ref in args.refs:
        info = await service.image_info(ref)
        if info is None:
            raise ImageError(ref, f'no such image "{ref}" present')
        found.append(info)
    print(json.dumps(found[0] if len(found) == 1 else found, indent=2), file=out)


async def _rm(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    for ref in args.refs:
        if await service.image_status(ref) is None:
            raise ImageError(ref, f'no such image "{ref}" present')
        await service.remove_image(ref)
        print(f"Deleted: {ref}", file=out)


async def _import(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    for name in args.files:
        for image_id in await service.import_archive(Path(name)):
            status = await service.image_status(image_id)
            names = ", ".join(status.repo_tags) if status and status.repo_tags else "<none>"
            print(f"unpacked {names} ({image_id})", file=out)


async def _export(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    await service.export_image(list(args.refs), Path(args.output), format=args.format)
    print(f"exported {', '.join(args.refs)} to {args.output}", file=out)


async def _push(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    auth = _auth(args.creds)
    digest = await _with_progress(
        out,
        lambda report: service.push_image(args.ref, args.target, auth=auth, progress=report),
    )
    print(f"pushed {args.target or args.ref}: {digest}", file=out)


async def _tag(service: LocalImageService, args: argparse.Namespace, out: TextIO) -> None:
    await service.tag_image(args.source, args.target)
