"""Auditing the requests the application serves: kube-apiserver's WithAudit and friends.

The application (`app.Application.dispatch`) calls in at the points kube-apiserver's filter
chain does (`endpoints/filters/audit.go`, `authn_audit.go`, `impersonation.go`,
`authorization.go`):

- `begin` once the user is known: the policy is evaluated for the authenticated user (before
  impersonation, as WithAudit runs before WithImpersonation), the event made, and
  RequestReceived written;
- `unauthenticated` for a request whose credentials are refused: one event with no user, written
  at ResponseStarted only (WithFailedAuthenticationAudit);
- the event's `impersonated` and `authorized` note the user acted as and the authorization
  decision (`authorization.k8s.io/decision` and `.../reason`);
- `response_started` when a long-running request's headers go out (the `on_response_prepare`
  hook): watches, exec/attach/portforward/proxy and logs write ResponseStarted;
- `complete` after the handler: the request object (Request and above, for writes; at every
  level its metadata fills objectRef's name, uid and resourceVersion as LogRequestObject
  does), the response's Status or object (RequestResponse), then ResponseComplete; or
  `panic` for an error the server did not expect, which is written at stage Panic instead.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from kubelite.api import decoding
from kubelite.apiserver import bodies
from kubelite.apiserver.audit.event import (
    HEADER_AUDIT_ID,
    AuditEvent,
    new_audit_id,
    source_ips,
    truncate_user_agent,
)
from kubelite.apiserver.audit.log_backend import LogBackend
from kubelite.apiserver.audit.policy import (
    NONE,
    ORDER,
    PANIC,
    REQUEST,
    REQUEST_RECEIVED,
    REQUEST_RESPONSE,
    RESPONSE_COMPLETE,
    RESPONSE_STARTED,
    Policy,
)
from kubelite.apiserver.auth import User, user_info
from kubelite.apiserver.request_info import RequestInfo

# The request's audit ID and event, kept on the aiohttp request for the prepare hook.
AUDIT_ID = web.RequestKey("audit_id", str)
EVENT = web.RequestKey("audit_event", AuditEvent)

# kube-apiserver's long-running requests (BasicLongRunningRequestCheck as the server builds it).
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
# The verbs whose handlers log the request body (create, update, patch, delete's options).
_WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
# Those whose body is decoded as an object: LogRequestObject fills objectRef from it.
_OBJECT_VERBS = frozenset({"create", "update"})
_STATUS_PREFIX = b'{"kind":"Status"'


def long_running(info: RequestInfo, path: str) -> bool:
    if info.verb in LONG_RUNNING_VERBS:
        return True
    if info.is_resource:
        return info.subresource in LONG_RUNNING_SUBRESOURCES
    return path.startswith("/debug/pprof/profile")


def audit_id(request: web.Request) -> str:
    """WithAuditInit: the client's Audit-ID if it sent one (as it is), else a new one."""
    found = request.get(AUDIT_ID)
    if found is None:
        found = request[AUDIT_ID] = request.headers.get(HEADER_AUDIT_ID) or new_audit_id()
    return found


def _object_ref(info: RequestInfo) -> dict[str, str] | None:
    """ObjectReference from the request's attributes, without its empty fields, in the
    struct's order."""
    if not info.is_resource:
        return None
    ref = {"resource": info.resource}
    if info.namespace:
        ref["namespace"] = info.namespace
    name = info.name or info.selected_name
    if name:
        ref["name"] = name
    if info.group:
        ref["apiGroup"] = info.group
    if info.version:
        ref["apiVersion"] = info.version
    if info.subresource:
        ref["subresource"] = info.subresource
    return ref


_REF_ORDER = (
    "resource",
    "namespace",
    "name",
    "uid",
    "apiGroup",
    "apiVersion",
    "resourceVersion",
    "subresource",
)


def _fill_object_ref(ref: dict[str, str], obj: dict[str, Any]) -> dict[str, str]:
    """LogRequestObject: name, namespace, uid and resourceVersion the URL did not give, from
    the request object's metadata."""
    md = obj.get("metadata")
    if not isinstance(md, dict):
        return ref
    for key in ("namespace", "name", "uid", "resourceVersion"):
        value = md.get(key)
        if key not in ref and isinstance(value, str) and value:
            ref[key] = value
    return {k: ref[k] for k in _REF_ORDER if k in ref}


def strip_managed_fields(value: Any) -> Any:
    """copyWithoutManagedFields: no metadata.managedFields on the object, the items of a list
    or the objects of a Table's rows (`value` is the log's own copy: changed in place)."""
    if not isinstance(value, dict):
        return value
    md = value.get("metadata")
    if isinstance(md, dict):
        md.pop("managedFields", None)
    items = value.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
                item["metadata"].pop("managedFields", None)
    if value.get("kind") == "Table":
        for row in value.get("rows") or ():
            obj = row.get("object") if isinstance(row, dict) else None
            if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
                obj["metadata"].pop("managedFields", None)
    return value


def _status_of(body: Any) -> dict[str, Any] | None:
    """The bounded fields of a Status answer, as LogResponseObject copies them."""
    if not isinstance(body, dict) or body.get("kind") != "Status":
        return None
    status: dict[str, Any] = {"metadata": {}}
    for key in ("status", "message", "reason", "details", "code"):
        value = body.get(key)
        # Details is a pointer in Go: present, even empty, it is written.
        if value or (key == "details" and isinstance(value, dict)):
            status[key] = value
    return status


def _json_body(response: web.StreamResponse) -> bytes | None:
    """The bytes of a JSON answer the handler made whole (not a stream it wrote itself)."""
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return None
    body = response.body
    if isinstance(body, bytes):
        return body
    value = getattr(body, "_value", None)  # responses._Chunked keeps its bytes here
    return value if isinstance(value, bytes) else None


class Auditor:
    """The policy and the backend: what `dispatch` calls at each stage of an audited request."""

    def __init__(self, policy: Policy, backend: LogBackend) -> None:
        self.policy = policy
        self.backend = backend

    def _event(
        self, request: web.Request, info: RequestInfo, user: User | None, received: float
    ) -> AuditEvent | None:
        path = request.path
        config = self.policy.evaluate(user, info, path)
        if config.level == NONE:
            return None
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        headers = request.headers
        event = AuditEvent(
            level=config.level,
            audit_id=audit_id(request),
            request_uri=request.raw_path,
            verb=info.verb,
            user=user_info(user) if user is not None else {},
            source_ips=source_ips(
                headers.get("X-Forwarded-For", ""),
                headers.get("X-Real-Ip", ""),
                peer[0] if peer else None,
            ),
            user_agent=truncate_user_agent(headers.get("User-Agent", "")),
            object_ref=_object_ref(info),
            received=received,
            omit_stages=config.omit_stages,
            omit_managed_fields=config.omit_managed_fields,
            long_running=long_running(info, path),
        )
        request[EVENT] = event
        return event

    def begin(
        self, request: web.Request, info: RequestInfo, user: User, received: float
    ) -> AuditEvent | None:
        """The request's event (None when the policy says None), RequestReceived written."""
        event = self._event(request, info, user, received)
        if event is not None:
            self._write(event, REQUEST_RECEIVED, received)
        return event

    def unauthenticated(
        self, request: web.Request, info: RequestInfo, received: float
    ) -> AuditEvent | None:
        """The event of a request whose credentials were refused: no user, one stage."""
        event = self._event(request, info, None, received)
        if event is not None:
            event.failed_authentication = True
        return event

    def response_started(self, event: AuditEvent, code: int) -> None:
        """A long-running request's headers are going out."""
        if event.started or event.completed:
            return
        event.set_code(code)
        self._write(event, RESPONSE_STARTED, time.time())

    def complete(
        self,
        event: AuditEvent,
        request: web.Request,
        response: web.StreamResponse | None,
        code: int,
    ) -> None:
        """ResponseComplete (or, for refused credentials, the one ResponseStarted)."""
        if event.completed:
            return
        event.completed = True
        if response is not None and not event.started:
            self._response(event, response)
        if event.failed_authentication:
            event.set_code(code)
            self._write(event, RESPONSE_STARTED, time.time())
            return
        self._request_object(event, request)
        if event.response_status is None and response is None:
            # The client went away before any answer (WithAudit's faked status).
            event.response_status = {
                "metadata": {},
                "status": "Success",
                "message": "Connection closed early",
                "code": 200,
            }
        elif not event.started:
            event.set_code(code)
        if event.long_running and not event.started:
            self._write(event, RESPONSE_STARTED, time.time())
        self._write(event, RESPONSE_COMPLETE, time.time())

    def panic(self, event: AuditEvent, exc: BaseException) -> None:
        """An error the server did not expect: written at stage Panic, with a 500."""
        if event.completed:
            return
        event.completed = True
        event.response_status = {
            "metadata": {},
            "status": "Failure",
            "message": f"APIServer panic'd: {exc}",
            "reason": "InternalError",
            "code": 500,
        }
        self._write(event, PANIC, time.time())

    def close(self) -> None:
        self.backend.close()

    def _write(self, event: AuditEvent, stage: str, stamp: float) -> None:
        line = event.line(stage, stamp)
        if line is not None:
            self.backend.emit(line)

    @staticmethod
    def _request_object(event: AuditEvent, request: web.Request) -> None:
        verb = event.verb
        if verb not in _WRITE_VERBS or event.object_ref is None:
            return
        raw = request.get(bodies.BODY)
        if not raw:
            return
        level = ORDER[event.level]
        if level < ORDER[REQUEST] and verb not in _OBJECT_VERBS:
            return
        try:
            content_type = request.headers.get("Content-Type", "")
            value = (
                orjson.loads(raw)
                if content_type.startswith("application/json") or not content_type
                else decoding.parse_body(raw, content_type)
            )
        except Exception:  # a body the handler refused: nothing to log of it
            return
        if verb in _OBJECT_VERBS and isinstance(value, dict):
            event.object_ref = _fill_object_ref(event.object_ref, value)
        if level < ORDER[REQUEST]:
            return
        if event.omit_managed_fields and verb != "patch":
            value = strip_managed_fields(value)
        event.request_object = value

    @staticmethod
    def _response(event: AuditEvent, response: web.StreamResponse) -> None:
        body = _json_body(response)
        if body is None:
            return
        whole = ORDER[event.level] >= ORDER[REQUEST_RESPONSE] and event.object_ref is not None
        if not whole and response.status < 300 and not body.startswith(_STATUS_PREFIX):
            return
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return
        status = _status_of(value)
        if status is not None:
            event.response_status = status
        if whole:
            event.response_object = (
                strip_managed_fields(value) if event.omit_managed_fields else value
            )
