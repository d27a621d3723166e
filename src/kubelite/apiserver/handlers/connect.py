"""CONNECT: pods/log, exec, attach and portforward, passed on to the pod's kubelet
(Kubernetes' handlers for `rest.Connecter` storages: LogREST, ExecREST, AttachREST,
PortForwardREST).

Each handler checks the request against the pod (which container, whether the pod has a node:
`pod_proxy`'s checks), asks the storage where the pod's kubelet is, and proxies through the
server's kubelet client (`HandlerConfig.kubelet`; without one, a 503). A WebSocket upgrade is a
GET, a SPDY one (kubectl before 1.30, 1.31 for port-forward) a POST: both verbs lead here.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from aiohttp import hdrs, web

from kubelite.api import errors
from kubelite.apiserver import pod_proxy, upgrade_proxy
from kubelite.apiserver.kubelet_client import KubeletClient
from kubelite.apiserver.registry.pod_connect import PodConnectStore
from kubelite.apiserver.scope import RequestScope


def _kubelet(scope: RequestScope) -> KubeletClient:
    client = scope.config.kubelet
    if client is None:
        raise errors.StatusError(
            503, "ServiceUnavailable", "this API server has no client for talking to kubelets"
        )
    return client


def _no_host(scope: RequestScope) -> errors.StatusError:
    return errors.bad_request(f"pod {scope.info.name} does not have a host assigned")


async def log(scope: RequestScope, storage: PodConnectStore) -> web.StreamResponse:
    """GET pods/<name>/log (LogREST.Get): the container's log from the node's kubelet."""
    info = scope.info
    query = scope.query
    params = pod_proxy.log_query(query, info.name)
    pod, node_name = await storage.bound_pod(info.namespace, info.name)
    container = pod_proxy.choose_container(pod, query.get("container", ""))
    if not node_name:
        # Kubernetes gives an empty log for a pod not yet on a node.
        return web.Response(text="", content_type="text/plain")
    pod_proxy.check_log_status(pod, container, "previous" in params)
    base = await storage.kubelet_base_url(node_name)
    url = base + pod_proxy.kubelet_path("containerLogs", info.namespace, info.name, container)
    if params:
        url += "?" + urlencode(params)
    return await pod_proxy.stream_log(scope.request, _kubelet(scope), url)


async def exec_(scope: RequestScope, storage: PodConnectStore) -> web.StreamResponse:
    """GET or POST pods/<name>/exec (ExecREST.Connect): streams to the node's kubelet."""
    info = scope.info
    query = scope.query
    command = query.getall("command", [])
    pod, node_name = await storage.bound_pod(info.namespace, info.name)
    container = pod_proxy.choose_container(pod, query.get("container", ""))
    if not node_name:
        raise _no_host(scope)
    if not command:
        raise errors.bad_request("you must specify at least 1 command")
    params: list[tuple[str, str]] = [("command", c) for c in command]
    params += pod_proxy.stream_flags(query)
    base = await storage.kubelet_base_url(node_name)
    url = base + pod_proxy.kubelet_path("exec", info.namespace, info.name, container)
    return await pod_proxy.stream(scope.request, _kubelet(scope), url + "?" + urlencode(params))


async def attach(scope: RequestScope, storage: PodConnectStore) -> web.StreamResponse:
    """GET or POST pods/<name>/attach (AttachREST.Connect): the container's own stdio, at its
    node's kubelet, over the same protocols as exec."""
    info = scope.info
    query = scope.query
    pod, node_name = await storage.bound_pod(info.namespace, info.name)
    container = pod_proxy.choose_container(pod, query.get("container", ""))
    if not node_name:
        raise _no_host(scope)
    base = await storage.kubelet_base_url(node_name)
    url = base + pod_proxy.kubelet_path("attach", info.namespace, info.name, container)
    flags = urlencode(pod_proxy.stream_flags(query))
    return await pod_proxy.stream(scope.request, _kubelet(scope), url + "?" + flags)


async def portforward(scope: RequestScope, storage: PodConnectStore) -> web.StreamResponse:
    """GET or POST pods/<name>/portforward (PortForwardREST.Connect): SPDY to the kubelet,
    from a SPDY client or from kubectl 1.31+'s WebSocket tunnel."""
    request = scope.request
    info = scope.info
    # PodPortForwardOptions: read before anything else, as the options are decoded first.
    ports = pod_proxy.parse_ports(request.query.getall("ports", []), info.name)
    tunnel = upgrade_proxy.tunnel_protocol(request, pod_proxy.PORTFORWARD_PROTOCOLS)
    websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    if websocket and tunnel is None and not ports:
        # The kubelet's refusal, which a failed WebSocket handshake would not carry.
        raise errors.bad_request('query parameter "port" is required')
    _, node_name = await storage.bound_pod(info.namespace, info.name)
    if not node_name:
        raise _no_host(scope)
    base = await storage.kubelet_base_url(node_name)
    url = base + "/".join(
        ("/portForward", quote(info.namespace, safe=""), quote(info.name, safe=""))
    )
    client = _kubelet(scope)
    if tunnel is not None:
        inner = tunnel[len(upgrade_proxy.TUNNEL_PREFIX) :]
        upstream = await pod_proxy.open_spdy(client, url, "POST", [inner])
        return await upgrade_proxy.relay_tunnel(request, tunnel, upstream)
    if upgrade_proxy.is_spdy(request):
        protocols = upgrade_proxy.spdy_protocols(request)
        upstream = await pod_proxy.open_spdy(client, url, request.method, protocols)
        return await upgrade_proxy.relay_spdy(request, upstream)
    if websocket:
        # Other clients' WebSocket port-forward (`?ports=80`): the kubelet serves it itself,
        # and calls the parameter `port`.
        query = urlencode([("port", str(p)) for p in ports])
        return await pod_proxy.proxy_websocket(
            request, client, f"{url}?{query}", pod_proxy.PORTFORWARD_WS_PROTOCOLS
        )
    raise errors.bad_request("Upgrade request required")
