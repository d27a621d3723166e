"""`kubelite describe`: fetch objects and what relates to them, and print them as kubectl does.

For each object this fetches what kubectl's describer fetches: the object, its events (a list of
core events with `fieldSelector=involvedObject.name=..,involvedObject.namespace=..,
involvedObject.uid=..`, plus `involvedObject.kind` for other kinds than pods), and for a node the
pods bound to it and its Lease; for a Deployment the ReplicaSets it controls, and for the other
workload kinds that own pods (ReplicaSets, ReplicationControllers, StatefulSets, DaemonSets) the
pods their selector matches, which the describer counts by phase; for a Service its
EndpointSlices. The other modules of this package lay the text out, one per group of kinds:
pods, nodes, workloads, Services, Endpoints and EndpointSlices get kubectl's own layouts, any
other kind the generic one. `describe TYPE NAME` falls back, as kubectl does, to every object
whose name starts with NAME.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api import fields, labels, meta
from kubelite.api.resources import ENDPOINT_SLICES, EVENTS, LEASES, PODS, REPLICA_SETS
from kubelite.api.types import Obj
from kubelite.api.wellknown import NODE_LEASE_NAMESPACE
from kubelite.cli.kubectl.describe import (
    accounts,
    generic,
    limitranges,
    network,
    nodes,
    pods,
    quota,
    workloads,
)
from kubelite.cli.kubectl.kubectl_args import (
    DEFAULT_CHUNK_SIZE,
    Session,
    add_all_namespaces_flag,
    add_filename_flags,
    add_global_flags,
    add_selector_flag,
    file_targets,
    missing_type,
    report_errors,
    resolve_targets,
    run_command,
)
from kubelite.client import APIClient, APIError, APINotFoundError, Resource


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME_PREFIX]")
    add_selector_flag(parser)
    # None: not given, and then (since kubectl 1.36, kubernetes/kubernetes#137145) events are
    # shown only when one object was found without error.
    parser.add_argument(
        "--show-events",
        default=None,
        type=str.lower,
        choices=("true", "false"),
        help="show the events of the objects (default: true for a single object, false for "
        "several objects and prefix matching)",
    )
    add_filename_flags(parser, "describe")
    add_all_namespaces_flag(parser)
    add_global_flags(parser)


def run(args: argparse.Namespace) -> int:
    return run_command(args, lambda session: _describe(session, args))


def event_selector(obj: Obj, kind: str | None) -> str:
    """The field selector of an object's events (EventInterface.GetFieldSelector)."""
    terms = [
        ("involvedObject.name", meta.name_of(obj)),
        ("involvedObject.namespace", meta.namespace_of(obj)),
    ]
    if kind:
        terms.append(("involvedObject.kind", kind))
    uid = meta.get_path(obj, "metadata", "uid")
    if uid:
        terms.append(("involvedObject.uid", uid))
    return ",".join(f"{key}={fields.escape_value(value)}" for key, value in terms)


async def search_events(client: APIClient, obj: Obj, kind: str | None) -> list[Obj]:
    """The core events about an object, in every namespace when it has none (a node)."""
    listing = await client.list(
        EVENTS,
        namespace=meta.namespace_of(obj) or None,
        field_selector=event_selector(obj, kind),
        limit=DEFAULT_CHUNK_SIZE,
    )
    return listing.get("items") or []


async def _node_extras(
    client: APIClient, node: Obj, show_events: bool
) -> tuple[list[Obj], list[Obj] | None, Obj | str]:
    name = meta.name_of(node)
    pods = await client.list(
        PODS,
        field_selector=f"spec.nodeName={fields.escape_value(name)},"
        "status.phase!=Succeeded,status.phase!=Failed",
        limit=DEFAULT_CHUNK_SIZE,
    )
    events = None
    if show_events:
        # The kubelet names the node by its name where others use its uid: look for both.
        events = await search_events(client, node, "Node")
        by_name = {**node, "metadata": {**(node.get("metadata") or {}), "uid": name}}
        events += await search_events(client, by_name, "Node")
    lease: Obj | str
    try:
        lease = await client.get(LEASES, name, namespace=NODE_LEASE_NAMESPACE)
    except APIError as e:
        lease = e.message
    return pods.get("items") or [], events, lease


def _controlled_by(obj: Obj, owner: Obj) -> bool:
    """metav1.IsControlledBy: the object's controller reference carries the owner's uid."""
    uid = meta.get_path(owner, "metadata", "uid")
    return uid is not None and workloads.controller_uid(obj) == uid


async def _deployment_replica_sets(client: APIClient, deployment: Obj) -> list[Obj] | None:
    """The ReplicaSets a Deployment controls (deploymentutil.ListReplicaSets): those its
    selector matches whose controller is this Deployment. None when they cannot be listed,
    which kubectl does not report but shows by leaving out the ReplicaSet lines."""
    try:
        selector = str(labels.from_label_selector(meta.get_path(deployment, "spec", "selector")))
        listing = await client.list(
            REPLICA_SETS,
            namespace=meta.namespace_of(deployment),
            label_selector=selector,
            limit=DEFAULT_CHUNK_SIZE,
        )
    except (APIError, labels.SelectorError):
        return None
    return [rs for rs in listing.get("items") or [] if _controlled_by(rs, deployment)]


async def _pod_counts(
    client: APIClient, owner: Obj, selector: labels.Selector
) -> workloads.PodCounts:
    """getPodStatusForController: the phases of the pods the selector matches in the owner's
    namespace and the owner controls. A failed list raises, as kubectl fails the description
    (except a ReplicaSet's, which says so in its text: see `describe_object`)."""
    listing = await client.list(
        PODS,
        namespace=meta.namespace_of(owner),
        label_selector=str(selector),
        limit=DEFAULT_CHUNK_SIZE,
    )
    return workloads.count_pods(listing.get("items") or [], owner)


async def _service_slices(client: APIClient, service: Obj) -> list[Obj]:
    """The Service's EndpointSlices, by the service-name label (as kubectl 1.33 lists them)."""
    listing = await client.list(
        ENDPOINT_SLICES,
        namespace=meta.namespace_of(service),
        label_selector=f"kubernetes.io/service-name={meta.name_of(service)}",
    )
    return listing.get("items") or []


def _spec_selector(obj: Obj) -> labels.Selector:
    return labels.from_label_selector(meta.get_path(obj, "spec", "selector"))


# The kinds whose describer needs nothing fetched but the object and its events, by (group, kind);
# any kind not named here or in describe_object gets the generic layout.
_DESCRIBED_ALONE: dict[tuple[str, str], Callable[[Obj, list[Obj] | None, dt.datetime], str]] = {
    ("batch", "Job"): workloads.describe_job,
    ("batch", "CronJob"): workloads.describe_cron_job,
    ("policy", "PodDisruptionBudget"): workloads.describe_pod_disruption_budget,
    ("", "Endpoints"): network.describe_endpoints,
    ("discovery.k8s.io", "EndpointSlice"): network.describe_endpoint_slice,
    ("", "ServiceAccount"): accounts.describe_service_account,
}


async def describe_object(
    client: APIClient, resource: Resource, obj: Obj, show_events: bool
) -> str:
    """The description of one object, with whatever its describer needs fetched.

    Describers are picked by group and kind, as kubectl's describerMap does, so a kind gets its
    own layout as soon as the server serves it.
    """
    now = meta.now()
    kind = (resource.group, resource.kind)
    if kind == ("", "Pod"):
        events = await search_events(client, obj, None) if show_events else None
        return pods.describe_pod(obj, events, now)
    if kind == ("", "Node"):
        node_pods, events, lease = await _node_extras(client, obj, show_events)
        return nodes.describe_node(obj, node_pods, events, lease, now)
    if kind == ("apps", "ReplicaSet"):
        # kubectl describes the ReplicaSet even when its pods cannot be listed.
        counts: workloads.PodCounts | str
        try:
            counts = await _pod_counts(client, obj, _spec_selector(obj))
        except APIError as e:
            counts = e.message
        events = await search_events(client, obj, resource.kind) if show_events else None
        return workloads.describe_replica_set(obj, counts, events, now)
    if kind in (("", "ReplicationController"), ("apps", "StatefulSet"), ("apps", "DaemonSet")):
        if kind[1] == "ReplicationController":
            selector = labels.selector_from_set(meta.get_path(obj, "spec", "selector"))
        else:
            selector = _spec_selector(obj)
        pod_counts = await _pod_counts(client, obj, selector)
        events = await search_events(client, obj, resource.kind) if show_events else None
        describe = {
            "ReplicationController": workloads.describe_replication_controller,
            "StatefulSet": workloads.describe_stateful_set,
            "DaemonSet": workloads.describe_daemon_set,
        }[kind[1]]
        return describe(obj, pod_counts, events, now)
    if kind == ("", "LimitRange"):
        # kubectl's LimitRangeDescriber shows no events and so fetches none.
        return limitranges.describe_limit_range(obj)
    if kind == ("", "ResourceQuota"):
        # kubectl's ResourceQuotaDescriber shows no events either.
        return quota.describe_quota(obj)
    events = await search_events(client, obj, resource.kind) if show_events else None
    if kind == ("apps", "Deployment"):
        replica_sets = await _deployment_replica_sets(client, obj)
        return workloads.describe_deployment(obj, replica_sets, events, now)
    if kind == ("", "Service"):
        slices = await _service_slices(client, obj)
        return network.describe_service(obj, slices, events, now)
    describe_alone = _DESCRIBED_ALONE.get(kind, generic.describe_generic)
    return describe_alone(obj, events, now)


async def _matching_prefix(
    client: APIClient, resource: Resource, namespace: str | None, prefix: str
) -> list[Obj]:
    listing = await client.list(resource, namespace=namespace, limit=DEFAULT_CHUNK_SIZE)
    return [o for o in listing.get("items") or [] if meta.name_of(o).startswith(prefix)]


@dataclass
class Found:
    """The objects to describe, in order, the errors met finding them, and whether every
    resource asked for lives in the session's namespace (for `No resources found in ...`)."""

    objects: list[tuple[Resource, Obj]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    in_namespace: bool = True
    # Found by name prefix: kubectl then ends every description with a newline.
    by_prefix: bool = False


async def _objects_from_files(session: Session, args: argparse.Namespace, result: Found) -> None:
    async for target in file_targets(session, args):
        try:
            live = await session.client.get(
                target.resource, target.name, namespace=target.namespace
            )
        except APIError as e:
            result.errors.append(e)
            continue
        result.objects.append((target.resource, live))


async def _objects_from_args(session: Session, args: argparse.Namespace, result: Found) -> None:
    client = session.client
    if not args.resources:
        raise missing_type("describe")
    targets, _ = await resolve_targets(client, args.resources, "describe")
    # `describe TYPE NAME` (and only that form) also accepts a name prefix.
    prefix_allowed = len(args.resources) == 2 and "/" not in args.resources[0]
    result.in_namespace = not args.all_namespaces and all(t.resource.namespaced for t in targets)
    for target in targets:
        resource = target.resource
        namespace = session.scope(resource, args.all_namespaces)
        try:
            if target.name is None:
                listing = await client.list(
                    resource,
                    namespace=namespace,
                    label_selector=args.selector,
                    limit=DEFAULT_CHUNK_SIZE,
                )
                result.objects += [(resource, item) for item in listing.get("items") or []]
                continue
            try:
                live = await client.get(resource, target.name, namespace=namespace)
                result.objects.append((resource, live))
            except APINotFoundError:
                if not prefix_allowed:
                    raise
                matches = await _matching_prefix(client, resource, namespace, target.name)
                if not matches:
                    raise
                result.objects += [(resource, item) for item in matches]
                result.by_prefix = True
        except APIError as e:
            result.errors.append(e)


def events_wanted(show_events: str | None, result: Found) -> bool:
    """`--show-events` as given, else whether the request found exactly one object and no
    error: kubectl 1.36 no longer fetches the events of every object of a list, a selector,
    several names or a name prefix (each would cost a request)."""
    if show_events is not None:
        return show_events == "true"
    return len(result.objects) == 1 and not result.errors and not result.by_prefix


async def _describe(session: Session, args: argparse.Namespace) -> int:
    result = Found()
    if args.filename:
        await _objects_from_files(session, args, result)
    else:
        await _objects_from_args(session, args, result)
    show_events = events_wanted(args.show_events, result)
    texts = [
        await describe_object(session.client, resource, obj, show_events)
        for resource, obj in result.objects
    ]
    if result.by_prefix:
        sys.stdout.write("".join(f"{text}\n" for text in texts))
    else:
        sys.stdout.write("\n\n".join(texts))
    sys.stdout.flush()
    if not result.objects and not result.errors:
        if result.in_namespace:
            print(f"No resources found in {session.namespace} namespace.", file=sys.stderr)
        else:
            print("No resources found", file=sys.stderr)
    return report_errors(result.errors)
