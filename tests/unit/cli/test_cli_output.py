"""Printing like kubectl: Go's tabwriter layout, cells, names, JSON and YAML."""

from __future__ import annotations

import io

import pytest
import yaml

from kubelite.cli import output
from kubelite.cli.output import TabWriter


def format_table(rows: list[list[str]], *, min_width: int, padding: int) -> str:
    out = io.StringIO()
    writer = TabWriter(out, min_width=min_width, padding=padding)
    writer.write("".join("\t".join(row) + "\n" for row in rows))
    writer.flush()
    return out.getvalue()


def get_table(rows: list[list[str]]) -> str:
    return format_table(rows, min_width=output.GET_MIN_WIDTH, padding=output.GET_PADDING)


def test_columns_are_as_wide_as_their_widest_cell_plus_three():
    assert get_table(
        [["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["myapp-pod", "0/1", "Pending", "0", "3m"]]
    ) == (
        "NAME        READY   STATUS    RESTARTS   AGE\n"
        "myapp-pod   0/1     Pending   0          3m\n"
    )


def test_narrow_columns_take_the_minimum_width_and_the_last_cell_is_not_padded():
    assert get_table([["IP", "X"], ["-", "a-long-last-cell"]]) == (
        "IP    X\n-     a-long-last-cell\n"
    )


def test_an_empty_last_column_still_pads_the_one_before():
    # kubectl -L with a label the object lacks: the APP cell is padded, the TIER cell empty.
    assert get_table([["APP", "TIER"], ["myapp", ""]]) == "APP     TIER\nmyapp   \n"


def test_a_line_without_tabs_ends_a_column_block():
    text = format_table(
        [["Name:", "web"], ["Containers:"], ["  app:", "x"], ["Image:", "nginx"]],
        min_width=0,
        padding=2,
    )
    assert text == "Name:  web\nContainers:\n  app:  x\nImage:  nginx\n"


def test_remembered_widths_keep_watch_rows_aligned():
    out = io.StringIO()
    writer = TabWriter(out, min_width=6, padding=3, remember_widths=True)
    writer.write("NAME\tAGE\nweb\t1s\n")
    writer.flush()
    writer.write("a\t2s\n")
    writer.flush()
    assert out.getvalue() == "NAME   AGE\nweb    1s\na      2s\n"
    writer.forget_widths()
    writer.write("a-much-longer-name\t3s\n")
    writer.flush()
    assert out.getvalue().endswith("a-much-longer-name   3s\n")


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        ("Running", "Running"),
        ("first line\nsecond", "first line..."),
        (0, "0"),
        (3, "3"),
        (1.5, "1.5"),
        (2.0, "2"),
        (True, "true"),
        (None, ""),
    ],
)
def test_cells_print_as_kubectl_prints_them(cell: object, text: str):
    assert output.format_cell(cell) == text


def test_names():
    assert output.object_name("Pod", "", "web") == "pod/web"
    assert output.object_name("Deployment", "apps", "web") == "deployment.apps/web"
    assert output.format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert output.format_labels({}) == "<none>"


def test_json_is_go_json():
    assert (
        output.go_json({"b": "x&<y>", "a": [1, {}]}) == '{"a":[1,{}],"b":"x\\u0026\\u003cy\\u003e"}'
    )
    assert output.to_json({"a": {}}) == '{\n    "a": {}\n}\n'


def test_yaml_is_go_yaml():
    text = output.to_yaml(
        {
            "spec": {"containers": [{"name": "a", "args": ["sh", "-c"]}]},
            "metadata": {
                "x10": 1,
                "x9": 2,
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "note": "two\nlines\n",
                "empty": "",
                "flag": "true",
            },
        }
    )
    assert text == (
        "metadata:\n"
        '  creationTimestamp: "2026-01-01T00:00:00Z"\n'
        '  empty: ""\n'
        '  flag: "true"\n'
        "  note: |\n"
        "    two\n"
        "    lines\n"
        "  x9: 2\n"
        "  x10: 1\n"
        "spec:\n"
        "  containers:\n"
        "  - args:\n"
        "    - sh\n"
        "    - -c\n"
        "    name: a\n"
    )
    assert yaml.safe_load(text)["metadata"]["note"] == "two\nlines\n"


def test_yaml_keys_put_symbols_before_letters():
    assert output.to_yaml({"containers": 1, "$setElementOrder/containers": 2}).startswith("$set")


def test_list_wrapper():
    assert output.as_list([]) == {
        "apiVersion": "v1",
        "items": [],
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }
