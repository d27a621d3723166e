"""The API server's HTTP application: one entry point that routes every request.

Every request passes the same steps, in Kubernetes' order: authentication (401 for bad
credentials, anonymous access only to public paths), impersonation and authorization (403 in
Kubernetes' words), then routing to discovery, OpenAPI, health,
metrics, the service-account issuer's OIDC documents or the REST verbs, with every failure
rendered as a `Status` and counted in the metrics. Errors that are not a client's mistake are
logged and answered with a 500 that says nothing of the server's insides.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from kubelite.api import errors
from kubelite.api.kinds import REGISTRY, Registry
from kubelite.apiserver import (
    bodies,
    certs,
    connections,
    datastore,
    node_join,
    openapi_v2,
    request_info,
    responses,
    server_join,
    serviceaccount_token,
)
from kubelite.apiserver import metrics as metrics_module
from kubelite.apiserver.audit.auditor import EVENT, Auditor, audit_id
from kubelite.apiserver.audit.context import current_event
from kubelite.apiserver.audit.event import HEADER_AUDIT_ID, AuditEvent
from kubelite.apiserver.auth import Authenticator, current_request, current_user, is_public
from kubelite.apiserver.discovery import Discovery
from kubelite.apiserver.impersonation import impersonate
from kubelite.apiserver.installer import Installer
from kubelite.apiserver.openapi import OpenAPI
from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer, forbidden
from kubelite.apiserver.server_join import ServerJoin
from kubelite.apiserver.server_log import ServerLog
from kubelite.apiserver.version import version_info
from kubelite.storage.interface import StoreUnavailableError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Where kube-apiserver publishes its service-account issuer (ServiceAccountIssuerDiscovery).
OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"


@dataclass
class Routes:
    """What the application serves, put together by `kubelite.apiserver.server`."""

    api: Installer
    authenticator: Authenticator
    metrics: metrics_module.Metrics
    server_address: str
    ready: Callable[[], bool]
    registry: Registry = REGISTRY
    # Publishes the service-account issuer's OIDC documents; None: they are not served.
    token_issuer: serviceaccount_token.TokenIssuer | None = None
    # The cluster's certificates: joining nodes read its CA and get kubelet certificates.
    pki: certs.Pki | None = None
    # The idle and request timeouts (the listener applies the rest of the policy).
    connections: connections.ConnectionPolicy = field(default_factory=connections.ConnectionPolicy)
    # Decides what each user may do; None: every authenticated user may do anything
    # (kube-apiserver's --authorization-mode=AlwaysAllow).
    authorizer: Authorizer | None = None
    # Writes the audit log (--audit-policy-file, --audit-log-path); None: nothing is audited.
    auditor: Auditor | None = None
    # What joining servers fetch with the server token; None: no server may join here.
    server_join: ServerJoin | None = None
    # The datastore's `etcd` check of /livez and /readyz; None: it cannot fail.
    datastore_health: Callable[[], Awaitable[str | None]] | None = None


def _not_found() -> errors.StatusError:
    return errors.StatusError(
        404, errors.REASON_NOT_FOUND, "the server could not find the requested resource"
    )


def _json(value: object) -> web.Response:
    """A discovery document: kube-apiserver writes them with WriteObjectNegotiated, whose
    encoder ends them with a newline."""
    return responses.json_document(value)


def _marshalled(value: object) -> web.Response:
    """A document written from json.Marshal's bytes as they are, with no newline: the
    OpenAPI v3 index (kube-openapi's handler3) and the issuer's OIDC metadata."""
    return responses.Response(body=orjson.dumps(value), content_type="application/json")


MAX_HEADER_BYTES = 1 << 20


class Application:
    """The aiohttp application: authenticates each request, then serves discovery, OpenAPI,
    health and the resources (through the installer)."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.discovery = Discovery(routes.registry)
        self.openapi = OpenAPI(routes.registry, version_info()["gitVersion"])
        self.swagger = openapi_v2.SwaggerDocument(self.openapi, routes.registry)

    def build(self) -> web.Application:
        # Go's http.Server takes a request line and headers of up to 1 MiB (DefaultMaxHeaderBytes,
        # which kube-apiserver keeps): long label selectors in a URL are fine there, so they are
        # here; aiohttp's own limits are 8 KiB a line. aiohttp's keep-alive timeout is Go's idle
        # timeout: it closes a connection only while it waits for a next request.
        app = web.Application(
            client_max_size=0,
            handler_args={
                "max_line_size": MAX_HEADER_BYTES,
                "max_field_size": MAX_HEADER_BYTES,
                "keepalive_timeout": self.routes.connections.idle_timeout,
                "lingering_time": connections.LINGER_TIME,
                "logger": ServerLog(self.routes.metrics.dropped),
            },
        )
        # Every path, a newline in it too (`%0A` in a name): "." stops at one, and what no
        # route matches gets aiohttp's plain-text 404 instead of a Status.
        app.router.add_route("*", "/{tail:[\\s\\S]*}", self.dispatch)
        app.on_response_prepare.append(self._on_response_prepare)
        return app

    async def _on_response_prepare(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        """Every answer carries its Audit-ID, as kube-apiserver's WithAuditInit sets it (also
        without an audit log); a long-running request's event is written at ResponseStarted
        as its headers go out."""
        response.headers[HEADER_AUDIT_ID] = audit_id(request)
        auditor = self.routes.auditor
        if auditor is not None:
            event = request.get(EVENT)
            if event is not None and event.long_running:
                auditor.response_started(event, response.status)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        path = request.path
        query = request.query
        info = request_info.parse(
            request.method, path, query.get("watch"), query.get("fieldSelector", "")
        )
        current_request.set(info)
        code = 500
        auditor = self.routes.auditor
        audit: AuditEvent | None = None
        answer: web.StreamResponse | None = None
        if auditor is not None:
            received = time.time()
            current_event.set(None)
        # kube-apiserver's --request-timeout bounds what a request may take, here the reading of
        # its body (the only part a client can stall); long-running requests read none.
        request[bodies.DEADLINE] = (
            asyncio.get_running_loop().time() + self.routes.connections.request_timeout
        )
        try:
            user = await self.routes.authenticator.authenticate_request(
                request.transport.get_extra_info("peercert") if request.transport else None,
                request.headers.get("Authorization", ""),
            )
            if user is None or (user.anonymous and not is_public(path)):
                if auditor is not None:
                    audit = auditor.unauthenticated(request, info, received)
                raise errors.unauthorized()
            if auditor is not None:
                audit = auditor.begin(request, info, user, received)
                current_event.set(audit)
            pki = self.routes.pki
            joining = pki is not None and path in (node_join.CA_PATH, node_join.SERVING_CERT_PATH)
            joining_server = self.routes.server_join is not None and path in server_join.PATHS
            joining = joining or joining_server
            authorizer = self.routes.authorizer
            if authorizer is not None and not joining:
                # Impersonation, then authorization of whom the request acts as.
                acting = impersonate(user, request.headers, authorizer)
                if audit is not None and acting is not user:
                    audit.impersonated(acting)
                user = acting
                attrs = Attributes.of_request(user, info, path)
                allowed, reason = authorizer.decide(attrs)
                if allowed and _connects_over_upgrade(attrs):
                    # AuthorizePodWebsocketUpgradeCreatePermission (beta, on since 1.35): a
                    # WebSocket upgrade is a GET, so `get pods/exec` alone would run commands;
                    # the caller must also be allowed to `create` the subresource, as over SPDY.
                    attrs = dataclasses.replace(attrs, verb="create")
                    allowed, reason = authorizer.decide(attrs)
                if audit is not None:
                    audit.authorized(allowed, reason)
                if not allowed:
                    raise forbidden(attrs, reason)
            elif audit is not None and not joining:
                # --authorization-mode AlwaysAllow: alwaysAllowAuthorizer's decision.
                audit.authorized(True, "")
            current_user.set(user)
            if pki is not None and path == node_join.CA_PATH:
                response: web.StreamResponse = node_join.serve_ca(pki)
            elif pki is not None and path == node_join.SERVING_CERT_PATH:
                if request.method != "POST":
                    raise errors.method_not_allowed()
                response = await node_join.serve_serving_cert(pki, user, request)
            elif joining_server and self.routes.server_join is not None:
                response = await server_join.serve(
                    self.routes.server_join, user, path, request.method
                )
            else:
                response = await self.route(request, info)
            code = response.status
            answer = response
            return response
        except errors.StatusError as exc:
            code = exc.code
            if isinstance(exc, bodies.BodyTimeout):
                self.routes.metrics.dropped(metrics_module.REQUEST_TIMEOUT)
            answer = responses.error(exc)
            if request.get(bodies.CLOSE_CONNECTION):
                # The body could not be read to its end: say so, so the client opens a new
                # connection for its next request instead of reusing this one.
                answer.force_close()
            return answer
        except StoreUnavailableError as exc:
            # etcd is gone for now: a 503 the client may retry, not an internal error.
            log.warning("%s %s: %s", request.method, path, exc)
            code = 503
            answer = responses.error(datastore.unavailable(exc))
            return answer
        except web.HTTPException:
            raise
        except ConnectionResetError:
            code = 499
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, path)
            code = 500
            if audit is not None and auditor is not None:
                auditor.panic(audit, exc)
            return responses.error(
                errors.internal_error(
                    "an error on the server prevented the request from succeeding"
                )
            )
        finally:
            if audit is not None and auditor is not None:
                auditor.complete(audit, request, answer, code)
            # Only served resources become label values: paths a client makes up (or anyone
            # unauthenticated sends) must not grow the metrics without bound.
            if info.is_resource and code != 401:
                known = self.routes.registry.lookup(info.group, info.version, info.resource)
                verb = metrics_module.request_verb(
                    info.verb, request.method, request.headers.get("Content-Type", "")
                )
                self.routes.metrics.observe(
                    verb,
                    info.group if known else "",
                    info.resource if known else "",
                    info.subresource if known and known.subresource(info.subresource) else "",
                    code,
                    time.perf_counter() - started,
                )

    async def route(
        self, request: web.Request, info: request_info.RequestInfo
    ) -> web.StreamResponse:
        if info.is_resource:
            return await self.routes.api.handle(request, info)
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            if path in ("/api", "/apis", "/version", "/openapi/v3") or path.startswith(
                ("/api/", "/apis/")
            ):
                raise errors.method_not_allowed()
            raise _not_found()
        if path == "/api":
            return _json(self.discovery.api_versions(self.routes.server_address))
        if path == "/apis":
            return _json(self.discovery.group_list())
        if path.startswith(("/api/", "/apis/")):
            return self._discovery(info, path)
        if path == "/version":
            # Written as WriteRawJSON writes it (routes/version.go): indented, no newline.
            return responses.Response(
                body=orjson.dumps(version_info(), option=orjson.OPT_INDENT_2),
                content_type="application/json",
            )
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(
            ("/healthz/", "/livez/", "/readyz/")
        ):
            return await self._health(request, path)
        if path == "/metrics":
            return responses.Response(
                body=self.routes.metrics.render(),
                headers={"Content-Type": metrics_module.CONTENT_TYPE},
            )
        if path == "/openapi/v2":
            return self._swagger(request)
        if path in (OPENID_CONFIGURATION_PATH, JWKS_PATH):
            return self._issuer_discovery(path)
        if path == "/openapi/v3":
            return _marshalled(self.openapi.index())
        if path.startswith("/openapi/v3/"):
            return self._openapi_document(request, path[len("/openapi/v3/") :])
        raise _not_found()

    def _issuer_discovery(self, path: str) -> web.Response:
        issuer = self.routes.token_issuer
        if issuer is None:
            raise _not_found()
        if path == JWKS_PATH:
            return responses.Response(
                body=orjson.dumps(issuer.jwks()), content_type="application/jwk-set+json"
            )
        jwks_uri = f"https://{self.routes.server_address}{JWKS_PATH}"
        return _marshalled(issuer.openid_configuration(jwks_uri))

    def _discovery(self, info: request_info.RequestInfo, path: str) -> web.Response:
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            group = self.discovery.group(parts[1])
            if group is None:
                raise _not_found()
            return _json(group)
        listing = self.discovery.resource_list(info.group, info.version)
        if listing is None:
            raise _not_found()
        return _json(listing)

    async def _health(self, request: web.Request, path: str) -> web.Response:
        checks = ["ping", "log", "etcd"]
        if path.startswith("/readyz"):
            checks.append("informer-sync")
        ready = self.routes.ready() or not path.startswith("/readyz")
        # kube-apiserver's `etcd` check reads from etcd at every probe, in /livez and /readyz.
        check = self.routes.datastore_health
        datastore_error = await check() if check is not None else None
        healthy = ready and datastore_error is None
        if path.rstrip("/").endswith("/etcd"):  # /livez/etcd, /readyz/etcd: that check alone
            healthy = datastore_error is None
        if "verbose" in request.query:
            lines = [f"[+]{c} ok" for c in checks]
            if datastore_error is not None:
                lines[2] = "[-]etcd failed: reason withheld"
            if not ready:
                lines[-1] = f"[-]{checks[-1]} failed: reason withheld"
            name = path.strip("/").split("/")[0]
            lines.append(f"{name} check {'passed' if healthy else 'failed'}")
            return responses.Response(
                text="\n".join(lines) + "\n",
                status=200 if healthy else 500,
                content_type="text/plain",
            )
        return responses.Response(
            text="ok" if healthy else "not ready",
            status=200 if healthy else 500,
            content_type="text/plain",
        )

    def _swagger(self, request: web.Request) -> web.Response:
        if openapi_v2.PROTOBUF_TYPE in request.headers.get("Accept", ""):
            # Kubernetes answers octet-stream: Go cannot parse the '@' of the requested type.
            return responses.Response(
                body=self.swagger.protobuf(), headers={"Content-Type": "application/octet-stream"}
            )
        return responses.Response(body=self.swagger.json(), content_type="application/json")

    def _openapi_document(self, request: web.Request, path: str) -> web.Response:
        try:
            body, digest = self.openapi.document(path)
        except KeyError:
            raise _not_found() from None
        headers = {"Content-Type": "application/json", "Etag": f'"{digest}"'}
        if request.query.get("hash") == digest:
            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = "Wed, 01 Jan 2099 00:00:00 GMT"
        else:
            headers["Cache-Control"] = "no-cache, private"
        return responses.Response(body=body, headers=headers)


# The pod subresources that stream a session (exec, attach, port-forward): every way in needs
# `create`, whichever HTTP method the client upgraded with.
_SESSION_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})


def _connects_over_upgrade(attrs: Attributes) -> bool:
    return (
        attrs.is_resource
        and attrs.verb == "get"
        and attrs.group == ""
        and attrs.resource == "pods"
        and attrs.subresource in _SESSION_SUBRESOURCES
    )
