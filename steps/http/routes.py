"""Which http trigger answers a path: route shapes and their precedence (pure, no I/O).

A route's path is made of segments, each static (``/greetings``) or holding a parameter
(``/:name``). Requests are matched against routes in precedence order: segment by segment, a
static segment before a parameter, whatever order the steps were found in, so that
``GET /greetings/summary`` reaches its own step even when ``/greetings/:name`` was registered
first. Routes of the same shape (``/todos/:id`` and ``/todos/:key``: the same segments, the
same parameter places) match the same requests: with one method they are one route claimed
twice, which the system checks refuse (``steps.E005``).
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations

PATH_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")
# A parameter's place in a shape: not a character a path may name literally after a ':'.
_PLACE = ":"


def path_shape(path: str) -> str:
    """The path with every parameter name left out: ``/todos/:id`` is ``/todos/:``."""
    return PATH_PARAM.sub(_PLACE, path)


def ninja_path(path: str) -> str:
    """The path in django-ninja's syntax: ``/todos/{id}/complete``."""
    return PATH_PARAM.sub(r"{\1}", path)


def precedence(path: str) -> tuple[tuple[int, str], ...]:
    """The sort key of a route: per segment, static ones (0) before those with a parameter
    (1), literal text deciding among equals."""
    return tuple(
        (1 if PATH_PARAM.search(segment) else 0, path_shape(segment)) for segment in path.split("/")
    )


@dataclass(frozen=True)
class RouteClaim:
    """One http trigger's claim on a method and path, and the step that makes it."""

    method: str
    path: str
    step: str
    module: str

    @property
    def shape(self) -> tuple[str, str]:
        return self.method, path_shape(self.path)

    def describe(self) -> str:
        return f"{self.method} {self.path} of step {self.step!r} ({self.module})"


def in_precedence_order(claims: Iterable[RouteClaim]) -> list[RouteClaim]:
    """The claims in the order requests are matched against them (stable among equals)."""
    return sorted(claims, key=lambda claim: precedence(claim.path))


def conflicts(claims: Iterable[RouteClaim]) -> Iterator[tuple[RouteClaim, RouteClaim]]:
    """Each pair of claims on one method and one path shape, the earlier claim first."""
    by_shape: dict[tuple[str, str], list[RouteClaim]] = defaultdict(list)
    for claim in claims:
        by_shape[claim.shape].append(claim)
    for same in by_shape.values():
        yield from combinations(same, 2)
