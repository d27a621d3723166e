"""What every kubectl-like command shares: global flags, the client session, error reporting.

Each command module (`get`, `apply`, ...) defines `add_arguments(parser)` and `run(args)`; `run`
hands an async function to `run_command`, which loads the kubeconfig as kubectl does
(`--kubeconfig`, `--context`), opens one `APIClient`, picks the namespace (`-n`, else the
context's, else `default`) and turns every failure into kubectl's message and exit code 1:

    Error from server (NotFound): pods "web" not found
    The Pod "web" is invalid: spec.containers[0].image: Required value
    error: the path "pod.yaml" does not exist

A user's mistake never ends in a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from kubelite.api import meta
from kubelite.api.types import Obj
from kubelite.cli.kubectl import kuberc
from kubelite.cli.kubectl.manifests import ManifestError, read_manifests
from kubelite.client import (
    APIClient,
    APIConnectionError,
    APIError,
    APIInvalidError,
    ConfigError,
    Resource,
    UnknownResourceError,
    load_config,
)

# kubectl's default page size for lists (cmdutil.DefaultChunkSize).
DEFAULT_CHUNK_SIZE = 500
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A mistake kubectl reports as `error: <message>`."""


@dataclass
class Session:
    """A command's connection to the cluster and the namespace it works in."""

    client: APIClient
    namespace: str
    # -n was given: objects of another namespace in -f files are refused, as kubectl does.
    namespace_explicit: bool

    def scope(self, resource: Resource, all_namespaces: bool = False) -> str | None:
        """The namespace a request for `resource` named on the command line goes to: none for a
        cluster-scoped resource, nor across all namespaces (-A)."""
        return self.namespace if resource.namespaced and not all_namespaces else None

    def manifest_scope(self, resource: Resource, obj: Obj) -> str | None:
        """The namespace of an object read from a file: its own, else the session's; none for
        a cluster-scoped resource."""
        return (meta.namespace_of(obj) or self.namespace) if resource.namespaced else None


def add_global_flags(parser: argparse.ArgumentParser) -> None:
    """`--kubeconfig`, `--context`, `-n/--namespace`: the flags kubectl reads everywhere."""
    group = parser.add_argument_group("global flags")
    group.add_argument("--kubeconfig", help="path to the kubeconfig file to use")
    group.add_argument("--context", help="the name of the kubeconfig context to use")
    group.add_argument("-n", "--namespace", help="the namespace scope for this request")
    if kuberc.enabled():
        # Read by kuberc.apply before parsing; KUBECTL_KUBERC=false takes it away, as in kubectl.
        group.add_argument("--kuberc", help="path to the kuberc file to use for preferences")


def add_all_namespaces_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="list the requested objects across all namespaces",
    )


def add_filename_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        help=f"files, directories or - (stdin) that contain the objects to {verb}",
    )
    parser.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="process the directories of -f recursively",
    )


def add_selector_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-l", "--selector", default="", help="label selector, e.g. -l app=web,tier!=db"
    )


def _print_warning(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr, flush=True)


def api_error_message(err: APIError) -> str:
    """cmdutil.StandardErrorMessage for an error the server answered with."""
    if err.reason == "Unauthorized":
        return f"error: You must be logged in to the server ({err.message})"
    if err.reason:
        return f"Error from server ({err.reason}): {err.message}"
    return f"Error from server: {err.message}"


def _invalid_message(err: APIInvalidError) -> str:
    """checkErr for 422: `The Pod "web" is invalid: <field>: <message>`, one cause a line."""
    details = err.details
    text = "The request is invalid"
    if details.get("kind") or details.get("name"):
        text = f"The {details.get('kind', '')} {json.dumps(details.get('name', ''))} is invalid"
    causes = details.get("causes") or []
    if not causes:
        return text
    lines = [f"{cause.get('field', '')}: {cause.get('message', '')}" for cause in causes]
    if len(lines) == 1:
        return f"{text}: {lines[0]}"
    return f"{text}: \n" + "\n".join(f"* {line}" for line in lines)


def error_message(err: BaseException) -> str:
    """The line(s) kubectl prints for one error."""
    if isinstance(err, APIError):
        return api_error_message(err)
    if isinstance(err, APIConnectionError):
        return str(err)
    return f"error: {err}"


def report_errors(errors: Sequence[BaseException]) -> int:
    """Print what went wrong, as kubectl's CheckErr does; the exit code to return."""
    if not errors:
        return 0
    if len(errors) == 1 and isinstance(errors[0], APIInvalidError):
        print(_invalid_message(errors[0]), file=sys.stderr)
    else:
        for err in errors:
            print(error_message(err), file=sys.stderr)
    return 1


# Errors a user can cause; anything else is a bug and keeps its traceback.
USER_ERRORS = (
    APIError,
    APIConnectionError,
    ConfigError,
    UnknownResourceError,
    ManifestError,
    CommandError,
)


async def _with_session(
    args: argparse.Namespace, command: Callable[[Session], Awaitable[int]]
) -> int:
    config = load_config(kubeconfig=args.kubeconfig, context=args.context)
    namespace = args.namespace or config.namespace
    async with APIClient(config, warning_handler=_print_warning) as client:
        return await command(Session(client, namespace, bool(args.namespace)))


def run_command(args: argparse.Namespace, command: Callable[[Session], Awaitable[int]]) -> int:
    """Run one command against the cluster; the process exit code."""
    try:
        return asyncio.run(_with_session(args, command))
    except USER_ERRORS as e:
        return report_errors([e])
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `kubelite get pods | head`: the reader has gone; nothing left to say.
        sys.stderr.close()
        return 0


# --- resource arguments -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What one argument asks for: a resource, and a name or (None) all of them."""

    resource: Resource
    name: str | None


def split_resource_args(args: Sequence[str], verb: str) -> list[tuple[str, str | None]]:
    """kubectl's argument forms: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`."""
    if not args:
        return []
    with_slash = [arg for arg in args if "/" in arg]
    if with_slash:
        if len(with_slash) != len(args):
            raise CommandError(
                "there is no need to specify a resource type as a separate argument when "
                "passing arguments in resource/name form (e.g. "
                f"'kubectl {verb} resource/<resource_name>' instead of "
                f"'kubectl {verb} resource resource/<resource_name>'"
            )
        pairs: list[tuple[str, str | None]] = []
        for arg in args:
            kind, _, name = arg.partition("/")
            if not kind or not name or "/" in name:
                raise CommandError(
                    f"arguments in resource/name form must have a single resource and name: {arg}"
                )
            pairs.append((kind, name))
        return pairs
    types = [t for t in args[0].split(",") if t]
    names = list(args[1:])
    return [(t, name) for t in types for name in names] if names else [(t, None) for t in types]


async def resolve_targets(
    client: APIClient, args: Sequence[str], verb: str
) -> tuple[list[Target], bool]:
    """The targets of the arguments, and whether several kinds were asked for (which makes
    tables print `kind/name`). A category such as `all` stands for its resources."""
    targets: list[Target] = []
    kinds: set[tuple[str, str]] = set()
    category_used = False
    for type_name, name in split_resource_args(args, verb):
        try:
            resources = [await client.resource_for(type_name)]
        except UnknownResourceError:
            resources = await client.resources_in_category(type_name.lower())
            if not resources:
                raise
            category_used = True
        for resource in resources:
            targets.append(Target(resource, name))
            kinds.add((resource.group, resource.kind))
    return targets, category_used or len(kinds) > 1


def missing_type(verb: str) -> CommandError:
    """What kubectl says when `get` or `describe` is given no resource type at all."""
    return CommandError(
        f"You must specify the type of resource to {verb}. "
        'Use "kubectl api-resources" for a complete list of supported resources.'
    )


@dataclass(frozen=True)
class FileTarget:
    """One object named by a -f file: its resource, name and namespace (None when
    cluster-scoped)."""

    resource: Resource
    name: str
    namespace: str | None


async def file_targets(session: Session, args: argparse.Namespace) -> AsyncIterator[FileTarget]:
    """The objects the -f files (and -R) name, one at a time, each mapped to its resource as it
    comes (an unknown kind ends the command where it stands, as in kubectl's visitor)."""
    for manifest in read_manifests(args.filename, recursive=args.recursive):
        obj = manifest.obj
        resource = await session.client.resource_for_kind(obj["apiVersion"], obj["kind"])
        yield FileTarget(resource, meta.name_of(obj), session.manifest_scope(resource, obj))
