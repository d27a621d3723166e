"""The grpc probe: the standard gRPC health check, `grpc.health.v1.Health/Check`.

Kubernetes' grpcProber (pkg/probe/grpc/grpc.go): a plaintext connection to the pod's IP, one
Check call for the named service (empty means the whole server) within the timeout, healthy only
when the answer is SERVING. Every problem is a failure, with Kubernetes' texts.

The two messages involved are one field each, so they are encoded here by hand (protobuf wire
format) rather than pulling in protobuf and the generated health stubs: `HealthCheckRequest` is
`string service = 1`, `HealthCheckResponse` is `ServingStatus status = 1`.
"""

from __future__ import annotations

import grpc
from grpc import aio

from kubelite.kubelet.prober.gotext import duration, join_host_port
from kubelite.kubelet.prober.http_probe import user_agent
from kubelite.kubelet.prober.outcome import Outcome, ProbeResult

# The health-checking protocol's method (grpc/grpc doc/health-checking.md).
HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"
# HealthCheckResponse.ServingStatus values, by number.
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
SERVING = 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def encode_request(service: str) -> bytes:
    """HealthCheckRequest{service}: field 1, length-delimited; proto3 leaves "" out."""
    raw = service.encode()
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def decode_status(data: bytes) -> int:
    """HealthCheckResponse's status (field 1, varint); other fields are skipped."""
    status = 0
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            if number == 1:
                status = value
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return status


def _go_code(code: grpc.StatusCode) -> str:
    """grpc-go's name of a status code: `Unavailable`, `DeadlineExceeded`."""
    return "OK" if code == grpc.StatusCode.OK else code.name.title().replace("_", "")


async def grpc_probe(host: str, port: int, service: str, timeout: float) -> Outcome:
    """One grpc probe attempt."""
    addr = join_host_port(host, port)
    options = [("grpc.primary_user_agent", user_agent("probe"))]
    async with aio.insecure_channel(addr, options=options) as channel:
        check = channel.unary_unary(
            HEALTH_CHECK_METHOD,
            request_serializer=encode_request,
            response_deserializer=decode_status,
        )
        try:
            status = await check(service, timeout=timeout)
        except aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                return Outcome(
                    ProbeResult.FAILURE,
                    "error: this server does not implement the grpc health protocol "
                    f"(grpc.health.v1.Health): {e.details()}",
                )
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return Outcome(
                    ProbeResult.FAILURE,
                    f"timeout: health rpc did not complete within {duration(timeout)}",
                )
            return Outcome(
                ProbeResult.FAILURE,
                "error: health rpc probe failed: "
                f"rpc error: code = {_go_code(e.code())} desc = {e.details()}",
            )
    if status != SERVING:
        name = SERVING_STATUS.get(status, str(status))
        return Outcome(ProbeResult.FAILURE, f'service unhealthy (responded with "{name}")')
    return Outcome(ProbeResult.SUCCESS, "service healthy")
