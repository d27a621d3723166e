"""kuberc in kubelite's kubectl-like commands, as kubectl 1.37.1 applies it.

The messages are kubectl 1.37.1's own, seen running it with the same files (the one difference:
kubelite ends its warnings with a newline, which kubectl leaves out).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubelite.cli import main
from kubelite.cli.kubectl import kuberc

BETA = "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"


def _parsers() -> tuple[dict[str, argparse.ArgumentParser], set[str]]:
    parsers = main.command_parsers(main.build_parser())
    kubectl = {c.name for c in main.KUBECTL_COMMANDS}
    return {n: p for n, p in parsers.items() if n in kubectl}, set(parsers)


def _parse(argv: list[str], preference: kuberc.Preference) -> tuple[argparse.Namespace, list[str]]:
    """Apply the preference to fresh parsers and parse the resulting command line."""
    parser = main.build_parser()
    parsers = main.command_parsers(parser)
    kubectl = {n: p for n, p in parsers.items() if n in {c.name for c in main.KUBECTL_COMMANDS}}
    warnings: list[str] = []
    argv = kuberc.apply_preference(preference, argv, kubectl, set(parsers), warnings.append)
    return parser.parse_args(argv), warnings


def _pref(text: str) -> kuberc.Preference:
    preference, strict = kuberc.decode(BETA + text, "kuberc")
    assert preference is not None and strict is None
    return preference


GET_WIDE = _pref("defaults:\n- command: get\n  options:\n  - {name: output, default: wide}\n")


# --- the file -----------------------------------------------------------------------------


def test_a_beta_file_is_read() -> None:
    preference = _pref(
        "defaults:\n- command: get\n  options:\n  - {name: output, default: json}\n"
        "aliases:\n- name: getn\n  command: get\n  prependArgs: [nodes]\n"
        "  appendArgs: [-A]\n  options:\n  - {name: show-labels, default: true}\n"
    )
    assert preference == kuberc.Preference(
        defaults=[kuberc.CommandDefaults("get", [kuberc.Option("output", "json")])],
        aliases=[
            kuberc.Alias("getn", "get", ["nodes"], ["-A"], [kuberc.Option("show-labels", "true")])
        ],
    )


def test_an_alpha_file_names_its_lists_overrides_and_flags() -> None:
    text = (
        "apiVersion: kubectl.config.k8s.io/v1alpha1\nkind: Preference\n"
        "overrides:\n- command: get\n  flags:\n  - {name: output, default: name}\n"
    )
    preference, _ = kuberc.decode(text, "kuberc")
    assert preference == kuberc.Preference(
        defaults=[kuberc.CommandDefaults("get", [kuberc.Option("output", "name")])]
    )


def test_the_first_usable_document_is_taken() -> None:
    text = "apiVersion: v1\nkind: Other\n---\n" + BETA + "aliases: []\n---\n" + BETA
    preference, strict = kuberc.decode(text, "kuberc")
    assert preference == kuberc.Preference() and strict is None


def test_unknown_fields_are_a_strict_error_only() -> None:
    preference, strict = kuberc.decode(
        BETA + "bogus: 1\ndefaults:\n- command: get\n  extra: x\n", "kuberc"
    )
    assert preference == kuberc.Preference(defaults=[kuberc.CommandDefaults("get")])
    assert strict == (
        'strict decoding error: unknown field "bogus", unknown field "defaults[0].extra"'
    )


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Other\n",
        "not: [valid",
        BETA + "defaults: nope\n",
        "kind: Preference\n",
    ],
)
def test_a_file_without_a_usable_preference_is_an_error(text: str) -> None:
    with pytest.raises(kuberc.KubercError) as failed:
        kuberc.decode(text, "rc.yaml")
    assert str(failed.value) == "no valid preferences found in rc.yaml, use --v=5 to see details"


def test_an_empty_file_has_no_preferences() -> None:
    assert kuberc.decode("\n---\n", "rc") == (None, None)


# --- which file -----------------------------------------------------------------------------


def _load(tmp_path: Path, explicit: str | None = None, **env: str) -> tuple[object, list[str]]:
    warnings: list[str] = []
    environ = {"HOME": str(tmp_path), **env}
    return kuberc.load(explicit, environ, warnings.append), warnings


def test_the_home_file_is_read_and_may_be_missing_or_broken(tmp_path: Path) -> None:
    assert _load(tmp_path) == (None, [])
    (tmp_path / ".kube").mkdir()
    home_file = tmp_path / ".kube" / "kuberc"
    home_file.write_text("not: [valid")
    assert _load(tmp_path) == (
        None,
        [
            f"kuberc: no preferences loaded from {home_file}: no valid preferences found in "
            f"{home_file}, use --v=5 to see details"
        ],
    )
    home_file.write_text(BETA + "bogus: 1\n")
    assert _load(tmp_path) == (
        kuberc.Preference(),
        [f'kuberc: ignoring strict decoding error in {home_file}: strict decoding error: '
         'unknown field "bogus"'],
    )  # fmt: skip


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    for explicit, env in ((None, {"KUBERC": "nope.yaml"}), ("nope.yaml", {})):
        with pytest.raises(kuberc.KubercError) as failed:
            _load(tmp_path, explicit, **env)
        assert str(failed.value) == (
            "kuberc error kuberc: open nope.yaml: no such file or directory"
        )


def test_the_flag_wins_over_kuberc_and_home(tmp_path: Path) -> None:
    (tmp_path / "flag").write_text(BETA + "aliases: [{name: a, command: get}]\n")
    (tmp_path / "env").write_text(BETA)
    preference, _ = _load(tmp_path, str(tmp_path / "flag"), KUBERC=str(tmp_path / "env"))
    assert preference == kuberc.Preference(aliases=[kuberc.Alias("a", "get")])


def test_kuberc_off(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "kuberc").write_text("broken: [")
    assert _load(tmp_path, KUBERC="off") == (None, [])
    with pytest.raises(kuberc.KubercError) as failed:
        _load(tmp_path, "x", KUBERC="off")
    assert "mutually exclusive" in str(failed.value)


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["get", "pods", "--kuberc", "a"], "a"),
        (["get", "--kuberc=b", "pods"], "b"),
        (["exec", "p", "--", "--kuberc", "c"], None),
        (["get", "pods"], None),
    ],
)
def test_the_kuberc_flag_is_found_before_parsing(argv: list[str], path: str | None) -> None:
    assert kuberc.explicit_path(argv) == path


@pytest.mark.parametrize("argv", [["get", "--kuberc"], ["get", "--kuberc="]])
def test_a_kuberc_flag_without_a_file(argv: list[str]) -> None:
    with pytest.raises(kuberc.KubercError, match=r"^kuberc file is not found$"):
        kuberc.explicit_path(argv)


def test_the_gate() -> None:
    assert kuberc.enabled({})
    assert not kuberc.enabled({"KUBECTL_KUBERC": "False"})
    assert kuberc.enabled({"KUBECTL_KUBERC": "0"})


# --- applying it ----------------------------------------------------------------------------


def test_a_default_applies_unless_the_flag_is_given() -> None:
    assert _parse(["get", "pods"], GET_WIDE)[0].output == "wide"
    for given in (["-o", "json"], ["-ojson"], ["--output=json"], ["--output", "json"]):
        assert _parse(["get", "pods", *given], GET_WIDE)[0].output == "json"


def test_defaults_of_other_commands_do_not_apply() -> None:
    args, warnings = _parse(["describe", "pods"], GET_WIDE)
    assert args.command == "describe" and warnings == []


def test_boolean_and_list_defaults() -> None:
    preference = _pref(
        "defaults:\n- command: get\n  options:\n  - {name: show-labels, default: 'true'}\n"
        "  - {name: label-columns, default: app}\n"
    )
    args, _ = _parse(["get", "pods"], preference)
    assert args.show_labels is True and args.label_columns == ["app"]
    args, _ = _parse(["get", "pods", "-L", "tier"], preference)
    assert args.label_columns == ["tier"]


def test_an_alias_expands_with_its_arguments_and_options() -> None:
    preference = _pref(
        "aliases:\n- name: getn\n  command: get\n  prependArgs: [nodes]\n"
        "  appendArgs: [--show-labels]\n  options:\n  - {name: output, default: wide}\n"
        "defaults:\n- command: get\n  options:\n  - {name: output, default: json}\n"
    )
    args, _ = _parse(["getn", "n1"], preference)
    # The defaults of `get` do not apply to its alias.
    assert (args.command, args.resources, args.show_labels, args.output) == (
        "get", ["nodes", "n1"], True, "wide"
    )  # fmt: skip
    assert _parse(["getn", "-o", "name"], preference)[0].output == "name"


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        (
            "defaults:\n- command: get\n  options:\n  - {name: nosuch, default: x}\n",
            ["get", "pods"],
            "invalid flag nosuch for command get",
        ),
        (
            "defaults:\n- command: get\n  options:\n  - {name: show-labels, default: maybe}\n",
            ["get", "pods"],
            "could not apply override value maybe to flag show-labels in command get err: "
            'invalid argument "maybe" for "--show-labels" flag: strconv.ParseBool: parsing '
            '"maybe": invalid syntax',
        ),
        (
            "aliases:\n- {name: cm, command: nosuch thing}\n",
            ["cm", "a"],
            'command "nosuch thing" not found to set alias "cm": [nosuch thing]',
        ),
        (
            "aliases:\n- name: ga\n  command: get\n  options:\n  - {name: nosuch, default: x}\n",
            ["ga"],
            "invalid alias flag nosuch in alias ga",
        ),
        (
            "aliases:\n- {name: ga, command: get}\ndefaults:\n- {command: ga}\n",
            ["ga"],
            "alias ga can not be overridden",
        ),
        (
            "aliases:\n- {name: my-alias, command: get}\n",
            ["get"],
            "invalid alias name, can only include alphabetical characters",
        ),
        (
            "aliases:\n- {name: a, command: get}\n- {name: a, command: describe}\n",
            ["get"],
            "duplicate alias name a",
        ),
        (
            "defaults:\n- command: get\n  options:\n  - {name: -o, default: x}\n",
            ["get"],
            "flag name -o should be in long form without dashes",
        ),
    ],
)
def test_mistakes_in_the_file(text: str, argv: list[str], message: str) -> None:
    with pytest.raises(kuberc.KubercError) as failed:
        _parse(argv, _pref(text))
    assert str(failed.value) == message


def test_defaults_for_unknown_commands() -> None:
    preference = _pref(
        "defaults:\n- command: nosuch\n- command: create configmap\n  options:\n"
        "  - {name: output, default: name}\n- command: run\n"
    )
    # kubectl knows `create configmap` and `run`; kubelite has neither and skips them.
    assert _parse(["get", "pods"], preference)[1] == [
        'Warning: command "nosuch" not found to set kuberc override'
    ]


def test_cluster_commands_ignore_kuberc(tmp_path: Path) -> None:
    (tmp_path / "rc").write_text("broken: [")
    commands, builtins = _parsers()
    argv = ["server", "--kuberc", "x"]
    env = {"KUBERC": str(tmp_path / "rc"), "HOME": str(tmp_path)}
    assert kuberc.apply(argv, commands, builtins, print, env) == argv


def test_main_reports_a_broken_kuberc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rc").write_text(BETA + "aliases:\n- {name: a-b, command: get}\n")
    monkeypatch.setenv("KUBERC", str(tmp_path / "rc"))
    monkeypatch.delenv("KUBECTL_KUBERC", raising=False)
    assert main.main(["get", "pods"]) == 1
    assert capsys.readouterr().err == (
        "error occurred while applying preferences invalid alias name, can only include "
        "alphabetical characters\n"
    )
