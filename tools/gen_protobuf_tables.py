"""Write `kubelite/api/protobuf/tables.py` from the facts a kubectl binary carries.

Kubernetes' protobuf encoding is gogo protobuf generated from its Go types, and a Go program
built with those types (kubectl is one) keeps both halves of what a decoder needs:

- the gzipped `FileDescriptorProto` of every `generated.proto` (registered with the protobuf
  runtime): field numbers, names, labels, and gogo's `nullable=false` on fields that are not
  pointers in Go;
- the Go struct types (kept for reflection): the order of the fields and their tags, whose
  `json:"...,omitempty"` and `json:",inline"` say what Go's JSON encoder writes.

The tool reads both out of the binary, walks every message reachable from the kinds kubelite
serves (`kubelite.api.kinds`) plus DeleteOptions, and writes one table per message keyed by the
OpenAPI definition name. Messages the decoder reads by hand (Time, Quantity, IntOrString, ...)
are checked rather than written. Run it when the served Kubernetes release changes:

    .venv/bin/python tools/gen_protobuf_tables.py /usr/lib/google-cloud-sdk/bin/kubectl.1.33

It reads Go 1.2x's runtime type layout for amd64 ELF binaries, which is what kubectl ships as.
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from kubelite.api import schema
from kubelite.api.kinds import REGISTRY
from kubelite.api.protobuf import NOT_IN_KUBECTL, wire

OUTPUT = Path(__file__).resolve().parent.parent / "src/kubelite/api/protobuf/tables.py"
DEFAULT_KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"

# Definitions the decoder reads by hand, with the fields it expects (checked against the binary).
HAND_DECODED = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": {1: "seconds", 2: "nanos"},
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": {1: "seconds", 2: "nanos"},
    "k8s.io.apimachinery.pkg.api.resource.Quantity": {1: "string"},
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {1: "type", 2: "intVal", 3: "strVal"},
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": {1: "Raw"},
    "k8s.io.apimachinery.pkg.runtime.RawExtension": {1: "raw"},
    "k8s.io.apimachinery.pkg.runtime.Unknown": {
        1: "typeMeta",
        2: "raw",
        3: "contentEncoding",
        4: "contentType",
    },
    "k8s.io.apimachinery.pkg.runtime.TypeMeta": {1: "apiVersion", 2: "kind"},
    # `type ExtraValue []string`: a list in JSON, a message of one repeated string here.
    "k8s.io.api.authorization.v1.ExtraValue": {1: "items"},
    "k8s.io.api.authentication.v1.ExtraValue": {1: "items"},
    "k8s.io.api.certificates.v1.ExtraValue": {1: "items"},
}
EXTRA_ROOTS = ("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",)

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # how Go's gzip writer starts
_LABEL_REPEATED = 3
_TYPE_MESSAGE = 11
_GOGO_NULLABLE = 65001
_MAP_ENTRY = 7
_GO_PACKAGE = 11

# Go runtime type layout (internal/abi, amd64).
_KIND_STRUCT = 25
_TFLAG_UNCOMMON = 1
_TFLAG_EXTRA_STAR = 2
_STRUCT_FIELD_SIZE = 24


@dataclass
class ProtoField:
    name: str
    number: int
    repeated: bool
    message: str  # full name of a message type, without the leading dot; "" for scalars
    nullable: bool


@dataclass
class ProtoMessage:
    name: str
    go_package: str
    fields: dict[int, ProtoField]
    map_entry: bool


@dataclass
class GoField:
    name: str
    tag: str


class Binary:
    """An ELF executable, addressed by virtual address."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        if data[:4] != b"\x7fELF" or data[4] != 2:
            raise SystemExit("not a 64-bit ELF binary")
        (shoff,) = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
        names_offset = headers[shstrndx][4]
        self.sections: dict[str, tuple[int, int, int]] = {}
        for name_index, _kind, _flags, addr, offset, size in headers:
            end = data.index(b"\0", names_offset + name_index)
            self.sections[data[names_offset + name_index : end].decode()] = (addr, offset, size)

    def offset(self, addr: int) -> int:
        for section_addr, offset, size in self.sections.values():
            if section_addr and section_addr <= addr < section_addr + size:
                return offset + addr - section_addr
        raise ValueError(f"address {addr:#x} is in no section")

    def go_name(self, addr: int) -> tuple[str, str]:
        """A Go runtime name (abi.Name) at `addr`: the name and its struct tag."""
        pos = self.offset(addr)
        flags = self.data[pos]
        length, pos = wire.read_varint(self.data, pos + 1)
        name = self.data[pos : pos + length].decode()
        tag = ""
        if flags & 2:
            tag_length, tag_pos = wire.read_varint(self.data, pos + length)
            tag = self.data[tag_pos : tag_pos + tag_length].decode()
        return name, tag


def descriptors(binary: Binary) -> list[bytes]:
    """Every gzipped FileDescriptorProto of a Kubernetes `generated.proto` in the binary."""
    found = []
    for match in re.finditer(re.escape(_GZIP_HEADER), binary.data):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
                binary.data[match.start() : match.start() + (4 << 20)]
            )
        except zlib.error:
            continue
        try:
            name = next(v for n, _, v in wire.fields(raw) if n == 1)
        except (wire.WireError, StopIteration):
            continue
        if isinstance(name, bytes) and name.endswith(b"/generated.proto"):
            found.append(raw)
    return found


def _options(raw: bytes) -> dict[int, int | bytes]:
    return {n: v for n, _, v in wire.fields(raw)}


def _messages_of(raw: bytes, prefix: str, go_package: str, out: dict[str, ProtoMessage]) -> None:
    """A DescriptorProto (1 name, 2 fields, 3 nested messages, 7 options) and its nested ones.

    A FieldDescriptorProto has 1 name, 3 number, 4 label, 5 type, 6 type name and 8 options
    (google/protobuf/descriptor.proto).
    """
    parts = [(n, v) for n, _, v in wire.fields(raw)]
    full = f"{prefix}.{next(v for n, v in parts if n == 1).decode()}"
    fields: dict[int, ProtoField] = {}
    map_entry = False
    for number, value in parts:
        if number == 2:
            field = {n: v for n, _, v in wire.fields(value)}
            options = _options(field[8]) if 8 in field else {}
            type_name = field.get(6, b"")
            fields[field[3]] = ProtoField(
                name=field[1].decode(),
                number=field[3],
                repeated=field[4] == _LABEL_REPEATED,
                message=type_name.decode().lstrip(".") if field[5] == _TYPE_MESSAGE else "",
                nullable=options.get(_GOGO_NULLABLE, 1) != 0,
            )
        elif number == 3:
            _messages_of(value, full, go_package, out)
        elif number == 7:
            map_entry = _options(value).get(_MAP_ENTRY) == 1
    out[full] = ProtoMessage(full, go_package, fields, map_entry)


def proto_messages(binary: Binary) -> dict[str, ProtoMessage]:
    """Every message of the binary's descriptors (FileDescriptorProto: 2 package, 4 messages,
    8 options), by full name."""
    out: dict[str, ProtoMessage] = {}
    for raw in descriptors(binary):
        top = [(n, v) for n, _, v in wire.fields(raw)]
        package = next(v for n, v in top if n == 2).decode()
        options = next((v for n, v in top if n == 8), b"")
        go_package = _options(options).get(_GO_PACKAGE, b"").decode()
        for number, value in top:
            if number == 4:
                _messages_of(value, package, go_package, out)
    return out


def go_structs(binary: Binary) -> dict[str, list[GoField]]:
    """The fields of every named struct type of a `k8s.io/` package, by `pkgpath.Name`.

    Type descriptors are 8-byte aligned in `.rodata`, where Go's linker also puts the base that
    their name offsets count from. A struct type is an abi.Type (kind at byte 23, tflag at 20,
    name offset at 40), a package path name, a slice of fields (at 56) and, for named types, an
    uncommon part whose first word is the package path offset (at 80).
    """
    types_addr, types_offset, size = binary.sections[".rodata"]
    data = binary.data
    words = struct.unpack_from(f"<{size // 8}Q", data, types_offset)
    out: dict[str, list[GoField]] = {}
    for i in range(len(words) - 10):
        pos = types_offset + i * 8
        if data[pos + 23] & 0x1F != _KIND_STRUCT:
            continue
        fields_addr, count, capacity = words[i + 7], words[i + 8], words[i + 9]
        tflag = data[pos + 20]
        if count != capacity or not 0 < count < 1000 or not tflag & _TFLAG_UNCOMMON:
            continue
        try:
            (name_off,) = struct.unpack_from("<i", data, pos + 40)
            name, _ = binary.go_name(types_addr + name_off)
            (pkg_off,) = struct.unpack_from("<i", data, pos + 80)
            package, _ = binary.go_name(types_addr + pkg_off)
            if not package.startswith("k8s.io/"):
                continue
            field_pos = binary.offset(fields_addr)
            members = []
            for k in range(count):
                (name_addr,) = struct.unpack_from("<Q", data, field_pos + k * _STRUCT_FIELD_SIZE)
                members.append(GoField(*binary.go_name(name_addr)))
        except (ValueError, UnicodeDecodeError):
            continue
        if tflag & _TFLAG_EXTRA_STAR:
            name = name[1:]
        out[f"{package}.{name.rsplit('.', 1)[-1]}"] = members
    return out


def _tag(tag: str, key: str) -> str | None:
    found = re.search(rf'(?:^| ){key}:"((?:[^"\\]|\\.)*)"', tag)
    return found.group(1) if found else None


def definition_name(proto_name: str) -> str:
    """`k8s.io.api.core.v1.Pod` -> `io.k8s.api.core.v1.Pod`, as the OpenAPI names it."""
    return "io.k8s." + proto_name.removeprefix("k8s.io.")


def proto_name(definition: str) -> str:
    return "k8s.io." + definition.removeprefix("io.k8s.")


def entry(field: ProtoField, go: GoField) -> str:
    """The table's text for one field (see the docstring written into tables.py)."""
    json_tag = _tag(go.tag, "json")
    assert json_tag is not None, go
    json_name, _, options = json_tag.partition(",")
    if not json_name and "inline" in options.split(","):
        return "..." + definition_name(field.message)
    # Case aside: a few .proto files spell a field otherwise than its JSON tag
    # (authentication/v1 BoundObjectReference's `uID`, JSON `uid`).
    assert json_name.lower() == field.name.lower(), (json_name, field)
    if field.repeated:
        return json_name
    if field.message:
        return json_name + ("!" if not field.nullable else "")
    if field.nullable:
        return json_name + "?"
    return json_name + ("" if "omitempty" in options.split(",") else "!")


def tables(binary: Binary) -> dict[str, dict[int, str]]:
    messages = proto_messages(binary)
    structs = go_structs(binary)
    for name, expected in HAND_DECODED.items():
        found = {n: f.name for n, f in messages[name].fields.items()}
        assert found == expected, (name, found)
    definitions = schema.load()
    roots = [*EXTRA_ROOTS]
    for resource in REGISTRY.resources:
        roots.append(definitions.definition_name(resource.group, resource.version, resource.kind))
        for sub in resource.subresources:
            group = sub.group or resource.group
            version = sub.version or resource.version
            roots.append(definitions.definition_name(group, version, sub.kind))
    for missing in NOT_IN_KUBECTL:
        # When a kubectl build carries one after all, it belongs in the tables.
        assert proto_name(missing) not in messages, missing
    out: dict[str, dict[int, str]] = {}
    todo = [proto_name(r) for r in roots if r and r not in NOT_IN_KUBECTL]
    while todo:
        name = todo.pop()
        message = messages[name]
        definition = definition_name(name)
        if name in HAND_DECODED or definition in out:
            continue
        if message.map_entry:
            todo.extend(f.message for f in message.fields.values() if f.message)
            continue
        go_type = f"{message.go_package}.{name.rsplit('.', 1)[-1]}"
        table: dict[int, str] = {}
        for go in structs[go_type]:
            protobuf_tag = _tag(go.tag, "protobuf")
            if protobuf_tag is None:
                continue  # TypeMeta: carried by the envelope, not the message
            number = int(protobuf_tag.split(",")[1])
            table[number] = entry(message.fields[number], go)
        assert set(table) == set(message.fields), (name, table)
        out[definition] = table
        todo.extend(f.message for f in message.fields.values() if f.message)
    return dict(sorted(out.items()))


def render(found: dict[str, dict[int, str]], source: str) -> str:
    lines = [
        '"""Field numbers of the Kubernetes protobuf messages kubelite decodes, by OpenAPI name.',
        "",
        f"Generated by tools/gen_protobuf_tables.py from {source}; do not edit by hand.",
        "",
        "Each table maps a field number to the field's JSON name, in the order of the Go struct's",
        "fields, which is the order Go's JSON encoder writes them in. A mark after the name says",
        "what that encoder does with the field (the decoder gives what it would give):",
        "",
        '- `"name"`: written when set; a zero value is left out (`omitempty`). Lists, maps and',
        "  pointers to structs have no mark: they are written exactly when they were sent.",
        '- `"name!"`: always written, as the zero value when it was not sent (no `omitempty`,',
        "  or a struct that is not a pointer).",
        '- `"name?"`: a pointer to a scalar: written exactly when it was sent, zero or not.',
        '- `"...io.k8s.api.core.v1.VolumeSource"`: an embedded struct (`json:",inline"`): its',
        "  fields are written into this object, as the OpenAPI schema shows them.",
        '"""',
        "",
        "MESSAGES: dict[str, dict[int, str]] = {",
    ]
    for definition, table in found.items():
        items = ", ".join(f'{n}: "{v}"' for n, v in table.items())
        line = f'    "{definition}": {{{items}}},'
        if len(line) <= 100:
            lines.append(line)
            continue
        lines.append(f'    "{definition}": {{')
        lines.extend(f'        {n}: "{v}",' for n, v in table.items())
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("kubectl", nargs="?", default=DEFAULT_KUBECTL)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    binary = Binary(Path(args.kubectl).read_bytes())
    found = tables(binary)
    args.output.write_text(render(found, f"the binary of kubectl {_version(args.kubectl)}"))
    print(f"{len(found)} messages written to {args.output}")


def _version(path: str) -> str:
    found = re.search(r"kubectl\.(\d+\.\d+)$", path)
    return found.group(1) if found else Path(path).name


if __name__ == "__main__":
    main(sys.argv[1:])
