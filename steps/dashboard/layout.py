"""The dashboard's flow graphs, laid out: where each step's box goes and the path of each arrow.

Pure geometry (no Django, no I/O): boxes (a step's name, kind and lines of text) and links (a
topic one step enqueues and another receives) in, positions and SVG paths out. Linked boxes go
in layers from left to right, each right of every box that links to it (cycles broken, their
closing links drawn backwards); boxes with no link go in a grid below. The template draws the
result as inline SVG.
"""

from collections.abc import Sequence
from dataclasses import dataclass

# Geometry, in SVG user units (CSS pixels at scale 1).
NODE_WIDTH = 240
NODE_TITLE_HEIGHT = 30
NODE_LINE_HEIGHT = 16
COLUMN_GAP = 110  # room for an edge and its topic label between layers
ROW_GAP = 22
PADDING = 16
GRID_COLUMNS = 3  # boxes with no link are laid out in a grid this wide
NAME_CHARS = 27
LINE_CHARS = 32


@dataclass(frozen=True)
class Box:
    """What one step's node shows."""

    name: str
    kind: str  # type of the step's first trigger: http, queue, stream, cron (colours the node)
    lines: tuple[str, ...] = ()  # the text below the name


@dataclass(frozen=True)
class Link:
    """A topic that step ``source`` enqueues and step ``target`` receives (``virtual`` when
    either end only documents it)."""

    source: str
    target: str
    topic: str
    virtual: bool = False


@dataclass(frozen=True)
class Node:
    """A box placed: its top-left corner and size."""

    name: str
    kind: str
    lines: tuple[str, ...]
    x: float
    y: float
    width: float
    height: float

    @property
    def title(self) -> str:
        """The full text, shown as a tooltip."""
        return "\n".join([self.name, *self.lines])

    @property
    def label(self) -> str:
        return _clip(self.name, NAME_CHARS)

    @property
    def text_lines(self) -> list[tuple[float, str]]:
        """(y, text) of each line below the name."""
        return [
            (NODE_TITLE_HEIGHT + NODE_LINE_HEIGHT * i + 4, _clip(line, LINE_CHARS))
            for i, line in enumerate(self.lines)
        ]


@dataclass(frozen=True)
class Edge:
    """One arrow between two nodes (every topic between them), as an SVG path."""

    path: str
    label: str
    label_x: float
    label_y: float
    virtual: bool


@dataclass(frozen=True)
class Graph:
    """A laid-out flow: its nodes in the order of the boxes given, its edges, and its size."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float


def layout(boxes: Sequence[Box], links: Sequence[Link]) -> Graph:
    """Place ``boxes`` and draw ``links`` between them (several topics between the same two
    boxes share one arrow). Every link must join boxes given."""
    names = [box.name for box in boxes]
    unknown = {end for link in links for end in (link.source, link.target)} - set(names)
    if unknown:
        raise ValueError(f"links to boxes not given: {', '.join(sorted(unknown))}")
    arrows = _arrows(links)
    height = NODE_TITLE_HEIGHT + NODE_LINE_HEIGHT * max((len(b.lines) for b in boxes), default=0)
    height += 8

    linked = [name for name in names if any(name in pair for pair in arrows)]
    places = _place_layers(linked, list(arrows), height)
    top = max((y + height + ROW_GAP for _, y in places.values()), default=PADDING)
    unlinked = [name for name in names if name not in places]
    places.update(_place_grid(unlinked, top, height))

    nodes = tuple(
        Node(box.name, box.kind, box.lines, *places[box.name], NODE_WIDTH, height) for box in boxes
    )
    by_name = {node.name: node for node in nodes}
    edges = tuple(
        _edge(by_name[source], by_name[target], ", ".join(topics), virtual)
        for (source, target), (topics, virtual) in arrows.items()
    )
    right = max((node.x + node.width for node in nodes), default=0)
    bottoms = [node.y + node.height for node in nodes] + [edge.label_y + 4 for edge in edges]
    return Graph(nodes, edges, right + PADDING, max(bottoms, default=0) + PADDING)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arrows(links: Sequence[Link]) -> dict[tuple[str, str], tuple[list[str], bool]]:
    """(source, target) -> the topics between them, and whether all of them are virtual."""
    topics: dict[tuple[str, str], list[str]] = {}
    virtual: dict[tuple[str, str], bool] = {}
    for link in links:
        pair = (link.source, link.target)
        if link.topic not in topics.setdefault(pair, []):
            topics[pair].append(link.topic)
        virtual[pair] = virtual.get(pair, True) and link.virtual
    return {pair: (topics[pair], virtual[pair]) for pair in topics}


def _acyclic(names: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs less self-loops and those closing a cycle (found depth first, from the boxes
    nothing links to), so that each pair left points to a later layer."""
    targets = {name: [t for s, t in pairs if s == name and t != name] for name in names}
    fed = {t for _, t in pairs}
    state: dict[str, str] = {}  # "open" while on the depth-first path, then "done"
    closing: set[tuple[str, str]] = set()

    def visit(name: str) -> None:
        state[name] = "open"
        for target in targets[name]:
            if state.get(target) == "open":
                closing.add((name, target))
            elif target not in state:
                visit(target)
        state[name] = "done"

    for name in sorted(names, key=lambda n: n in fed):  # sources first
        if name not in state:
            visit(name)
    return [(s, t) for s, t in pairs if s != t and (s, t) not in closing]


def layers(names: Sequence[str], pairs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each name's layer: the longest path to it from the sources, cycles broken (the pair
    that closes one is left out)."""
    forward = _acyclic(names, pairs)
    layer = dict.fromkeys(names, 0)
    for _ in range(len(names)):
        changed = False
        for source, target in forward:
            if layer[target] < layer[source] + 1:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    return layer


def _place_layers(
    names: Sequence[str], pairs: Sequence[tuple[str, str]], height: float
) -> dict[str, tuple[float, float]]:
    """Top-left corners of the linked boxes: a column per layer, each ordered by the rows of
    the boxes feeding it, so that arrows cross less."""
    layer = layers(names, pairs)
    rows: dict[str, int] = {}
    for number in sorted(set(layer.values())):
        members = [name for name in names if layer[name] == number]
        members.sort(key=lambda name: (_mean_feeder_row(name, pairs, rows), name))
        rows.update((name, row) for row, name in enumerate(members))
    return {
        name: (
            PADDING + layer[name] * (NODE_WIDTH + COLUMN_GAP),
            PADDING + rows[name] * (height + ROW_GAP),
        )
        for name in names
    }


def _mean_feeder_row(name: str, pairs: Sequence[tuple[str, str]], rows: dict[str, int]) -> float:
    feeders = [rows[s] for s, t in pairs if t == name and s in rows]
    return sum(feeders) / len(feeders) if feeders else 0.0


def _place_grid(names: Sequence[str], top: float, height: float) -> dict[str, tuple[float, float]]:
    """Top-left corners of the unlinked boxes: rows of :data:`GRID_COLUMNS` from ``top``."""
    places: dict[str, tuple[float, float]] = {}
    for index, name in enumerate(names):
        row, column = divmod(index, GRID_COLUMNS)
        places[name] = (
            PADDING + column * (NODE_WIDTH + 2 * ROW_GAP),
            top + row * (height + ROW_GAP),
        )
    return places


def _edge(source: Node, target: Node, label: str, virtual: bool) -> Edge:
    """A curve from the right of ``source`` to the left of ``target``; backwards (a cycle, or
    a step enqueueing to itself) it loops under the two nodes instead."""
    if target.x > source.x:
        x1, y1 = source.x + source.width, source.y + source.height / 2
        x2, y2 = target.x - 2, target.y + target.height / 2
        bend = (x2 - x1) / 2
        path = f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}"
        return Edge(path, label, (x1 + x2) / 2, (y1 + y2) / 2 - 6, virtual)
    x1, y1 = source.x + source.width * 0.6, source.y + source.height
    x2, y2 = target.x + target.width * 0.4, target.y + target.height + 2
    drop = max(y1, y2) + ROW_GAP * 1.5
    path = f"M{x1:g},{y1:g} C{x1:g},{drop:g} {x2:g},{drop:g} {x2:g},{y2:g}"
    return Edge(path, label, (x1 + x2) / 2, drop + 4, virtual)
