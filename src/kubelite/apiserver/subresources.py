"""Subresources: status, binding, eviction, a namespace's finalize, scale, pods' log, exec,
attach and portforward, and service accounts' token.

Each is a narrow door into an object that Kubernetes keeps separate for authorization and for
conflict-free writers: the kubelet writes pods/status, the scheduler posts pods/binding (which
sets spec.nodeName exactly once), `kubectl drain` posts evictions, the namespace controller
empties a namespace's finalizers, scalers touch only replicas, and the kubelet asks for pods'
service account tokens (issued by `serviceaccount_token`, never stored). pods/log, exec, attach and
portforward are not in the store at all: `pod_proxy` passes them on to the pod's kubelet.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubelite.api import decoding, errors, meta, schema
from kubelite.api.patch.json_patch import apply_json_patch
from kubelite.api.patch.merge_patch import apply_merge_patch
from kubelite.apiserver import (
    eviction,
    options,
    patching,
    pod_proxy,
    responses,
    serviceaccount_token,
)
from kubelite.apiserver.bodies import read_body

if TYPE_CHECKING:
    from kubelite.apiserver.rest import RequestContext, RestAPI

Obj = dict[str, Any]


def _not_found() -> errors.StatusError:
    return errors.StatusError(
        404, errors.REASON_NOT_FOUND, "the server could not find the requested resource"
    )


async def handle(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    sub = ctx.info.subresource
    if ctx.resource.subresource(sub) is None or len(ctx.info.parts) > 3:
        raise _not_found()
    verb = ctx.info.verb
    handler = _HANDLERS.get((sub, verb))
    if handler is None:
        raise errors.method_not_allowed()
    return await handler(api, ctx)


# --- status ---------------------------------------------------------------------------------


async def _status_get(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    return await api.get(ctx)


async def _status_update(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    return await api.update(ctx, "status")


async def _status_patch(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    return await api.patch(ctx, "status")


# --- pods/binding ---------------------------------------------------------------------------


async def _decode_as(api: RestAPI, ctx: RequestContext, group: str, version: str, kind: str) -> Obj:
    raw = await read_body(ctx.request)
    value = decoding.parse_body(raw, ctx.request.headers.get("Content-Type", ""))
    api_version = f"{group}/{version}" if group else version
    node = schema.load().for_kind(group, version, kind)
    obj, problems = decoding.decode(value, node, kind, api_version)
    api.judge(ctx, problems, options.field_validation(ctx.query, "CreateOptions"))
    return obj


async def _bind(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    """POST pods/<name>/binding: assign the pod to a node, once (BindingREST.Create)."""
    binding = await _decode_as(api, ctx, "", "v1", "Binding")
    name = ctx.info.name
    if meta.name_of(binding) and meta.name_of(binding) != name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    target = binding.get("target") or {}
    problems = []
    if not target.get("name"):
        problems.append(errors.required("target.name"))
    if target.get("kind") not in (None, "", "Node"):
        problems.append(errors.not_supported("target.kind", target.get("kind"), ["Node"]))
    if problems:
        raise errors.invalid_object("Binding", name, problems)
    node_name = target["name"]
    annotations = meta.get_path(binding, "metadata", "annotations", default={})
    wanted_uid = meta.get_path(binding, "metadata", "uid", default="")
    dry_run = options.dry_run(ctx.query)

    def refuse(reason: str) -> errors.StatusError:
        return errors.conflict("pods/binding", name, reason)

    async def assign(pod: Obj | None) -> Obj:
        if pod is None:
            raise ctx.store.not_found(name)
        md = pod["metadata"]
        if wanted_uid and md.get("uid") != wanted_uid:
            raise refuse(
                f"Precondition failed: UID in precondition: {wanted_uid}, UID in object meta: "
                f"{md.get('uid')}"
            )
        if md.get("deletionTimestamp"):
            raise refuse(f"pod {name} is being deleted, cannot be assigned to a host")
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            raise refuse(f'pod {name} is already assigned to node "{spec["nodeName"]}"')
        if spec.get("schedulingGates"):
            raise refuse(f"pod {name} has non-empty .spec.schedulingGates")
        spec["nodeName"] = node_name
        if annotations:
            md.setdefault("annotations", {}).update(annotations)
        _set_condition(pod, "PodScheduled", "True")
        md.pop("resourceVersion", None)
        return pod

    await ctx.store.update(ctx.info.namespace, name, assign, subresource="binding", dry_run=dry_run)
    return responses.body(_success(201), status=201, warnings=ctx.warnings)


def _set_condition(pod: Obj, type_: str, status: str) -> None:
    """Add or update a pod condition, moving lastTransitionTime only when status changes."""
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    now = meta.format_time(meta.now())
    found = meta.find_condition(conditions, type_)
    if found is None:
        conditions.append(
            {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
        )
    elif found.get("status") != status:
        found["status"] = status
        found["lastTransitionTime"] = now


def _success(code: int) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


# --- pods/eviction --------------------------------------------------------------------------


async def _evict(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    """POST pods/<name>/eviction: delete the pod if its disruption budget allows (`eviction`)."""
    body = await _decode_as(api, ctx, "policy", "v1", "Eviction")
    name = ctx.info.name
    if meta.name_of(body) != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    opts = options.delete_options(ctx.query, body.get("deleteOptions"))
    budgets = api.registry.lookup("policy", "v1", "poddisruptionbudgets")
    assert budgets is not None
    budget_store = api.stores[budgets]
    failure = await eviction.Eviction(
        ctx.store,
        budget_store,
        ctx.info.namespace,
        name,
        opts,
        on_budget_written=lambda new, old: patching.track_update(
            budgets, old, new, eviction.STATUS_MANAGER, "status"
        ),
    ).run()
    if failure is not None:
        return responses.body(failure, status=failure["code"], warnings=ctx.warnings)
    return responses.body(_success(201), status=201, warnings=ctx.warnings)


# --- namespaces/finalize --------------------------------------------------------------------


async def _finalize(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    """PUT namespaces/<name>/finalize: set spec.finalizers; an emptied, deleting namespace goes."""
    body = await api.parse_object(ctx)
    name = ctx.info.name
    strategy = ctx.resource.strategy

    async def change(ns: Obj | None) -> Obj:
        if ns is None:
            raise ctx.store.not_found(name)
        desired = copy.deepcopy(ns)
        desired["spec"] = dict(body.get("spec") or {})
        strategy.prepare_for_finalize(desired, ns)
        problems = strategy.validate_finalize(desired, ns)
        if problems:
            raise ctx.store.invalid(desired, problems)
        desired["metadata"].pop("resourceVersion", None)
        return desired

    result, _ = await ctx.store.update("", name, change, subresource="finalize")
    return api.respond(ctx, result)


# --- scale ----------------------------------------------------------------------------------


def _selector_string(workload: Obj) -> str:
    selector = meta.get_path(workload, "spec", "selector", default={}) or {}
    if workload.get("kind") == "ReplicationController":
        # A ReplicationController's selector is a plain label map.
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        key = expr.get("key")
        values = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _scale_of(workload: Obj) -> Obj:
    md = workload["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: md[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in md
        },
        "spec": {"replicas": meta.get_path(workload, "spec", "replicas", default=0)},
        "status": {
            "replicas": meta.get_path(workload, "status", "replicas", default=0),
            "selector": _selector_string(workload),
        },
    }


async def _scale_get(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    workload = await ctx.store.get(ctx.info.namespace, ctx.info.name)
    return responses.body(_scale_of(workload), warnings=ctx.warnings)


async def _scale_write(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    raw = await read_body(ctx.request)
    content_type = decoding.media_type(ctx.request.headers.get("Content-Type", ""))
    value = decoding.plain(decoding.parse_body(raw, content_type or "application/json"))
    name = ctx.info.name

    async def change(workload: Obj | None) -> Obj:
        if workload is None:
            raise ctx.store.not_found(name)
        scale = _scale_of(workload)
        if ctx.info.verb == "update":
            desired = value
        elif content_type == patching.JSON_PATCH:
            desired = apply_json_patch(scale, value)
        else:
            desired = apply_merge_patch(scale, value)
        replicas = meta.get_path(desired, "spec", "replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid_object(
                "Scale",
                name,
                [errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
                "autoscaling",
            )
        wanted_rv = meta.get_path(desired, "metadata", "resourceVersion", default="")
        if ctx.info.verb == "update" and wanted_rv:
            workload["metadata"]["resourceVersion"] = wanted_rv
        else:
            workload["metadata"].pop("resourceVersion", None)
        workload.setdefault("spec", {})["replicas"] = replicas
        return workload

    manager = options.field_manager(ctx.query, ctx.request.headers.get("User-Agent", ""))
    result, _ = await ctx.store.update(
        ctx.info.namespace,
        name,
        change,
        subresource="scale",
        on_prepared=lambda new, old: patching.track_update(
            ctx.resource, old, new, manager, "scale"
        ),
    )
    return responses.body(_scale_of(result), warnings=ctx.warnings)


# --- serviceaccounts/token -----------------------------------------------------------------


async def _token(api: RestAPI, ctx: RequestContext) -> web.StreamResponse:
    """POST serviceaccounts/<name>/token: a TokenRequest answered with a signed token."""
    issuer = ctx.request.config_dict.get(serviceaccount_token.ISSUER_KEY)
    if issuer is None:
        raise errors.StatusError(
            503, errors.REASON_SERVICE_UNAVAILABLE, "no service account token issuer is configured"
        )
    request = await _decode_as(
        api,
        ctx,
        serviceaccount_token.GROUP,
        serviceaccount_token.VERSION,
        serviceaccount_token.KIND,
    )
    lookup = serviceaccount_token.object_lookup(api.stores)
    answer = await serviceaccount_token.create_token(
        issuer, lookup, ctx.info.namespace, ctx.info.name, request
    )
    return responses.body(answer, status=201, warnings=ctx.warnings)


_HANDLERS = {
    ("status", "get"): _status_get,
    ("status", "update"): _status_update,
    ("status", "patch"): _status_patch,
    ("binding", "create"): _bind,
    ("eviction", "create"): _evict,
    ("finalize", "update"): _finalize,
    ("scale", "get"): _scale_get,
    ("scale", "update"): _scale_write,
    ("scale", "patch"): _scale_write,
    ("log", "get"): pod_proxy.pod_log,
    # A WebSocket upgrade is a GET; SPDY (kubectl before 1.30, 1.31 for port-forward) a POST.
    ("exec", "get"): pod_proxy.pod_exec,
    ("exec", "create"): pod_proxy.pod_exec,
    ("attach", "get"): pod_proxy.pod_attach,
    ("attach", "create"): pod_proxy.pod_attach,
    ("portforward", "get"): pod_proxy.pod_portforward,
    ("portforward", "create"): pod_proxy.pod_portforward,
    ("token", "create"): _token,
}
