"""kuberc: a user's kubectl preferences (default flag values and command aliases), honoured by
kubelite's kubectl-like commands as kubectl 1.37 honours them (beta, on since 1.34).

The file is `~/.kube/kuberc`, or the one `--kuberc PATH` or the `KUBERC` environment variable
names (`KUBERC=off` turns it off, as does `KUBECTL_KUBERC=false`, which also takes the
`--kuberc` flag away):

    apiVersion: kubectl.config.k8s.io/v1beta1
    kind: Preference
    defaults:                      # default values of a command's flags
    - command: get
      options:
      - {name: output, default: wide}
    aliases:                       # `kubelite getn web` runs `kubelite get nodes web -o wide`
    - name: getn
      command: get
      prependArgs: [nodes]
      appendArgs: []
      options:
      - {name: output, default: wide}

A flag the user gives on the command line always wins over the file's value. The defaults of a
command do not apply to its aliases; an alias cannot shadow a command. `v1alpha1` files
(`overrides` and `flags`) are read too. A file that names an unknown flag, or an alias of a
command kubelite lacks, is an error, as in kubectl; a default for a kubectl command kubelite has
no equivalent of (`run`, `create configmap`) is skipped, where kubectl would apply it.

This module only rewrites the command line and the parsers' defaults before argparse parses it
(kubectl does the same to its cobra commands in `kuberc.Preferences.Apply`).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

GROUP = "kubectl.config.k8s.io"
GATE = "KUBECTL_KUBERC"
RECOMMENDED_FILE = Path(".kube") / "kuberc"

# kubectl 1.37's top-level commands: a default for one that kubelite lacks is not an error.
KUBECTL_COMMANDS = frozenset(
    (
        "create",
        "expose",
        "run",
        "set",
        "explain",
        "get",
        "edit",
        "delete",
        "rollout",
        "scale",
        "autoscale",
        "certificate",
        "cluster-info",
        "top",
        "cordon",
        "uncordon",
        "drain",
        "taint",
        "describe",
        "logs",
        "attach",
        "exec",
        "port-forward",
        "proxy",
        "cp",
        "auth",
        "debug",
        "events",
        "diff",
        "apply",
        "patch",
        "replace",
        "wait",
        "kustomize",
        "label",
        "annotate",
        "completion",
        "api-resources",
        "api-versions",
        "config",
        "kuberc",
        "plugin",
        "version",
        "options",
        "alpha",
        "help",
    )
)

_ALIAS_NAME = re.compile(r"[a-zA-Z]+")
_SHORTHANDS = re.compile(r"-[a-zA-Z]+")


class KubercError(Exception):
    """What kubectl prints after `error occurred while applying preferences ` (exit 1)."""


@dataclass(frozen=True)
class Option:
    name: str
    default: str


@dataclass(frozen=True)
class CommandDefaults:
    command: str
    options: list[Option] = field(default_factory=list)


@dataclass(frozen=True)
class Alias:
    name: str
    command: str
    prepend_args: list[str] = field(default_factory=list)
    append_args: list[str] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)


@dataclass(frozen=True)
class Preference:
    defaults: list[CommandDefaults] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """kubectl's KUBECTL_KUBERC gate: on unless set to `false` (in any case)."""
    env = os.environ if environ is None else environ
    return env.get(GATE, "").lower() != "false"


# --- decoding ---------------------------------------------------------------------------------

# The fields of each version: (top-level list field, its item's option list field).
_VERSIONS = {
    "v1beta1": ("defaults", "options"),
    "v1alpha1": ("overrides", "flags"),
}
# Fields of v1beta1 kubelite reads but has no use for (credential plugins are not run).
_IGNORED_TOP = ("credentialPluginPolicy", "credentialPluginAllowlist")


class _Lenient(Exception):
    """The document cannot be decoded even leniently: it is skipped."""


def _expect(value: Any, kind: type, where: str) -> Any:
    if value is None:
        return kind()
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _Lenient(f"{where}: wrong type")
    return value


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise _Lenient(f"{where}: wrong type")
    # YAML scalars that are not strings (`default: 1`, `default: true`) decode into a Go
    # string field as their text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(value: Any, where: str) -> list[str]:
    return [_text(v, f"{where}[{i}]") for i, v in enumerate(_expect(value, list, where))]


class _Decoder:
    """One document decoded as kubectl's strict, then lenient, codec would."""

    def __init__(self) -> None:
        self.unknown: list[str] = []

    def fields(self, obj: Any, known: Sequence[str], where: str) -> dict[str, Any]:
        obj = _expect(obj, dict, where)
        for key in obj:
            if key not in known:
                self.unknown.append(f"{where}.{key}" if where else str(key))
        return obj

    def options(self, value: Any, where: str) -> list[Option]:
        found = []
        for i, item in enumerate(_expect(value, list, where)):
            at = f"{where}[{i}]"
            obj = self.fields(item, ("name", "default"), at)
            found.append(Option(_text(obj.get("name"), at), _text(obj.get("default"), at)))
        return found

    def preference(self, doc: Any) -> Preference:
        if not isinstance(doc, dict):
            raise _Lenient("not an object")
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        group, _, version = str(api_version or "").rpartition("/")
        if group != GROUP or version not in _VERSIONS or kind != "Preference":
            raise _Lenient(f"no kind {kind!r} is registered for version {api_version!r}")
        list_field, option_field = _VERSIONS[version]
        top = self.fields(doc, ("apiVersion", "kind", list_field, "aliases", *_IGNORED_TOP), "")
        defaults = []
        for i, item in enumerate(_expect(top.get(list_field), list, list_field)):
            at = f"{list_field}[{i}]"
            obj = self.fields(item, ("command", option_field), at)
            defaults.append(
                CommandDefaults(
                    _text(obj.get("command"), at), self.options(obj.get(option_field), at)
                )
            )
        aliases = []
        alias_fields = ("name", "command", "prependArgs", "appendArgs", option_field)
        for i, item in enumerate(_expect(top.get("aliases"), list, "aliases")):
            at = f"aliases[{i}]"
            obj = self.fields(item, alias_fields, at)
            aliases.append(
                Alias(
                    name=_text(obj.get("name"), at),
                    command=_text(obj.get("command"), at),
                    prepend_args=_strings(obj.get("prependArgs"), f"{at}.prependArgs"),
                    append_args=_strings(obj.get("appendArgs"), f"{at}.appendArgs"),
                    options=self.options(obj.get(option_field), f"{at}.{option_field}"),
                )
            )
        return Preference(defaults, aliases)


def decode(text: str, path: str) -> tuple[Preference | None, str | None]:
    """The first usable Preference of a (multi-document) file, and its strict decoding error.

    Documents that cannot be decoded, or are not a Preference of a known version, are skipped;
    a file that had documents but no usable one is an error; an empty file has no preferences.
    """
    attempted = 0
    for chunk in re.split(r"^---[ \t]*$", text, flags=re.MULTILINE):
        if not chunk.strip():
            continue
        attempted += 1
        try:
            doc = yaml.safe_load(chunk)
            decoder = _Decoder()
            preference = decoder.preference(doc)
        except (yaml.YAMLError, _Lenient):
            continue
        strict = None
        if decoder.unknown:
            strict = "strict decoding error: " + ", ".join(
                f'unknown field "{name}"' for name in decoder.unknown
            )
        return preference, strict
    if attempted:
        raise KubercError(f"no valid preferences found in {path}, use --v=5 to see details")
    return None, None


def _os_error(err: OSError, path: str) -> str:
    """Go's *PathError text: `open PATH: no such file or directory`."""
    reason = os.strerror(err.errno) if err.errno else str(err)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def explicit_path(argv: Sequence[str]) -> str | None:
    """`--kuberc PATH` or `--kuberc=PATH` anywhere before `--` (getExplicitKuberc)."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--kuberc":
            if i + 1 < len(argv):
                return argv[i + 1]
            raise KubercError("kuberc file is not found")
        if "--kuberc=" in arg:
            value = arg.split("=")[1]
            if value:
                return value
            raise KubercError("kuberc file is not found")
    return None


def load(
    explicit: str | None,
    environ: Mapping[str, str],
    warn: Callable[[str], None],
) -> Preference | None:
    """DefaultGetPreferences: the flag's file, else `KUBERC`'s, else `~/.kube/kuberc`.

    A file named by the flag or `KUBERC` must be readable and valid; the default one may be
    missing (nothing happens) or broken (a warning, and no preferences).
    """
    env_path = environ.get("KUBERC", "")
    if env_path == "off":
        if explicit:
            raise KubercError(
                "kuberc error disabling kuberc via KUBERC=off and passing kuberc flag are "
                "mutually exclusive"
            )
        return None
    path = explicit or env_path
    chosen = bool(path)
    if not chosen:
        home = environ.get("HOME") or os.path.expanduser("~")
        path = str(Path(home) / RECOMMENDED_FILE)
    try:
        text = Path(path).read_text()
        preference, strict = decode(text, path)
    except OSError as e:
        if chosen:
            raise KubercError(f"kuberc error kuberc: {_os_error(e, path)}") from e
        if not isinstance(e, FileNotFoundError):
            warn(f"kuberc: no preferences loaded from {path}: {_os_error(e, path)}")
        return None
    except KubercError as e:
        if chosen:
            raise KubercError(f"kuberc error kuberc: {e}") from e
        warn(f"kuberc: no preferences loaded from {path}: {e}")
        return None
    if strict is not None:
        # kubectl prints this without a final newline; kubelite ends the line.
        warn(f"kuberc: ignoring strict decoding error in {path}: {strict}")
    return preference


def validate(preference: Preference) -> None:
    """Alias names are letters only and unique; options are named in long form."""

    def check_options(options: list[Option]) -> None:
        for option in options:
            if option.name.startswith("-"):
                raise KubercError(f"flag name {option.name} should be in long form without dashes")

    seen: set[str] = set()
    for alias in preference.aliases:
        if not _ALIAS_NAME.fullmatch(alias.name):
            raise KubercError("invalid alias name, can only include alphabetical characters")
        check_options(alias.options)
        if alias.name in seen:
            raise KubercError(f"duplicate alias name {alias.name}")
        seen.add(alias.name)
    for defaults in preference.defaults:
        check_options(defaults.options)


# --- applying ---------------------------------------------------------------------------------


def _long_name(action: argparse.Action) -> str | None:
    for option in action.option_strings:
        if option.startswith("--"):
            return option[2:]
    return None


def _shorthand(action: argparse.Action) -> str:
    for option in action.option_strings:
        if len(option) == 2 and option[0] == "-" and option[1] != "-":
            return option[1]
    return ""


def _flag(parser: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    for action in parser._actions:
        if _long_name(action) == name:
            return action
    return None


def given_in_args(name: str, shorthand: str, shorthands: set[str], args: Sequence[str]) -> bool:
    """searchInArgs: whether the user gave the flag (`--name`, `--name=v`, `-s v`, `-sv`, or a
    run of shorthands `-abs`); then the file's value does not apply."""
    for arg in args:
        if arg == f"--{name}" or arg.startswith(f"--{name}="):
            return True
        if not shorthand:
            continue
        if arg.startswith(f"-{shorthand}"):
            return True
        if _SHORTHANDS.fullmatch(arg) and shorthand in shorthands and shorthand in arg[1:]:
            return True
    return False


_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _flag_names(action: argparse.Action) -> str:
    short = _shorthand(action)
    return (f"-{short}, " if short else "") + f"--{_long_name(action)}"


def _value(action: argparse.Action, text: str) -> Any:
    """The flag's value for `text`, as pflag's Set would parse it; ValueError if invalid."""
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        if text in _GO_TRUE:
            parsed = True
        elif text in _GO_FALSE:
            parsed = False
        else:
            raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
        return parsed if isinstance(action, argparse._StoreTrueAction) else not parsed
    convert = action.type if callable(action.type) else str
    try:
        value = convert(text)
    except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
        raise ValueError(str(e)) from e
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"must be one of {', '.join(map(str, action.choices))}")
    if isinstance(action, argparse._AppendAction):
        return [value]
    return value


def _set_defaults(
    parser: argparse.ArgumentParser,
    options: list[Option],
    args: Sequence[str],
    unknown: Callable[[Option], str],
    invalid: Callable[[Option, str], str],
) -> None:
    shorthands = {s for a in parser._actions if (s := _shorthand(a))}
    for option in options:
        action = _flag(parser, option.name)
        if action is None:
            raise KubercError(unknown(option))
        if given_in_args(option.name, _shorthand(action), shorthands, args):
            continue
        try:
            action.default = _value(action, option.default)
        except ValueError as e:
            message = f'invalid argument "{option.default}" for "{_flag_names(action)}" flag: {e}'
            raise KubercError(invalid(option, message)) from e


def _command_index(argv: Sequence[str]) -> int | None:
    """Where the command (or alias) name is: the first argument that is not a flag."""
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            return i
    return None


def apply_preference(
    preference: Preference,
    argv: list[str],
    commands: Mapping[str, argparse.ArgumentParser],
    builtins: set[str],
    warn: Callable[[str], None],
) -> list[str]:
    """Expand an alias and set the kuberc defaults on the command's parser; the new argv.

    `commands` are the kubectl-like commands' parsers, `builtins` every command name kubelite
    has (an alias never shadows one).
    """
    validate(preference)
    index = _command_index(argv)
    if index is None:
        return argv
    name = argv[index]
    used_alias: str | None = None
    if name not in builtins:
        for alias in preference.aliases:
            if alias.name != name:
                continue
            words = alias.command.split()
            if len(words) != 1 or words[0] not in commands:
                raise KubercError(
                    f'command "{alias.command}" not found to set alias "{alias.name}": '
                    f"[{' '.join(words)}]"
                )
            target = commands[words[0]]

            def unknown_alias_flag(option: Option) -> str:
                return f"invalid alias flag {option.name} in alias {name}"

            def invalid_alias_value(option: Option, err: str) -> str:
                return (
                    f"could not apply value {option.default} to flag {option.name} in alias "
                    f"{name} err: {err}"
                )

            _set_defaults(target, alias.options, argv, unknown_alias_flag, invalid_alias_value)
            argv = [
                *argv[:index],
                words[0],
                *alias.prepend_args,
                *argv[index + 1 :],
                *alias.append_args,
            ]
            used_alias = name
            break
        else:
            return argv
    for defaults in preference.defaults:
        words = defaults.command.split()
        if used_alias is not None and words == [used_alias]:
            raise KubercError(f"alias {used_alias} can not be overridden")
        if len(words) != 1 or words[0] not in commands:
            if not words or words[0] not in KUBECTL_COMMANDS:
                warn(f'Warning: command "{defaults.command}" not found to set kuberc override')
            continue
        if used_alias is not None or words[0] != name:
            continue
        where = defaults.command

        def unknown_flag(option: Option, where: str = where) -> str:
            return f"invalid flag {option.name} for command {where}"

        def invalid_value(option: Option, err: str, where: str = where) -> str:
            return (
                f"could not apply override value {option.default} to flag {option.name} in "
                f"command {where} err: {err}"
            )

        _set_defaults(commands[name], defaults.options, argv, unknown_flag, invalid_value)
    return argv


def apply(
    argv: list[str],
    commands: Mapping[str, argparse.ArgumentParser],
    builtins: set[str],
    warn: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Load the user's kuberc (unless turned off) and apply it to the command line."""
    env = os.environ if environ is None else environ
    if not argv or not enabled(env):
        return argv
    index = _command_index(argv)
    if index is not None and argv[index] in builtins and argv[index] not in commands:
        # A cluster command (`kubelite server`): kuberc is kubectl's.
        return argv
    preference = load(explicit_path(argv), env, warn)
    if preference is None:
        return argv
    return apply_preference(preference, argv, commands, builtins, warn)
