"""Update ops as pure functions: every op, its edge cases, and all-or-nothing failure."""

from typing import Any

import pytest

from streams.ops import UpdateOpError, apply_ops


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
    # The seed's CompleteTodo merges into `metadata`, which does not exist yet.
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
