"""Hostile request shapes, crossed with whatever resources the server serves.

Each shape is a function of a random source and the `World` (the served resources, found
through discovery, and the seed objects made in a namespace of the fuzzer's own) that returns
one `fuzz_wire.Request`. The random source is the only input: the test draws it from
hypothesis (so a failure is reproducible and printed), the long run (`bench/fuzz.py`) from a
seeded `random.Random`, and both get the same requests for the same seed.

The shapes are the ones issue 14's hostile run found or suspected: bodies nested 10,000 deep
in every format the server decodes, numbers beyond int64 (and beyond float64) in the fields
the served OpenAPI schema declares int32, int64 or a quantity, lone surrogates, invalid UTF-8
and NUL bytes in names, labels, bodies and URLs, `Content-Encoding` and `Content-Type` that
lie, bodies cut short, patches of every type with malformed operations and directives, label
and field selectors that do not parse or run to 40 KB, resourceVersion / resourceVersionMatch
/ limit / continue nonsense (including a resourceVersion the store has not reached, which
Kubernetes answers with 504), bad `Authorization` headers, bad query parameters, every method
on every kind of path, and subresources with bodies of the wrong kind.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import random
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fuzz_wire import Client, Request

# How deep the nesting shapes go: Kubernetes' own limit is 10,000 (its JSON and YAML decoders
# refuse more); kubelite's is 250. Both sides of each limit are tried.
DEPTHS = (251, 300, 10_000, 10_001)
# Integers and literals no Go integer field holds (and one no float64 holds).
HUGE_NUMBERS = (
    str(2**70),
    str(-(2**70)),
    str(2**63),
    str(2**31),
    "99999999999999999999999",
    "1e400",
    "-1e400",
    "1e-400",
    "1.5",
    "1e3",
)
# Text a JSON body can carry that is not valid Unicode, or that no name may hold.
BAD_TEXT_ESCAPES = (r"\ud800", r"\udfff", r"\ud800\u0041", r"\udc00\ud800", r"\u0000", r"\uffff")
BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80")
# Labels and fields selectors' grammar (apimachinery's labels.Parse, fields.ParseSelector).
BAD_LABEL_SELECTORS = (
    "a in (b",
    "a in ()",
    "!!a",
    "a=b=c",
    "=",
    "a==",
    "a!=",
    ",",
    "a,,b",
    "a notin b",
    "a in (b,c",
    "a>b",
    "a<1x",
    "a gt 3",
    "x/y/z=1",
    "-a=b",
    "a=" + "b" * 64,
    "a" * 64 + "=b",
    "%",
    "a in (" + ",".join(f"v{i}" for i in range(5000)) + ")",
)
BAD_FIELD_SELECTORS = (
    "metadata.name=",
    "metadata.name==x==y",
    "spec.nodeName!",
    "unknown.field=x",
    "metadata.namespace in (a)",
    "=x",
    ",",
    r"metadata.name=a\,b\=c\\",
    "metadata.name=\\",
    "status.phase=Running,status.phase!=",
)
# About 40 KB: far beyond aiohttp's 8 KiB line, well within Go's 1 MiB of headers.
LONG = 40_000
BAD_RESOURCE_VERSIONS = (
    "abc",
    "-1",
    "0x10",
    "1.5",
    " 1",
    "99999999999999999999999",
    str(2**63),
    str(2**64),
    "",
    "1e3",
)
BAD_MATCHES = ("Exact", "NotOlderThan", "exact", "x", "")
BAD_LIMITS = ("-1", "abc", str(2**70), "0", "1.5", "", "99999999999")
BAD_CONTINUES = (
    "garbage",
    "=",
    base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":-5,"start":"x"}').decode(),
    base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":99999999999999999999,"start":""}')
    .decode()
    .rstrip("="),
    base64.urlsafe_b64encode(b"[1,2,3]").decode(),
    base64.urlsafe_b64encode(b'{"v":"x"}').decode(),
    base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":5,"start":"../../etc"}').decode(),
    "\udcff",
)
BAD_AUTHORIZATION: tuple[bytes, ...] = (
    "Bearer éé".encode(),
    "Bearer éé".encode("latin-1"),
    b"Bearer ",
    b"Bearer",
    b"bearer x",
    b"Bearer \x01\x02",
    b"Bearer \xff\xfe",
    b"Basic dXNlcjpwYXNz",
    b"Basic !!!",
    b"Basic ",
    b"Digest username=x",
    b"Bearer " + b"a" * 100_000,
    b"Bearer " + b"\xc3\xa9" * 2_000,
    b"Bearer a.b.c",
    b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    b"Bearer eyJhbGciOiJSUzI1NiJ9.e30.\xed\xa0\x80",
    b" ",
)
# Kubernetes' query parameters, each with values its parsers refuse.
BAD_QUERIES: tuple[tuple[str, str], ...] = (
    ("dryRun", "x"),
    ("dryRun", ""),
    ("dryRun", "All&dryRun=x"),
    ("fieldManager", "m" * 129),
    ("fieldManager", "m" * LONG),
    ("fieldManager", "\x01"),
    ("fieldValidation", "x"),
    ("gracePeriodSeconds", "-1"),
    ("gracePeriodSeconds", str(2**70)),
    ("gracePeriodSeconds", "text"),
    ("gracePeriodSeconds", "1e400"),
    ("propagationPolicy", "x"),
    ("orphanDependents", "maybe"),
    ("watch", "maybe"),
    ("watch", "1&timeoutSeconds=-5"),
    ("timeoutSeconds", "-5"),
    ("timeoutSeconds", str(2**70)),
    ("allowWatchBookmarks", "x"),
    ("sendInitialEvents", "x"),
    ("sendInitialEvents", "true"),
    ("pretty", "maybe"),
    ("force", "maybe"),
    ("limit", "x"),
    ("resourceVersion", "\x00"),
    ("follow", "x"),
    ("tailLines", "-1"),
    ("tailLines", str(2**70)),
    ("sinceSeconds", "-1"),
    ("limitBytes", "0"),
    ("container", "../x"),
    ("includeUninitialized", "x"),
    ("as", "yaml"),
    ("", ""),
    ("=", "="),
)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FOO", "PROPFIND")
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
BAD_JSON_PATCHES = (
    b'[{"op":"nope","path":"/a"}]',
    b'[{"op":"add"}]',
    b'[{"op":"add","path":"metadata"}]',
    b'[{"op":"add","path":"/metadata/labels/a~2","value":"x"}]',
    b'[{"op":"remove","path":"/metadata/nosuch"}]',
    b'[{"op":"move","from":"/nosuch","path":"/metadata/labels"}]',
    b'[{"op":"copy","from":"/metadata","path":"/metadata/labels/x"}]',
    b'[{"op":"test","path":"/metadata/name","value":"other"}]',
    b'[{"op":"replace","path":"/spec/containers/99999999999999999999/image","value":"x"}]',
    b'[{"op":"add","path":"/spec/containers/-1","value":{}}]',
    b'[{"op":"replace","path":"/metadata","value":5}]',
    b'[{"op":"replace","path":"/kind","value":"Other"}]',
    b'[{"op":"replace","path":"/apiVersion","value":""}]',
    b'[{"op":"add","path":"","value":[]}]',
    b'[{"op":"replace","path":"/metadata/name","value":"\\ud800"}]',
    b'[{"op":5,"path":5}]',
    b"[1,2]",
    b"[null]",
    b"{}",
    b'"x"',
    b"null",
    b"[" + b'{"op":"add","path":"/metadata/labels/a","value":"b"},' * 20_000 + b"{}]",
)
BAD_MERGE_PATCHES = (
    b"[]",
    b'"x"',
    b"5",
    b"null",
    b"true",
    b'{"metadata":5}',
    b'{"metadata":{"name":null}}',
    b'{"metadata":{"name":"other"}}',
    b'{"metadata":{"labels":{"a":5}}}',
    b'{"metadata":{"labels":[1]}}',
    b'{"kind":"Other"}',
    b'{"apiVersion":5}',
    b'{"spec":{"containers":"x"}}',
    b'{"spec":{"containers":[{"name":null}]}}',
    b'{"status":{"phase":5}}',
    b'{"metadata":{"resourceVersion":"abc"}}',
    b'{"metadata":{"resourceVersion":"99999999999"}}',
    b'{"metadata":{"uid":"other"}}',
    b'{"metadata":{"finalizers":[5]}}',
    b'{"metadata":{"ownerReferences":[{}]}}',
    b'{"metadata":{"managedFields":[{"manager":5}]}}',
    b'{"metadata":{"creationTimestamp":"yesterday"}}',
    b'{"metadata":{"deletionGracePeriodSeconds":-5}}',
)
BAD_STRATEGIC_PATCHES = (
    b'{"$patch":"nope"}',
    b'{"$patch":"delete"}',
    b'{"$patch":"replace"}',
    b'{"$patch":5}',
    b'{"metadata":{"$patch":"nope"}}',
    b'{"metadata":{"$setElementOrder/finalizers":5}}',
    b'{"metadata":{"$setElementOrder/finalizers":[{"a":1}]}}',
    b'{"metadata":{"$deleteFromPrimitiveList/finalizers":{}}}',
    b'{"metadata":{"$deleteFromPrimitiveList/finalizers":[{}]}}',
    b'{"metadata":{"$retainKeys":"x"}}',
    b'{"metadata":{"$retainKeys":[5]}}',
    b'{"spec":{"containers":[{"$patch":"delete"}]}}',
    b'{"spec":{"containers":[{"name":"x","$patch":"nope"}]}}',
    b'{"spec":{"containers":[5]}}',
    b'{"spec":{"containers":{"$patch":"replace"}}}',
    b'{"spec":{"$setElementOrder/containers":[{"name":5}]}}',
    b'{"spec":{"$setElementOrder/containers":[{}]}}',
    b'{"spec":{"$setElementOrder/containers":"x"}}',
    b'{"spec":{"template":{"spec":{"containers":[{"$patch":"delete","name":"x"}]}}}}',
    b'{"spec":{"ports":[{"port":"x"}]}}',
    b'{"spec":{"ports":[{"$patch":"delete"}]}}',
    b'{"$retainKeys":["spec"],"spec":5}',
    b'{"metadata":{"labels":{"$patch":"delete"}}}',
    b'{"metadata":{"$setElementOrder/ownerReferences":[{"uid":5}]}}',
)
BAD_APPLY_PATCHES = (
    b"{}",
    b"kind: Pod",
    b"apiVersion: v1",
    b"apiVersion: v1\nkind: Other\nmetadata: {name: x}",
    b"apiVersion: v9\nkind: Pod\nmetadata: {name: x}",
    b"apiVersion: v1\nkind: Pod\nmetadata: {name: other}",
    b"apiVersion: v1\nkind: Pod\nmetadata: 5",
    b"- a\n- b",
    b"a: [",
    b"a: &x [*x]",
    b"a: !!binary ===",
    b"a: !!python/object:os.system x",
    b"&a [&b [&c [*a, *b, *c]]]",
    b"a: 1\na: 2",
    b"\t- tab",
    b"---\n---\n",
    b"%YAML 9.9\n---\na: 1",
    b"&a [&b [&c [*a, *b, *c]]]",
    b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: seed}\nl0: &l0 [a,a]\n"
    + b"".join(
        b"l%d: &l%d [%s]\n" % (i, i, b",".join([b"*l%d" % (i - 1)] * 10)) for i in range(1, 10)
    ),
)
BODY_METHODS = ("POST", "PUT", "PATCH")
SUBRESOURCE_BODIES: tuple[bytes, ...] = (
    b"{}",
    b"[]",
    b"null",
    b'"x"',
    b'{"kind":"Other","apiVersion":"v1"}',
    b'{"apiVersion":"autoscaling/v1","kind":"Scale","spec":{"replicas":-1}}',
    b'{"apiVersion":"autoscaling/v1","kind":"Scale","spec":{"replicas":"x"}}',
    b'{"apiVersion":"autoscaling/v1","kind":"Scale","spec":{"replicas":null}}',
    b'{"apiVersion":"autoscaling/v1","kind":"Scale","spec":{"replicas":1e400}}',
    b'{"apiVersion":"v1","kind":"Binding","target":{}}',
    b'{"apiVersion":"v1","kind":"Binding","target":{"name":"\\ud800"}}',
    b'{"apiVersion":"v1","kind":"Binding","metadata":{"name":"other"},"target":{"name":"n"}}',
    b'{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"seed"},'
    b'"deleteOptions":{"gracePeriodSeconds":-5,"preconditions":{"uid":"x"}}}',
    b'{"apiVersion":"policy/v1","kind":"Eviction","deleteOptions":5}',
    b'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",'
    b'"spec":{"expirationSeconds":-1}}',
    b'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",'
    b'"spec":{"expirationSeconds":1180591620717411303424,"audiences":[5]}}',
    b'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",'
    b'"spec":{"boundObjectRef":{"kind":"Nope","name":"x"}}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"seed"},'
    b'"spec":{"ephemeralContainers":[{"name":5}]}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"seed"},'
    b'"spec":{"ephemeralContainers":"x"}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"seed"},'
    b'"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"-1"}}}]}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"seed"},"status":{"phase":5}}',
    b'{"status":{"conditions":[{"type":null}]}}',
    b'{"metadata":{"name":"seed"},"status":"x"}',
)


@dataclass(frozen=True)
class Target:
    """One resource (or subresource) the server's discovery lists."""

    prefix: str  # "/api/v1" or "/apis/apps/v1"
    group_version: str  # "v1" or "apps/v1"
    plural: str
    subresource: str
    namespaced: bool
    kind: str
    verbs: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural

    def collection(self, namespace: str) -> str:
        if self.namespaced:
            return f"{self.prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.prefix}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        path = f"{self.collection(namespace)}/{name}"
        return f"{path}/{self.subresource}" if self.subresource else path


@dataclass
class World:
    """What the shapes are crossed with: the served resources, the fuzzer's namespace, and
    the names of the objects made in it (so that patches and subresources reach an object)."""

    targets: list[Target]
    namespace: str
    # plural -> the name of an object of it that exists (in `namespace` when namespaced).
    seeds: dict[str, str] = field(default_factory=dict)
    # kind -> JSON paths of the kind's int32/int64/quantity fields (from the served schema).
    numeric_fields: dict[str, list[tuple[tuple[str | int, ...], str]]] = field(default_factory=dict)
    # Paths that are not resources: discovery, OpenAPI, health, metrics, version.
    other_paths: tuple[str, ...] = (
        "/",
        "/api",
        "/apis",
        "/api/v1",
        "/apis/apps",
        "/apis/apps/v1",
        "/version",
        "/healthz",
        "/livez",
        "/readyz",
        "/readyz/etcd",
        "/healthz/verbose",
        "/metrics",
        "/openapi/v2",
        "/openapi/v3",
        "/openapi/v3/api/v1",
        "/.well-known/openid-configuration",
        "/openid/v1/jwks",
        "/api/v1/namespaces/x/pods/y/z/w",
        "/apis/nosuch/v1/x",
        "/nosuch",
    )

    def target(self, rng: random.Random, subresources: bool = False) -> Target:
        choices = [t for t in self.targets if bool(t.subresource) == subresources]
        return rng.choice(choices or self.targets)

    def name_for(self, rng: random.Random, target: Target) -> str:
        seed = self.seeds.get(target.plural)
        if seed and rng.random() < 0.8:
            return seed
        return rng.choice(("fuzz-missing", "seed", "a" * 254, "x.y"))

    def object_path(self, rng: random.Random, target: Target) -> str:
        return target.item(self.namespace, self.name_for(rng, target))

    def cluster_collections(self) -> frozenset[str]:
        """The collection paths of the cluster-scoped resources."""
        return frozenset(
            t.collection(self.namespace)
            for t in self.targets
            if not t.namespaced and not t.subresource
        )

    def body_for(self, target: Target, name: str = "fuzz-new") -> dict[str, Any]:
        """The smallest body of the target's kind: enough to reach decoding and validation."""
        metadata: dict[str, Any] = {"name": name}
        if target.namespaced:
            metadata["namespace"] = self.namespace
        return {"apiVersion": target.group_version, "kind": target.kind, "metadata": metadata}


Shape = Callable[[random.Random, World], Request]


def _json_headers(content_type: str = "application/json") -> list[tuple[str | bytes, str | bytes]]:
    return [("Content-Type", content_type), ("Accept", "application/json")]


def _write(rng: random.Random, world: World, target: Target) -> tuple[str, str]:
    """A method and path that take a body for the target: create, replace or patch."""
    method = rng.choice(BODY_METHODS)
    if method == "POST" and not target.subresource:
        return method, target.collection(world.namespace)
    return method, world.object_path(rng, target)


def _content_type(rng: random.Random, method: str) -> str:
    if method == "PATCH":
        return rng.choice(PATCH_TYPES)
    return rng.choice(("application/json", "application/yaml"))


def deep_nesting(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    method, path = _write(rng, world, target)
    depth = rng.choice(DEPTHS)
    content_type = _content_type(rng, method)
    opening, closing = rng.choice(((b"[", b"]"), (b'{"a":', b"}"), (b"- ", b"")))
    if opening == b"- " and "yaml" not in content_type:
        opening, closing = b"[", b"]"
    # "- - - 1" is YAML's block form of [[[1]]].
    nested = opening * depth + b"1" + closing * depth
    wrap = rng.random()
    if content_type == "application/json-patch+json":
        body = b'[{"op":"add","path":"/metadata/annotations","value":' + nested + b"}]"
    elif wrap < 0.5:
        body = nested
    else:
        outer = json.dumps(world.body_for(target)).encode()
        body = outer[:-1] + b',"spec":' + nested + b"}"
    return Request(method, path, _json_headers(content_type), body, shape="deep_nesting")


def _set_path(obj: Any, path: tuple[str | int, ...], value: Any) -> None:
    for step, following in zip(path, (*path[1:], None), strict=True):
        if following is None:
            if isinstance(step, int):
                obj.append(value)
            else:
                obj[step] = value
            return
        fresh: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            obj.append(fresh)
        else:
            fresh = obj.setdefault(step, fresh)
        obj = fresh


MARK = "__fuzz_number__"


def huge_number(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    fields = world.numeric_fields.get(target.kind) or [(("metadata", "generation"), "int64")]
    path, _ = rng.choice(fields)
    method, url = _write(rng, world, target)
    body = world.body_for(target, world.name_for(rng, target) if method != "POST" else "fuzz-n")
    _set_path(body, path, MARK)
    literal = rng.choice(HUGE_NUMBERS)
    if rng.random() < 0.2:
        literal = json.dumps(literal)  # a quantity's string form: "1e400"
    encoded = json.dumps(body).replace(json.dumps(MARK), literal).encode()
    content_type = "application/json"
    if method == "PATCH":
        content_type = rng.choice(PATCH_TYPES[1:])
        if content_type.endswith("yaml"):
            # YAML reads 1e400 as a float and 2**70 as an integer, as JSON does.
            content_type = "application/apply-patch+yaml"
    query = "?fieldManager=fuzz" if content_type.endswith("yaml") else ""
    return Request(method, url + query, _json_headers(content_type), encoded, shape="huge_number")


def _bad_text(rng: random.Random) -> tuple[str, bytes]:
    """A JSON string body fragment holding invalid text: an escape, or raw bytes."""
    if rng.random() < 0.5:
        return "escape", rng.choice(BAD_TEXT_ESCAPES).encode()
    return "bytes", rng.choice(BAD_UTF8)


def bad_unicode(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    where = rng.choice(("name", "label key", "label value", "annotation", "data", "url", "query"))
    _, bad = _bad_text(rng)
    if where in ("url", "query"):
        raw = bad.decode("unicode_escape").encode("utf-8", "surrogatepass") if b"\\" in bad else bad
        name = urllib.parse.quote_from_bytes(raw).encode() if rng.random() < 0.5 else raw
        collection = target.collection(world.namespace).encode()
        if where == "url":
            raw_url = collection + b"/x" + name + b"y"
        else:
            raw_url = collection + b"?labelSelector=a%3D" + name
        method = rng.choice(("GET", "DELETE", "PUT", "PATCH"))
        body = b'{"metadata":{}}' if method in ("PUT", "PATCH") else b""
        headers = _json_headers("application/merge-patch+json" if method == "PATCH" else "")
        return Request(method, raw_url, headers, body, shape="bad_unicode")
    method, url = _write(rng, world, target)
    base = world.body_for(target, "fuzz-u")
    text = json.dumps(base).encode()
    mark = b'"fuzz-u"'
    value = b'"a' + bad + b'b"'
    if where == "name":
        text = text.replace(mark, value)
    elif where == "label key":
        text = text[:-2] + b',"labels":{' + value + b':"v"}}}'
    elif where == "label value":
        text = text[:-2] + b',"labels":{"k":' + value + b"}}}"
    elif where == "annotation":
        text = text[:-2] + b',"annotations":{"k":' + value + b"}}}"
    else:
        text = text[:-1] + b',"data":{"k":' + value + b"}}"
    content_type = _content_type(rng, method)
    if content_type == "application/json-patch+json":
        text = b'[{"op":"add","path":"/metadata/labels","value":{"k":' + value + b"}}]"
    query = "?fieldManager=fuzz" if "apply" in content_type else ""
    return Request(method, url + query, _json_headers(content_type), text, shape="bad_unicode")


def nul_bytes(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    where = rng.choice(("body name", "body value", "raw body", "url", "query", "header"))
    if where == "url":
        path = target.collection(world.namespace) + "/a%00b"
        return Request(rng.choice(("GET", "DELETE")), path, shape="nul_bytes")
    if where == "query":
        path = target.collection(world.namespace) + "?labelSelector=a%3D%00&fieldSelector=%00"
        return Request("GET", path, shape="nul_bytes")
    if where == "header":
        headers: list[tuple[str | bytes, str | bytes]] = [("Accept", "application/json\x00x")]
        return Request("GET", target.collection(world.namespace), headers, shape="nul_bytes")
    method, url = _write(rng, world, target)
    body = world.body_for(target, "fuzz-z")
    if where == "body name":
        body["metadata"]["name"] = "a\x00b"
    else:
        body["metadata"]["labels"] = {"k": "\x00"}
        body["metadata"]["annotations"] = {"\x00": "v"}
    text = json.dumps(body).encode()
    if where == "raw body":
        text = text.replace(b'"fuzz-z"', b'"a\x00b"')
    content_type = _content_type(rng, method)
    if content_type == "application/json-patch+json":
        text = b'[{"op":"replace","path":"/metadata/name","value":"\\u0000"}]'
    query = "?fieldManager=fuzz" if "apply" in content_type else ""
    return Request(method, url + query, _json_headers(content_type), text, shape="nul_bytes")


@functools.cache
def _gzip_bomb() -> bytes:
    """16 MiB of zeros in 16 KB: the 3 MiB request limit must apply to what it inflates to."""
    return gzip.compress(b"0" * (16 << 20), compresslevel=9)


def content_encoding_lie(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    method, url = _write(rng, world, target)
    plain = json.dumps(world.body_for(target, "fuzz-e")).encode()
    encoding = rng.choice(
        ("gzip", "deflate", "br", "zstd", "compress", "identity", "gzip, gzip", "x-nope", "")
    )
    variant = rng.random()
    if variant < 0.4:
        body = plain  # says compressed, is not
    elif variant < 0.6:
        body = gzip.compress(plain)[: rng.randrange(1, 30)]  # a compressed stream cut short
    elif variant < 0.7:
        body = zlib.compress(b"not json at all")
        encoding = "deflate"
    elif variant < 0.8:
        body = gzip.compress(plain) + b"trailing garbage"
        encoding = "gzip"
    elif variant < 0.85:
        body = _gzip_bomb()
        encoding = "gzip"
    else:
        body = gzip.compress(plain)
        encoding = "deflate"  # gzip's stream under deflate's name
    headers = _json_headers(_content_type(rng, method))
    headers.append(("Content-Encoding", encoding))
    return Request(method, url, headers, body, shape="content_encoding_lie")


def content_type_lie(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    method, url = _write(rng, world, target)
    obj = world.body_for(target, "fuzz-t")
    body = rng.choice(
        (
            json.dumps(obj).encode(),
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fuzz-t\n",
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))),
            b"k8s\x00\x0a\x02\x08\x01",
            b"\xd9\xd9\xf7\xa1\x61\x61\x01",
            b"",
        )
    )
    content_type = rng.choice(
        (
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
            "application/cbor",
            "application/apply-patch+cbor",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/json; charset=utf-16",
            "application/json; charset=latin1",
            "application/x-www-form-urlencoded",
            ";;;",
            "application/json; a=\x01",
            "*/*",
            "application/*",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
            "application/json, application/yaml",
        )
    )
    headers: list[tuple[str | bytes, str | bytes]] = [
        ("Content-Type", content_type),
        ("Accept", rng.choice(("application/json", "*/*", "application/nope", "x;;"))),
    ]
    return Request(method, url, headers, body, shape="content_type_lie")


def truncated_body(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    method, url = _write(rng, world, target)
    obj = world.body_for(target, "fuzz-c")
    obj["metadata"]["labels"] = {"a": "b"}
    content_type = _content_type(rng, method)
    if content_type == "application/json-patch+json":
        text = b'[{"op":"add","path":"/metadata/labels/a","value":"b"}]'
    elif "yaml" in content_type:
        text = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: b}\n"
    else:
        text = json.dumps(obj).encode()
    cut = text[: rng.randrange(0, len(text))]
    query = "?fieldManager=fuzz" if "apply" in content_type else ""
    return Request(method, url + query, _json_headers(content_type), cut, shape="truncated_body")


def bad_patch(rng: random.Random, world: World) -> Request:
    target = world.target(rng, subresources=rng.random() < 0.2)
    content_type = rng.choice(PATCH_TYPES)
    body = rng.choice(
        {
            PATCH_TYPES[0]: BAD_JSON_PATCHES,
            PATCH_TYPES[1]: BAD_MERGE_PATCHES,
            PATCH_TYPES[2]: BAD_STRATEGIC_PATCHES + BAD_MERGE_PATCHES,
            PATCH_TYPES[3]: BAD_APPLY_PATCHES,
        }[content_type]
    )
    query = rng.choice(("", "?fieldManager=fuzz", "?fieldManager=fuzz&force=true", "?force=x"))
    url = world.object_path(rng, target) + query
    return Request("PATCH", url, _json_headers(content_type), body, shape="bad_patch")


def bad_selector(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    which = rng.choice(("labelSelector", "fieldSelector"))
    pool = BAD_LABEL_SELECTORS if which == "labelSelector" else BAD_FIELD_SELECTORS
    selector = rng.choice(pool)
    if rng.random() < 0.2:
        selector = "a=" + "b" * LONG if which == "labelSelector" else "metadata.name=" + "x" * LONG
    query = f"{which}={urllib.parse.quote(selector, safe='')}"
    if rng.random() < 0.2:
        query += "&watch=true&timeoutSeconds=1"
    method = "DELETE" if rng.random() < 0.1 else "GET"
    if method == "DELETE":
        query += "&dryRun=All"
    return Request(method, f"{target.collection(world.namespace)}?{query}", shape="bad_selector")


def bad_resource_version(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    parameters: list[tuple[str, str]] = []
    if rng.random() < 0.7:
        parameters.append(("resourceVersion", rng.choice(BAD_RESOURCE_VERSIONS)))
    if rng.random() < 0.5:
        parameters.append(("resourceVersionMatch", rng.choice(BAD_MATCHES)))
    if rng.random() < 0.4:
        parameters.append(("limit", rng.choice(BAD_LIMITS)))
    if rng.random() < 0.3:
        parameters.append(("continue", rng.choice(BAD_CONTINUES)))
    if rng.random() < 0.2:
        # A resourceVersion the store has not reached: Kubernetes' documented 504.
        parameters = [("resourceVersion", str(10**12))]
        if rng.random() < 0.5:
            parameters.append(("watch", "true"))
    if rng.random() < 0.15:
        parameters.append(("watch", "true"))
        parameters.append(("timeoutSeconds", "1"))
    query = urllib.parse.urlencode(parameters, errors="surrogatepass")
    collection = rng.random() < 0.7
    if not collection:
        path = world.object_path(rng, target)
        method = rng.choice(("GET", "DELETE", "PUT"))
    else:
        path, method = target.collection(world.namespace), "GET"
    body = b""
    if method == "PUT":
        obj = world.body_for(target, path.rsplit("/", 1)[-1])
        obj["metadata"]["resourceVersion"] = rng.choice(BAD_RESOURCE_VERSIONS)
        body = json.dumps(obj).encode()
    elif method == "DELETE":
        body = json.dumps(
            {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "dryRun": ["All"],
                "preconditions": {"resourceVersion": rng.choice(BAD_RESOURCE_VERSIONS)},
            }
        ).encode()
    return Request(method, f"{path}?{query}", _json_headers(), body, shape="bad_resource_version")


def bad_auth(rng: random.Random, world: World) -> Request:
    target = world.target(rng)
    path = rng.choice(
        ("/healthz", "/version", "/api", target.collection(world.namespace), "/readyz")
    )
    headers: list[tuple[str | bytes, str | bytes]] = [
        ("Authorization", rng.choice(BAD_AUTHORIZATION))
    ]
    if rng.random() < 0.2:
        headers.append(("Authorization", rng.choice(BAD_AUTHORIZATION)))
    return Request(
        rng.choice(("GET", "POST", "DELETE")),
        path,
        headers,
        authenticated=rng.random() < 0.3,
        shape="bad_auth",
    )


def bad_query(rng: random.Random, world: World) -> Request:
    target = world.target(rng, subresources=rng.random() < 0.2)
    name, value = rng.choice(BAD_QUERIES)
    query = urllib.parse.quote(name, safe="") + "=" + urllib.parse.quote(value, safe="&=")
    if value.startswith(("All&", "1&")):
        query = f"{name}={value}"
    method = rng.choice(("GET", "POST", "PUT", "PATCH", "DELETE"))
    collection = method == "POST" and not target.subresource
    if collection or (method == "GET" and rng.random() < 0.5):
        path = target.collection(world.namespace)
    else:
        path = world.object_path(rng, target)
    body = b""
    content_type = "application/json"
    if method in BODY_METHODS:
        obj = world.body_for(target, path.rsplit("/", 1)[-1] if method == "PUT" else "fuzz-q")
        body = json.dumps(obj).encode()
    if method == "PATCH":
        content_type = "application/merge-patch+json"
        body = b'{"metadata":{"labels":{"fuzz":"q"}}}'
    if method == "GET" and "watch" in query:
        query += "&timeoutSeconds=1"
    return Request(method, f"{path}?{query}", _json_headers(content_type), body, shape="bad_query")


def wrong_method(rng: random.Random, world: World) -> Request:
    target = world.target(rng, subresources=rng.random() < 0.3)
    kind = rng.random()
    if kind < 0.3:
        path = target.collection(world.namespace)
    elif kind < 0.7:
        path = world.object_path(rng, target)
    else:
        path = rng.choice(world.other_paths)
    method = rng.choice(METHODS)
    body = b"{}" if method in BODY_METHODS or rng.random() < 0.1 else b""
    return Request(method, path, _json_headers(), body, shape="wrong_method")


def bad_subresource(rng: random.Random, world: World) -> Request:
    target = world.target(rng, subresources=True)
    method = rng.choice(("POST", "PUT", "PATCH", "GET", "DELETE"))
    content_type = "application/json"
    if method == "PATCH":
        content_type = rng.choice(PATCH_TYPES)
    body = rng.choice(SUBRESOURCE_BODIES) if method != "GET" else b""
    query = rng.choice(("", "?dryRun=All", "?container=x&follow=true", "?fieldManager=fuzz"))
    path = world.object_path(rng, target)
    return Request(method, path + query, _json_headers(content_type), body, shape="bad_subresource")


def _sparing_the_cluster(shape: Shape) -> Shape:
    """`shape`, with a DELETE of a cluster-scoped collection turned into a dry run.

    Without a selector such a request is a deletecollection of every object of the kind, the
    cluster's own with them (`wrong_method` and `bad_auth` send DELETE to collections): once the
    controllers' ClusterRoleBindings were gone, every controller logged, rightly, that it was
    forbidden, and the log check failed on the fuzzer's own doing. The fuzzer's namespace is
    its own to empty; the dry run still takes the request through the same handler."""

    def spared(rng: random.Random, world: World) -> Request:
        request = shape(rng, world)
        target = request.target
        path = target.decode("latin-1") if isinstance(target, bytes) else target
        if request.method == "DELETE" and path.split("?", 1)[0] in world.cluster_collections():
            request.target = path + ("&" if "?" in path else "?") + "dryRun=All"
        return request

    spared.__name__ = shape.__name__
    return spared


SHAPES: dict[str, Shape] = {
    shape.__name__: _sparing_the_cluster(shape)
    for shape in (
        deep_nesting,
        huge_number,
        bad_unicode,
        nul_bytes,
        content_encoding_lie,
        content_type_lie,
        truncated_body,
        bad_patch,
        bad_selector,
        bad_resource_version,
        bad_auth,
        bad_query,
        wrong_method,
        bad_subresource,
    )
}


def discover(client: Client) -> list[Target]:
    """Every resource and subresource the server's discovery lists, in every group."""
    targets: list[Target] = []
    versions: list[tuple[str, str]] = [("/api/v1", "v1")]
    groups = client.send(Request("GET", "/apis")).json()
    assert isinstance(groups, dict), groups
    for group in groups.get("groups") or []:
        for version in group.get("versions") or []:
            versions.append((f"/apis/{version['groupVersion']}", version["groupVersion"]))
    for prefix, group_version in versions:
        listing = client.send(Request("GET", prefix)).json()
        assert isinstance(listing, dict), listing
        for resource in listing.get("resources") or []:
            plural, _, subresource = resource["name"].partition("/")
            targets.append(
                Target(
                    prefix,
                    group_version,
                    plural,
                    subresource,
                    bool(resource.get("namespaced")),
                    resource["kind"],
                    tuple(resource.get("verbs") or ()),
                )
            )
    return targets


QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def numeric_fields(
    schemas: dict[str, Any], root: str, limit: int = 60
) -> list[tuple[tuple[str | int, ...], str]]:
    """The paths of a kind's int32, int64 and quantity fields, read from its OpenAPI schema
    (breadth first, so the shallow ones come first, and at most `limit` of them)."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    queue: list[tuple[tuple[str | int, ...], str, frozenset[str]]] = [((), root, frozenset())]
    while queue and len(found) < limit:
        path, name, seen = queue.pop(0)
        schema = schemas.get(name) or {}
        for key, prop in (schema.get("properties") or {}).items():
            if key == "status" and not path:
                continue
            step = (*path, key)
            ref = _ref(prop)
            items = prop.get("items") or {}
            if prop.get("format") in ("int32", "int64"):
                found.append((step, prop["format"]))
            elif ref == QUANTITY:
                found.append((step, "quantity"))
            elif ref and ref not in seen and len(path) < 8:
                queue.append((step, ref, seen | {ref}))
            elif items.get("format") in ("int32", "int64"):
                found.append(((*step, 0), items["format"]))
            elif _ref(items) and _ref(items) not in seen and len(path) < 8:
                queue.append(((*step, 0), _ref(items), seen | {_ref(items)}))
            elif _ref(prop.get("additionalProperties") or {}) == QUANTITY:
                found.append(((*step, "cpu"), "quantity"))
    return found


def _ref(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref") or next(
        (s.get("$ref") for s in schema.get("allOf") or [] if "$ref" in s), ""
    )
    return str(ref).rsplit("/", 1)[-1]


_POD_SPEC = {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]}
_TEMPLATE = {"metadata": {"labels": {"app": "seed"}}, "spec": _POD_SPEC}
_SELECTED = {"selector": {"matchLabels": {"app": "seed"}}, "template": _TEMPLATE}
# What the seed objects of the kinds that need more than a name carry. Any other served kind's
# seed is its smallest body; a kind whose smallest body is refused just has no seed.
SEED_SPECS: dict[str, dict[str, Any]] = {
    "pods": {"spec": _POD_SPEC},
    "services": {"spec": {"ports": [{"port": 80}], "selector": {"app": "seed"}}},
    "deployments": {"spec": {"replicas": 0, **_SELECTED}},
    "replicasets": {"spec": {"replicas": 0, **_SELECTED}},
    "statefulsets": {"spec": {"replicas": 0, "serviceName": "seed", **_SELECTED}},
    "daemonsets": {"spec": _SELECTED},
    "replicationcontrollers": {
        "spec": {"replicas": 0, "selector": {"app": "seed"}, "template": _TEMPLATE}
    },
    "jobs": {
        "spec": {
            "suspend": True,
            "template": {**_TEMPLATE, "spec": {**_POD_SPEC, "restartPolicy": "Never"}},
        }
    },
    "cronjobs": {
        "spec": {
            "schedule": "0 0 1 1 *",
            "suspend": True,
            "jobTemplate": {
                "spec": {"template": {**_TEMPLATE, "spec": {**_POD_SPEC, "restartPolicy": "Never"}}}
            },
        }
    },
    "poddisruptionbudgets": {"spec": {"minAvailable": 1, "selector": {"matchLabels": {}}}},
    "controllerrevisions": {"revision": 1},
    "events": {"involvedObject": {"kind": "Pod", "name": "seed"}, "reason": "Seed"},
    "endpointslices": {"addressType": "IPv4", "endpoints": []},
}


def plant_seeds(client: Client, world: World) -> None:
    """Make (again) one seed object of each kind that takes one, and the victim namespace: the
    shapes delete and replace them, and a long run puts them back now and then."""
    namespace = world.namespace
    victim = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"{namespace}-victim"}}
    client.send(Request("POST", "/api/v1/namespaces", _json_headers(), json.dumps(victim).encode()))
    for target in world.targets:
        if target.subresource or "create" not in target.verbs or target.plural == "namespaces":
            continue
        obj = world.body_for(target, "seed")
        obj.update(SEED_SPECS.get(target.plural, {}))
        request = Request(
            "POST", target.collection(namespace), _json_headers(), json.dumps(obj).encode()
        )
        if client.send(request).status in (201, 409):
            world.seeds[target.plural] = "seed"


def build_world(client: Client, namespace: str = "fuzz") -> World:
    """Discover what the server serves, make the fuzzer's namespace and one seed object of
    each kind that takes one, and read each kind's numeric fields from the served schema."""
    world = World(discover(client), namespace)
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    created = client.send(Request("POST", "/api/v1/namespaces", _json_headers(), body.encode()))
    assert created.status in (201, 409), created.body
    # Shapes delete and replace their seeds; the namespace the others live in is not one.
    world.seeds["namespaces"] = f"{namespace}-victim"
    plant_seeds(client, world)
    index = client.send(Request("GET", "/openapi/v3")).json()
    assert isinstance(index, dict), index
    schemas: dict[str, Any] = {}
    for path in index["paths"]:
        document = client.send(Request("GET", f"/openapi/v3/{path}")).json()
        assert isinstance(document, dict), path
        schemas.update(document.get("components", {}).get("schemas", {}))
    for name, schema in schemas.items():
        for kind in schema.get("x-kubernetes-group-version-kind") or []:
            world.numeric_fields.setdefault(kind["kind"], numeric_fields(schemas, name))
    return world
