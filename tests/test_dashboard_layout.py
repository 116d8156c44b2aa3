"""The dashboard's graph layout (``steps.dashboard.layout``), pure: small flows in, places and
paths out."""

import subprocess
import sys

import pytest

from steps.dashboard.layout import (
    GRID_COLUMNS,
    NODE_LINE_HEIGHT,
    NODE_TITLE_HEIGHT,
    NODE_WIDTH,
    PADDING,
    Box,
    Graph,
    Link,
    Node,
    layers,
    layout,
)


def boxes(*names: str) -> list[Box]:
    return [Box(name, "queue", ("queue t",)) for name in names]


def nodes_of(graph: Graph) -> dict[str, Node]:
    return {node.name: node for node in graph.nodes}


def below_all(y: float, graph: Graph) -> bool:
    return all(y > node.y + node.height for node in graph.nodes)


def test_a_step_goes_right_of_the_steps_that_link_to_it_and_unlinked_ones_below() -> None:
    graph = layout(
        boxes("A", "B", "C", "Lone"),
        [Link("A", "B", "x"), Link("B", "C", "y"), Link("A", "C", "z")],
    )
    nodes = nodes_of(graph)
    assert [n.name for n in graph.nodes] == ["A", "B", "C", "Lone"]  # the order given
    assert nodes["A"].x < nodes["B"].x < nodes["C"].x  # C is two layers in: the longest path
    assert nodes["Lone"].y > max(nodes[n].y + nodes[n].height for n in "ABC")
    assert nodes["Lone"].x == PADDING
    assert [e.label for e in graph.edges] == ["x", "y", "z"]
    assert graph.width == nodes["C"].x + NODE_WIDTH + PADDING
    assert graph.height >= nodes["Lone"].y + nodes["Lone"].height + PADDING


def test_forward_edges_run_from_the_right_of_one_node_to_the_left_of_the_next() -> None:
    graph = layout(boxes("A", "B"), [Link("A", "B", "x")])
    nodes = nodes_of(graph)
    (edge,) = graph.edges
    start, end = edge.path.split(" ")[0], edge.path.split(" ")[-1]
    assert start == f"M{nodes['A'].x + NODE_WIDTH:g},{nodes['A'].y + nodes['A'].height / 2:g}"
    assert end == f"{nodes['B'].x - 2:g},{nodes['B'].y + nodes['B'].height / 2:g}"
    assert nodes["A"].x + NODE_WIDTH < edge.label_x < nodes["B"].x


def test_topics_between_the_same_two_steps_share_one_arrow() -> None:
    graph = layout(
        boxes("A", "B", "C"),
        [
            Link("A", "B", "x", virtual=True),
            Link("A", "B", "y"),
            Link("A", "B", "y"),  # the same topic twice is named once
            Link("A", "C", "v", virtual=True),
            Link("A", "C", "w", virtual=True),
        ],
    )
    assert [(e.label, e.virtual) for e in graph.edges] == [("x, y", False), ("v, w", True)]


def test_a_cycle_is_broken_into_layers_and_its_closing_links_loop_underneath() -> None:
    graph = layout(
        boxes("A", "B"), [Link("A", "B", "b"), Link("B", "A", "a"), Link("A", "A", "again")]
    )
    nodes = nodes_of(graph)
    assert nodes["A"].x < nodes["B"].x  # two layers: the cycle is broken, not unrolled
    forward, back, self_loop = graph.edges
    assert not below_all(forward.label_y, graph)
    assert below_all(back.label_y, graph) and below_all(self_loop.label_y, graph)
    assert graph.height >= back.label_y + PADDING  # the loops' labels fit in the picture


def test_layers_follow_the_longest_path_and_ignore_the_link_closing_a_cycle() -> None:
    assert layers("ABCD", [("A", "B"), ("A", "C"), ("B", "D"), ("C", "D")]) == {
        "A": 0,
        "B": 1,
        "C": 1,
        "D": 2,
    }
    assert layers("ABC", [("A", "B"), ("B", "C"), ("A", "C")]) == {"A": 0, "B": 1, "C": 2}
    # A ring with a way in: it is entered from the source, and the link back to where it was
    # entered is the one left out.
    ring = [("S", "A"), ("A", "B"), ("B", "C"), ("C", "A")]
    assert layers("SABC", ring) == {"S": 0, "A": 1, "B": 2, "C": 3}
    assert layers("A", [("A", "A")]) == {"A": 0}


def test_a_layer_is_ordered_by_the_rows_of_the_steps_feeding_it() -> None:
    # A and B are the first layer, in that order; Y (fed by B) would come first by name.
    graph = layout(boxes("A", "B", "Y", "Z"), [Link("A", "Z", "z"), Link("B", "Y", "y")])
    nodes = nodes_of(graph)
    assert nodes["A"].y < nodes["B"].y
    assert nodes["Z"].y == nodes["A"].y and nodes["Y"].y == nodes["B"].y


def test_steps_with_no_edges_fill_a_grid_row_by_row() -> None:
    graph = layout(boxes("A", "B", "C", "D"), [])
    nodes = nodes_of(graph)
    assert GRID_COLUMNS == 3
    assert nodes["A"].y == nodes["B"].y == nodes["C"].y == PADDING
    assert nodes["A"].x < nodes["B"].x < nodes["C"].x
    assert (nodes["D"].x, nodes["D"].y > nodes["A"].y) == (PADDING, True)
    assert graph.edges == ()


def test_nodes_are_as_tall_as_the_step_with_most_lines_and_clip_long_text() -> None:
    name = "AStepNameFarTooLongForItsBox"
    graph = layout([Box(name, "http", ("GET /a", "x" * 40)), Box("B", "cron")], [])
    long, short = graph.nodes
    assert long.height == short.height == NODE_TITLE_HEIGHT + 2 * NODE_LINE_HEIGHT + 8
    assert long.label.endswith("…") and len(long.label) < len(name)
    assert [text for _, text in long.text_lines] == ["GET /a", "x" * 31 + "…"]
    assert long.title == f"{name}\nGET /a\n{'x' * 40}"  # the tooltip says it all


def test_an_empty_flow_is_an_empty_picture() -> None:
    assert layout([], []) == Graph((), (), PADDING, PADDING)


def test_a_link_to_a_step_not_given_is_refused() -> None:
    with pytest.raises(ValueError, match="Elsewhere"):
        layout(boxes("A"), [Link("A", "Elsewhere", "x")])


def test_the_layout_needs_no_django() -> None:
    code = (
        "import sys, steps.dashboard.layout\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
