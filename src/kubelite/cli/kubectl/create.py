"""`kubelite create -f`: POST each object of the manifests, as `kubectl create` does.

Objects are mapped to their resources first, then created one by one with
`fieldManager=kubectl-create` and `fieldValidation=Strict`; an object that fails (already exists,
invalid) does not stop the others, and its error names the file it came from:
`Error from server (AlreadyExists): error when creating "pod.yaml": pods "web" already exists`.
`--save-config` adds the last-applied annotation, so that `apply` can take over later.
"""

from __future__ import annotations

import argparse

from kubelite.cli.kubectl.apply import (
    FIELD_VALIDATION,
    add_dry_run_flag,
    add_validate_flag,
    annotated,
    dry_run_suffix,
    manifests_for,
    plan,
    run_with_files,
    with_message,
    with_namespace,
)
from kubelite.cli.kubectl.kubectl_args import (
    Session,
    add_filename_flags,
    add_global_flags,
    report_errors,
)
from kubelite.client import APIError

CREATE_MANAGER = "kubectl-create"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_filename_flags(parser, "create")
    parser.add_argument(
        "--save-config",
        action="store_true",
        help="store the manifest in the last-applied annotation, for a later apply",
    )
    parser.add_argument("--field-manager", default=CREATE_MANAGER, help="the manager name")
    add_dry_run_flag(parser)
    add_validate_flag(parser)
    add_global_flags(parser)


def run(args: argparse.Namespace) -> int:
    return run_with_files(args, lambda session: _create(session, args))


async def _create(session: Session, args: argparse.Namespace) -> int:
    manifests = manifests_for(args, "create")
    errors: list[BaseException] = []
    suffix = dry_run_suffix(args.dry_run)
    for item in await plan(session, manifests):
        obj = with_namespace(item)
        if args.save_config:
            obj = annotated(obj)
        if args.dry_run != "client":
            try:
                await session.client.create(
                    item.resource,
                    obj,
                    namespace=item.namespace,
                    field_manager=args.field_manager,
                    field_validation=FIELD_VALIDATION[args.validate],
                    dry_run=args.dry_run == "server",
                )
            except APIError as e:
                source = item.manifest.source
                errors.append(with_message(e, f'error when creating "{source}": {e.message}'))
                continue
        print(f"{item.printed_name()} created{suffix}", flush=True)
    return report_errors(errors)
