"""`valueFrom.fileKeyRef`: the env file format of Kubernetes 1.35+ (pkg/kubelet/util/env
ParseEnv), the secure join of the file's path under its volume, and the values and errors the
kubelet's makeEnvironmentVariables gives a container."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from kubelite.kubelet import envfile
from kubelite.kubelet.envvars import ConfigError, container_env, file_key_value

Obj = dict[str, Any]


def _parse(text: str, key: str) -> str:
    return envfile.parse_env(envfile._lines(text.encode()), key)


PARSES = [
    ("single-quoted value", "DB='postgres'\n", "DB", "postgres"),
    ("leading blanks are ignored", "   \tDB='postgres'\n", "DB", "postgres"),
    ("blank and comment lines", "# the db\n\n   # again\n\t\nDB='pg'\n", "DB", "pg"),
    ("the value is literal", "V='$HOME ${X} \\n \"q\" #x'\n", "V", '$HOME ${X} \\n "q" #x'),
    ("a comment after the closing quote", "DB='pg' # the db\n", "DB", "pg"),
    ("blanks after the closing quote", "DB='pg'   \t\n", "DB", "pg"),
    ("multi-line values keep their newlines", "M='a\n  b\n\nc'\nX='y'\n", "M", "a\n  b\n\nc"),
    ("a blank after '=' assigns the empty string", "DB= 'pg'\n", "DB", ""),
    ("an empty quoted value", "DB=''\n", "DB", ""),
    ("a missing key is empty", "A='1'\nB='2'\n", "C", ""),
    ("the first assignment wins", "DB='one'\nDB='two'\n", "DB", "one"),
    ("later lines are not read once the key is found", "DB='pg'\nbroken line\n", "DB", "pg"),
    ("an '=' inside the value", "U='a=b=c'\n", "U", "a=b=c"),
    ("no newline at the end", "DB='pg'", "DB", "pg"),
    ("CRLF line ends", "A='1'\r\nDB='pg'\r\n", "DB", "pg"),
    ("names are matched exactly", "db='low'\nDB='up'\n", "DB", "up"),
]


@pytest.mark.parametrize(
    ("text", "key", "value"), [p[1:] for p in PARSES], ids=[p[0] for p in PARSES]
)
def test_env_file_values(text: str, key: str, value: str) -> None:
    assert _parse(text, key) == value


REFUSALS = [
    ("an unquoted value", "DB=postgres\n", "at line 1: value must be enclosed in single quotes"),
    ("a double-quoted value", 'DB="pg"\n', "at line 1: value must be enclosed in single quotes"),
    ("a line without '='", "A='1'\nDB\n", "at line 2: missing '='"),
    ("an empty name", "='pg'\n", "at line 1: empty variable name"),
    ("a blank before '='", "DB ='pg'\n", "at line 1: whitespace before '=' is not allowed"),
    ("adjacent quoted strings", "DB='a''b'\n", "at line 1: unexpected content after closing quote"),
    ("an expansion after the quote", "DB='a'$X\n", "at line 1: unexpected content after closing"),
    ("an unclosed quote", "A='1'\nDB='pg\nmore\n", "starting at line 2: unclosed single quote"),
]


@pytest.mark.parametrize(
    ("text", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_env_file_refusals(text: str, message: str) -> None:
    # The whole file is checked up to the key: a bad line before it fails the lookup.
    with pytest.raises(envfile.EnvFileError, match="invalid environment variable format") as e:
        _parse(text, "NOT_THERE")
    assert message in str(e.value)


def test_line_numbers_count_the_lines_of_multi_line_values() -> None:
    with pytest.raises(envfile.EnvFileError) as e:
        _parse("M='a\nb\nc'\nbroken\n", "X")
    assert "at line 4: missing '='" in str(e.value)


def test_a_line_longer_than_bufio_scanner_takes_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "big.env"
    path.write_text("A='" + "x" * (64 * 1024) + "'\n")
    with pytest.raises(envfile.EnvFileError, match="error reading environment variable file"):
        envfile.read_env_key(path, "A")


# --- secure join --------------------------------------------------------------------------------


def test_secure_join_keeps_dot_dot_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    root.mkdir()
    assert envfile.secure_join(root, "a/b.env") == root / "a/b.env"
    assert envfile.secure_join(root, "../../etc/passwd") == root / "etc/passwd"
    assert envfile.secure_join(root, "a/../../x") == root / "x"
    assert envfile.secure_join(root, "./a//b") == root / "a/b"


def test_secure_join_follows_symlinks_within_the_root(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    (root / "real").mkdir(parents=True)
    os.symlink("/etc", root / "abs")  # an absolute target starts over from the root
    os.symlink("../../../../outside", root / "rel")
    os.symlink("real", root / "dir")
    assert envfile.secure_join(root, "abs/passwd") == root / "etc/passwd"
    assert envfile.secure_join(root, "rel/x.env") == root / "outside/x.env"
    assert envfile.secure_join(root, "dir/x.env") == root / "real/x.env"


def test_secure_join_gives_up_on_a_symlink_loop(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    root.mkdir()
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    with pytest.raises(OSError, match="too many levels of symbolic links"):
        envfile.secure_join(root, "a/x")


# --- the kubelet's values and errors ------------------------------------------------------------


def _ref(**fields: Any) -> Obj:
    return {"volumeName": "env", "path": "config.env", "key": "DB", **fields}


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    root = tmp_path / "volumes" / "kubernetes.io~empty-dir" / "env"
    root.mkdir(parents=True)
    return root


def test_the_selected_key(volume: Path) -> None:
    (volume / "config.env").write_text("# written by init\nUSER='app'\nDB='postgres'\n")
    assert file_key_value(_ref(), {"env": volume}) == "postgres"


def test_a_missing_required_key_names_the_key_and_the_file(volume: Path) -> None:
    (volume / "config.env").write_text("USER='app'\n")
    with pytest.raises(ConfigError) as e:
        file_key_value(_ref(optional=False), {"env": volume})
    assert str(e.value) == (
        f'environment variable key "DB" not found in file "{volume / "config.env"}"'
    )


def test_an_empty_value_counts_as_missing(volume: Path) -> None:
    (volume / "config.env").write_text("DB=''\n")
    with pytest.raises(ConfigError, match='environment variable key "DB" not found'):
        file_key_value(_ref(), {"env": volume})
    assert file_key_value(_ref(optional=True), {"env": volume}) is None


def test_a_missing_optional_key_defines_nothing(volume: Path) -> None:
    (volume / "config.env").write_text("USER='app'\n")
    assert file_key_value(_ref(optional=True), {"env": volume}) is None


@pytest.mark.parametrize("optional", [False, True])
def test_a_bad_or_missing_file_is_only_couldnt_parse(
    volume: Path, optional: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The details go to the kubelet's log, never to the pod's status (the file may hold
    secrets); `optional` does not help, as the kubelet checks it only for a missing key."""
    with pytest.raises(ConfigError) as e:
        file_key_value(_ref(optional=optional), {"env": volume})
    assert str(e.value) == "couldn't parse env file"
    assert "failed to open environment variable file" in caplog.text
    (volume / "config.env").write_text("DB=postgres\n")
    with pytest.raises(ConfigError) as e:
        file_key_value(_ref(optional=optional), {"env": volume})
    assert str(e.value) == "couldn't parse env file"
    assert "value must be enclosed in single quotes" in caplog.text


def test_a_volume_the_pod_does_not_have(volume: Path) -> None:
    with pytest.raises(ConfigError) as e:
        file_key_value(_ref(volumeName="other"), {"env": volume})
    assert str(e.value) == 'cannot find the volume "other" referenced by FileKeyRef'


def test_the_path_cannot_leave_the_volume(volume: Path, tmp_path: Path) -> None:
    (tmp_path / "volumes" / "secret.env").write_text("DB='host secret'\n")
    (volume / "secret.env").write_text("DB='inside'\n")
    os.symlink("../../secret.env", volume / "link.env")
    assert file_key_value(_ref(path="../secret.env"), {"env": volume}) == "inside"
    assert file_key_value(_ref(path="link.env"), {"env": volume}) == "inside"


def test_container_env_reads_file_keys_in_order(volume: Path) -> None:
    (volume / "config.env").write_text("DB='postgres'\nPORT='5432'\n")
    pod = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"volumes": [{"name": "env", "emptyDir": {}}]},
    }
    container = {
        "name": "app",
        "env": [
            {"name": "DB", "valueFrom": {"fileKeyRef": _ref()}},
            {"name": "MISSING", "valueFrom": {"fileKeyRef": _ref(key="NOPE", optional=True)}},
            {"name": "URL", "value": "$(DB):$(PORT)"},
            {"name": "PORT", "valueFrom": {"fileKeyRef": _ref(key="PORT")}},
        ],
    }

    class NoObjects:
        def config_map(self, namespace: str, name: str) -> None:
            return None

        def secret(self, namespace: str, name: str) -> None:
            return None

    made = asyncio.run(
        container_env(pod, container, lookup=NoObjects(), volume_paths={"env": volume})
    )
    # $(PORT) is not defined yet where URL is: it stays as written.
    assert made.env == [("DB", "postgres"), ("URL", "postgres:$(PORT)"), ("PORT", "5432")]
