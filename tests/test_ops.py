"""Update ops as pure functions: every op, its edge cases, and all-or-nothing failure."""

import copy
from collections import OrderedDict
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson
import pytest

from streams.storage.ops import UpdateOpError, apply_ops, copy_json


def test_set_replaces_and_creates_nested_objects() -> None:
    item = {"id": "a", "n": 1}
    result = apply_ops(item, [{"type": "set", "path": "meta.owner.name", "value": "ann"}])
    assert result == {"id": "a", "n": 1, "meta": {"owner": {"name": "ann"}}}
    assert item == {"id": "a", "n": 1}, "the input is never changed"


def test_set_on_missing_item_starts_from_empty() -> None:
    assert apply_ops(None, [{"type": "set", "path": "x", "value": [1, 2]}]) == {"x": [1, 2]}


def test_set_requires_path_and_value() -> None:
    with pytest.raises(UpdateOpError, match="'path' is required"):
        apply_ops({}, [{"type": "set", "value": 1}])
    with pytest.raises(UpdateOpError, match="'value' is required"):
        apply_ops({}, [{"type": "set", "path": "x"}])


def test_set_through_a_non_object_fails() -> None:
    with pytest.raises(UpdateOpError, match="'name' is not an object"):
        apply_ops({"name": "x"}, [{"type": "set", "path": "name.first", "value": "a"}])


def test_merge_into_path_creates_the_object() -> None:
    # The example CompleteTodo merges into `metadata`, which does not exist yet.
    result = apply_ops(
        {"id": "t"}, [{"type": "merge", "path": "metadata", "value": {"completedBy": "u"}}]
    )
    assert result == {"id": "t", "metadata": {"completedBy": "u"}}


def test_merge_is_shallow_and_keeps_other_fields() -> None:
    item = {"m": {"a": 1, "b": {"x": 1}}}
    result = apply_ops(item, [{"type": "merge", "path": "m", "value": {"b": {"y": 2}, "c": 3}}])
    assert result == {"m": {"a": 1, "b": {"y": 2}, "c": 3}}


def test_merge_without_path_merges_into_the_root() -> None:
    assert apply_ops({"a": 1}, [{"type": "merge", "value": {"b": 2}}]) == {"a": 1, "b": 2}


def test_merge_into_a_list_or_with_a_non_object_fails() -> None:
    with pytest.raises(UpdateOpError, match="not an object"):
        apply_ops({"tags": []}, [{"type": "merge", "path": "tags", "value": {"a": 1}}])
    with pytest.raises(UpdateOpError, match="must be an object"):
        apply_ops({}, [{"type": "merge", "path": "m", "value": [1]}])


def test_increment_and_decrement() -> None:
    ops: list[dict[str, Any]] = [
        {"type": "increment", "path": "count"},
        {"type": "increment", "path": "count", "by": 5},
        {"type": "decrement", "path": "count", "by": 2},
        {"type": "decrement", "path": "stats.left"},
        {"type": "increment", "path": "ratio", "by": 0.5},
    ]
    assert apply_ops({}, ops) == {"count": 4, "stats": {"left": -1}, "ratio": 0.5}


def test_increment_of_a_string_or_by_a_non_number_fails() -> None:
    with pytest.raises(UpdateOpError, match="not a number"):
        apply_ops({"count": "3"}, [{"type": "increment", "path": "count"}])
    with pytest.raises(UpdateOpError, match="'by' must be a number"):
        apply_ops({}, [{"type": "increment", "path": "count", "by": "2"}])
    with pytest.raises(UpdateOpError, match="not a number"):
        apply_ops({"flag": True}, [{"type": "increment", "path": "flag"}])


def test_remove_deletes_and_ignores_missing_paths() -> None:
    item = {"a": 1, "m": {"b": 2, "c": 3}}
    ops = [
        {"type": "remove", "path": "m.b"},
        {"type": "remove", "path": "nope"},
        {"type": "remove", "path": "x.y.z"},
    ]
    assert apply_ops(item, ops) == {"a": 1, "m": {"c": 3}}


def test_ops_apply_in_order() -> None:
    ops: list[dict[str, Any]] = [
        {"type": "set", "path": "n", "value": 10},
        {"type": "increment", "path": "n", "by": 1},
        {"type": "remove", "path": "n"},
        {"type": "increment", "path": "n"},
    ]
    assert apply_ops({}, ops) == {"n": 1}


def test_a_failing_op_fails_the_whole_update_and_names_the_op() -> None:
    item = {"count": 1, "name": "x"}
    with pytest.raises(UpdateOpError, match=r"^op 1: ") as caught:
        apply_ops(
            item, [{"type": "increment", "path": "count"}, {"type": "increment", "path": "name"}]
        )
    assert caught.value.index == 1
    assert item == {"count": 1, "name": "x"}


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ({"type": "set", "path": "a", "value": 1}, "must be a list"),
        ("set", "must be a list"),
        ([{"type": "rename", "path": "a"}], "unknown op type 'rename'"),
        (["set"], "must be an object"),
        ([{"type": "set", "path": "a..b", "value": 1}], "empty segment"),
        ([{"type": "set", "path": 3, "value": 1}], "'path' must be a string"),
    ],
)
def test_malformed_ops_are_clear_errors(ops: object, message: str) -> None:
    with pytest.raises(UpdateOpError, match=message):
        apply_ops({}, ops)  # type: ignore[arg-type]  # malformed on purpose


# --- paths as lists of segments -------------------------------------------------------------


def test_a_path_may_be_a_list_of_segments_each_a_literal_key() -> None:
    item = {"stats": {"views": 1}}
    ops: list[dict[str, Any]] = [
        {"type": "increment", "path": ["stats", "views"]},
        {"type": "set", "path": ["a.b"], "value": 1},
        {"type": "set", "path": ("deep", "er"), "value": 2},
        {"type": "merge", "path": ["meta", "by.user"], "value": {"x": 1}},
    ]
    assert apply_ops(item, ops) == {
        "stats": {"views": 2},
        "a.b": 1,
        "deep": {"er": 2},
        "meta": {"by.user": {"x": 1}},
    }
    removed = apply_ops({"a.b": 1, "a": {"b": 2}}, [{"type": "remove", "path": ["a.b"]}])
    assert removed == {"a": {"b": 2}}, "the key named a.b goes, a.b walked into stays"
    dotted = apply_ops({"a.b": 1, "a": {"b": 2}}, [{"type": "remove", "path": "a.b"}])
    assert dotted == {"a.b": 1, "a": {}}, "a dotted string walks into a, then b"


def test_an_empty_list_is_the_root_for_merge_and_missing_for_the_others() -> None:
    assert apply_ops({"a": 1}, [{"type": "merge", "path": [], "value": {"b": 2}}]) == {
        "a": 1,
        "b": 2,
    }
    with pytest.raises(UpdateOpError, match="'path' is required"):
        apply_ops({}, [{"type": "set", "path": [], "value": 1}])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (["a", ""], "empty segment"),
        (["a", 1], "'path' must be a string or a list of strings"),
        ({"a": 1}, "'path' must be a string or a list of strings"),
    ],
)
def test_malformed_segment_lists_are_clear_errors(path: Any, message: str) -> None:
    with pytest.raises(UpdateOpError, match=message):
        apply_ops({}, [{"type": "set", "path": path, "value": 1}])


def test_errors_name_a_segment_list_that_holds_dots_as_a_list() -> None:
    with pytest.raises(UpdateOpError, match=r"cannot increment \"\['a.b'\]\": it is not a number"):
        apply_ops({"a.b": "x"}, [{"type": "increment", "path": ["a.b"]}])


# --- append ---------------------------------------------------------------------------------


def test_append_adds_one_element_to_the_list() -> None:
    item = {"tags": ["a"], "log": {"events": []}}
    ops: list[dict[str, Any]] = [
        {"type": "append", "path": "tags", "value": "b"},
        {"type": "append", "path": "tags", "value": ["c", "d"]},  # one element, a list
        {"type": "append", "path": ["log", "events"], "value": {"kind": "start"}},
    ]
    assert apply_ops(item, ops) == {
        "tags": ["a", "b", ["c", "d"]],
        "log": {"events": [{"kind": "start"}]},
    }
    assert item == {"tags": ["a"], "log": {"events": []}}, "the input is never changed"


def test_append_creates_a_missing_or_null_list() -> None:
    ops: list[dict[str, Any]] = [
        {"type": "append", "path": "a.b", "value": "first"},
        {"type": "append", "path": "n", "value": 1},
    ]
    assert apply_ops({"n": None}, ops) == {"a": {"b": ["first"]}, "n": [1]}


@pytest.mark.parametrize("target", ["text", 3, {"k": 1}, True])
def test_append_to_anything_but_a_list_fails_and_changes_nothing(target: Any) -> None:
    item = {"count": 1, "x": target}
    refused = r"^op 1: cannot append to 'x': it is a \w+, not a list"
    with pytest.raises(UpdateOpError, match=refused):
        apply_ops(
            item,
            [{"type": "increment", "path": "count"}, {"type": "append", "path": "x", "value": "y"}],
        )
    assert item == {"count": 1, "x": target}


def test_append_requires_path_and_value() -> None:
    with pytest.raises(UpdateOpError, match="'path' is required"):
        apply_ops({}, [{"type": "append", "value": 1}])
    with pytest.raises(UpdateOpError, match="'value' is required"):
        apply_ops({}, [{"type": "append", "path": "x"}])


# --- the item is copied, never changed --------------------------------------------------------


def test_ops_on_nested_values_leave_the_old_item_as_it_was() -> None:
    stored = b'{"id":"a","n":1,"r":0.5,"m":{"k":{"c":2},"tags":["x",{"y":1}]},"z":null,"b":true}'
    item = orjson.loads(stored)  # as the store reads it
    ops: list[dict[str, Any]] = [
        {"type": "increment", "path": "m.k.c", "by": 3},
        {"type": "decrement", "path": "r", "by": 0.25},
        {"type": "append", "path": "m.tags", "value": "w"},
        {"type": "merge", "path": "m.k", "value": {"d": [1]}},
        {"type": "set", "path": "m.new.deep", "value": {"v": 1}},
        {"type": "remove", "path": "n"},
    ]
    result = apply_ops(item, ops)
    assert item == orjson.loads(stored), "the input is never changed"
    assert result == {
        "id": "a",
        "r": 0.25,
        "m": {"k": {"c": 5, "d": [1]}, "tags": ["x", {"y": 1}, "w"], "new": {"deep": {"v": 1}}},
        "z": None,
        "b": True,
    }
    assert result["m"]["tags"][1] is not item["m"]["tags"][1], "nested values are copies"
    result["m"]["tags"][1]["y"] = 2
    assert item["m"]["tags"][1] == {"y": 1}


def test_numbers_keep_their_type() -> None:
    item = {"i": 1, "f": 1.5, "d": Decimal("1.5"), "q": Fraction(1, 3)}
    ops = [{"type": "increment", "path": key, "by": 1} for key in item]
    result = apply_ops(item, ops)
    assert result == {"i": 2, "f": 2.5, "d": Decimal("2.5"), "q": Fraction(4, 3)}
    assert [type(value) for value in result.values()] == [int, float, Decimal, Fraction]
    with pytest.raises(UpdateOpError, match="'by' must be a number"):
        apply_ops({}, [{"type": "increment", "path": "n", "by": False}])


def test_copy_json_copies_dicts_and_lists_and_deep_copies_other_types() -> None:
    value: dict[str, Any] = {"a": [1, 2.5, "s", None, True, {"b": []}], "c": {}}
    copied = copy_json(value)
    assert copied == value
    assert copied is not value and copied["a"] is not value["a"]
    assert copied["a"][5] is not value["a"][5] and copied["a"][5]["b"] is not value["a"][5]["b"]
    # Anything that is not plain JSON (here a tuple, a set, an OrderedDict) is deepcopy's.
    other: dict[str, Any] = {"t": (1, [2]), "s": {3}, "o": OrderedDict(k=[4])}
    copied = copy_json(other)
    assert copied == copy.deepcopy(other)
    assert type(copied["o"]) is OrderedDict
    assert copied["t"][1] is not other["t"][1] and copied["o"]["k"] is not other["o"]["k"]
    assert copied["s"] is not other["s"]
