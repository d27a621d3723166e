"""`kubelite apply -f`: declarative configuration, client-side as kubectl does it, or server-side.

Client-side apply (the default) keeps the manifest it applied in the annotation
`kubectl.kubernetes.io/last-applied-configuration`. For each object it GETs the live one; when
there is none it POSTs the manifest with that annotation; otherwise it sends one strategic merge
patch built from three documents (`kubelite.api.patch.create_three_way_merge_patch`: the
last-applied manifest, the new one, the live object), or nothing at all when that patch is empty.
It prints `pod/web created`, `configured` or `unchanged`, and sends exactly the requests kubectl
sends (`fieldManager=kubectl-client-side-apply`, `fieldValidation=Strict`), so that kubectl and
kubelite can take turns applying the same objects.

`--server-side` PATCHes each manifest as an apply patch under a field manager (`kubectl` unless
`--field-manager` says otherwise); the server merges it and reports conflicts with other managers,
which `--force-conflicts` overrides.

Every object is read and mapped to its resource before anything is sent, so a typo in one
manifest leaves the cluster untouched.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kubelite.api import meta
from kubelite.api import schema as api_schema
from kubelite.api.patch import (
    PatchError,
    create_three_way_json_merge_patch,
    create_three_way_merge_patch,
)
from kubelite.api.types import Obj
from kubelite.cli import output
from kubelite.cli.kubectl.kubectl_args import (
    CommandError,
    Session,
    add_filename_flags,
    add_global_flags,
    report_errors,
    run_command,
)
from kubelite.cli.kubectl.manifests import Manifest, read_manifests
from kubelite.client import (
    APIClient,
    APIConflictError,
    APIError,
    APINotFoundError,
    PatchType,
    Resource,
    UnknownResourceError,
)
from kubelite.client.errors import error_from_status

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CLIENT_SIDE_MANAGER = "kubectl-client-side-apply"
SERVER_SIDE_MANAGER = "kubectl"
# kubectl apply's maxPatchRetry: conflicts on PATCH are retried with a fresh GET.
MAX_PATCH_RETRIES = 5

SSA_CONFLICT_HELP = """Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts"""

# --validate values and the fieldValidation each asks the server for.
FIELD_VALIDATION = {
    "true": "Strict",
    "strict": "Strict",
    "warn": "Warn",
    "false": "Ignore",
    "ignore": "Ignore",
}


def add_dry_run_flag(parser: argparse.ArgumentParser, printed: str = "what would be sent") -> None:
    """kubectl's --dry-run: `client` prints `printed` and sends nothing, `server` sends the
    requests with dryRun=All."""
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        default="none",
        choices=("none", "client", "server"),
        help=f"client: only print {printed}; server: let the server check it",
    )


def add_validate_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--validate",
        default="strict",
        type=str.lower,
        choices=sorted(FIELD_VALIDATION),
        help="how the server treats unknown fields: strict (default), warn or ignore",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_filename_flags(parser, "apply")
    parser.add_argument("--server-side", action="store_true", help="apply on the server")
    parser.add_argument(
        "--force-conflicts",
        action="store_true",
        help="with --server-side, take over fields that other managers own",
    )
    parser.add_argument("--field-manager", default="", help="the manager name to apply as")
    add_dry_run_flag(parser)
    add_validate_flag(parser)
    add_global_flags(parser)


def run(args: argparse.Namespace) -> int:
    return run_with_files(args, lambda session: _apply(session, args))


def run_with_files(args: argparse.Namespace, command: Callable[[Session], Awaitable[int]]) -> int:
    """`run_command` for a command that takes its objects from -f only (`apply`, `create`):
    without -f it fails before connecting, as kubectl does."""
    if not args.filename:
        print("error: must specify one of -f and -k", file=sys.stderr)
        return 1
    return run_command(args, command)


def manifests_for(args: argparse.Namespace, verb: str) -> list[Manifest]:
    """The manifests of the -f files; files that hold no object at all are an error."""
    manifests = read_manifests(args.filename, recursive=args.recursive)
    if not manifests:
        raise CommandError(f"no objects passed to {verb}")
    return manifests


def dry_run_suffix(dry_run: str) -> str:
    return {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")


@dataclass(frozen=True)
class Planned:
    """A manifest with the resource it belongs to and the namespace it goes to."""

    manifest: Manifest
    resource: Resource
    namespace: str | None

    @property
    def obj(self) -> Obj:
        return self.manifest.obj

    @property
    def name(self) -> str:
        return meta.name_of(self.manifest.obj)

    def printed_name(self) -> str:
        return output.object_name(self.resource.kind, self.resource.group, self.name)

    def reference(self) -> str:
        """How kubectl's errors name the object (`Resource: "/v1, Resource=pods", ...`)."""
        r = self.resource
        return (
            f'Resource: "{r.group}/{r.version}, Resource={r.plural}", '
            f'GroupVersionKind: "{r.group}/{r.version}, Kind={r.kind}"\n'
            f'Name: "{self.name}", Namespace: "{self.namespace or ""}"'
        )


async def plan(session: Session, manifests: list[Manifest]) -> list[Planned]:
    """Map every manifest to its resource and namespace, refusing all of them if one is wrong."""
    planned: list[Planned] = []
    for manifest in manifests:
        obj = manifest.obj
        try:
            resource = await session.client.resource_for_kind(obj["apiVersion"], obj["kind"])
        except UnknownResourceError as e:
            raise CommandError(
                f'resource mapping not found for name: "{meta.name_of(obj)}" namespace: '
                f'"{meta.namespace_of(obj)}" from "{manifest.source}": {e}\n'
                "ensure CRDs are installed first"
            ) from e
        namespace = None
        if resource.namespaced:
            namespace = meta.namespace_of(obj) or session.namespace
            if session.namespace_explicit and namespace != session.namespace:
                raise CommandError(
                    f'the namespace from the provided object "{namespace}" does not match the '
                    f'namespace "{session.namespace}". You must pass '
                    f"'--namespace={namespace}' to perform this operation."
                )
        planned.append(Planned(manifest, resource, namespace))
    return planned


def with_namespace(item: Planned) -> Obj:
    """The manifest as it will be sent: a copy, with the namespace it is applied to."""
    obj = copy.deepcopy(item.obj)
    if item.namespace:
        meta.metadata(obj)["namespace"] = item.namespace
    return obj


def last_applied_configuration(obj: Obj) -> str:
    """The annotation's value: the object without it, as Go's json.Encoder writes it."""
    stripped = copy.deepcopy(obj)
    annotations = meta.metadata(stripped).setdefault("annotations", {})
    annotations.pop(LAST_APPLIED, None)
    return output.go_json(stripped) + "\n"


def annotated(obj: Obj) -> Obj:
    """The object with its last-applied-configuration annotation (GetModifiedConfiguration)."""
    result = copy.deepcopy(obj)
    value = last_applied_configuration(obj)
    meta.metadata(result).setdefault("annotations", {})[LAST_APPLIED] = value
    return result


def with_message(err: APIError, message: str) -> APIError:
    """The same error with kubectl's context in front of the server's message."""
    return error_from_status({**err.status, "message": message})


def _three_way_patch(
    item: Planned, original: Obj | None, modified: Obj, current: Obj
) -> tuple[Obj, PatchType]:
    r = item.resource
    node = api_schema.load().for_kind(r.group, r.version, r.kind)
    if node is None:
        return create_three_way_json_merge_patch(original, modified, current), PatchType.MERGE
    return create_three_way_merge_patch(original, modified, current, node), PatchType.STRATEGIC


def _warn_missing_annotation(item: Planned) -> None:
    print(
        f"Warning: resource {item.resource.group_resource}/{item.name} is missing the "
        f"{LAST_APPLIED} annotation which is required by kubectl apply. kubectl apply should "
        "only be used on resources created declaratively by either kubectl create --save-config "
        "or kubectl apply. The missing annotation will be patched automatically.",
        file=sys.stderr,
    )


async def _client_side(client: APIClient, item: Planned, args: argparse.Namespace) -> str:
    source = item.manifest.source
    modified = annotated(with_namespace(item))
    validation = FIELD_VALIDATION[args.validate]
    if not item.name:
        raise CommandError(
            f"error when retrieving current configuration of:\n{item.reference()}\n"
            f'from server for: "{source}": resource name may not be empty'
        )
    conflicts = 0
    while True:
        try:
            current = await client.get(item.resource, item.name, namespace=item.namespace)
        except APINotFoundError:
            if args.dry_run != "client":
                try:
                    await client.create(
                        item.resource,
                        modified,
                        namespace=item.namespace,
                        field_manager=args.field_manager or CLIENT_SIDE_MANAGER,
                        field_validation=validation,
                        dry_run=args.dry_run == "server",
                    )
                except APIError as e:
                    raise with_message(e, f'error when creating "{source}": {e.message}') from e
            return "created"
        except APIError as e:
            raise with_message(
                e,
                f"error when retrieving current configuration of:\n{item.reference()}\n"
                f'from server for: "{source}": {e.message}',
            ) from e
        annotations = meta.get_path(current, "metadata", "annotations", default={})
        if LAST_APPLIED not in annotations:
            _warn_missing_annotation(item)
        try:
            original = (
                json.loads(annotations[LAST_APPLIED]) if annotations.get(LAST_APPLIED) else None
            )
        except ValueError as e:
            raise CommandError(
                f"error while retrieving original configuration of {item.printed_name()}: "
                f"the {LAST_APPLIED} annotation is not JSON"
            ) from e
        try:
            patch, patch_type = _three_way_patch(item, original, modified, current)
        except PatchError as e:
            raise CommandError(f'error when patching "{source}": {e.message}') from e
        if not patch:
            return "unchanged"
        if args.dry_run == "client":
            return "configured"
        try:
            await client.patch(
                item.resource,
                item.name,
                patch,
                patch_type=patch_type,
                namespace=item.namespace,
                field_manager=args.field_manager or CLIENT_SIDE_MANAGER,
                field_validation=validation,
                dry_run=args.dry_run == "server",
            )
        except APIConflictError:
            # Someone changed the object between our GET and PATCH: compute the patch again.
            conflicts += 1
            if conflicts < MAX_PATCH_RETRIES:
                continue
            raise
        except APIError as e:
            raise with_message(
                e,
                f"error when applying patch:\n{output.go_json(patch)}\nto:\n{item.reference()}\n"
                f'for: "{source}": error when patching "{source}": {e.message}',
            ) from e
        return "configured"


async def _server_side(client: APIClient, item: Planned, args: argparse.Namespace) -> str:
    try:
        await client.patch(
            item.resource,
            item.name,
            with_namespace(item),
            patch_type=PatchType.APPLY,
            namespace=item.namespace,
            field_manager=args.field_manager or SERVER_SIDE_MANAGER,
            field_validation=FIELD_VALIDATION[args.validate],
            force=args.force_conflicts,
            dry_run=args.dry_run == "server",
        )
    except APIConflictError as e:
        raise CommandError(f"{e.message}\n{SSA_CONFLICT_HELP}") from e
    return "serverside-applied"


async def _apply(session: Session, args: argparse.Namespace) -> int:
    manifests = manifests_for(args, "apply")
    if args.server_side and args.dry_run == "client":
        raise CommandError(
            "--dry-run=client doesn't work with --server-side "
            "(did you mean --dry-run=server instead?)"
        )
    errors: list[BaseException] = []
    suffix = dry_run_suffix(args.dry_run)
    for item in await plan(session, manifests):
        try:
            if args.server_side:
                result = await _server_side(session.client, item, args)
            else:
                result = await _client_side(session.client, item, args)
        except (APIError, CommandError) as e:
            errors.append(e)
            continue
        print(f"{item.printed_name()} {result}{suffix}", flush=True)
    return report_errors(errors)
