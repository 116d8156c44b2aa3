"""A Motia stream's ``on_join``/``on_leave`` as the engine calls them.

Motia calls ``hook(subscription, ctx, auth_context)`` with its own ``StreamSubscription`` and
``FlowContext``; the engine calls hooks with its subscription and context. The adapted hook
keeps the kind of the original (plain or async: the engine runs plain hooks on a thread), runs
it in the right mode (so that ``Stream`` and ``stateManager`` calls in it work) and passes on
its answer, ``{"unauthorized": True}`` refusing the join.
"""

from collections.abc import Callable, Mapping
from typing import Any

from streams.runtime import is_async

from .running import Run, call, call_now, running
from .services import flow_context
from .stream_config import StreamSubscription
from .types import TriggerInfo


def _arguments(subscription: Any, ctx: Any, auth_context: Any) -> tuple[Any, Any, Any]:
    motia_subscription = StreamSubscription.model_validate(
        {
            "group_id": subscription.group_id,
            "id": subscription.id,
            "stream_name": subscription.stream_name,
        }
    )
    # As Motia's runtime: hooks run with a context of their own, of trigger type "queue".
    motia_ctx = flow_context(ctx, TriggerInfo(type="queue"), None)
    return motia_subscription, motia_ctx, auth_context


def _answer(result: Any) -> Any:
    """A join's answer as the engine reads it: a dict (``{"unauthorized": True}``)."""
    if result is None or isinstance(result, Mapping):
        return result
    if hasattr(result, "model_dump"):
        return result.model_dump()
    unauthorized = getattr(result, "unauthorized", None)
    return result if unauthorized is None else {"unauthorized": bool(unauthorized)}


def engine_hook(hook: Callable[..., Any], kind: str) -> Callable[..., Any]:
    """``hook`` (a Motia ``on_join`` or ``on_leave``) as the engine calls it."""
    if is_async(hook):

        async def run_async(subscription: Any, ctx: Any, auth_context: Any = None) -> Any:
            arguments = _arguments(subscription, ctx, auth_context)
            return _answer(await Run(ctx, arguments[1]).complete(call(hook, *arguments)))

        adapted: Callable[..., Any] = run_async
    else:

        def run_plain(subscription: Any, ctx: Any, auth_context: Any = None) -> Any:
            arguments = _arguments(subscription, ctx, auth_context)
            with running(Run(ctx, arguments[1]), "sync"):
                return _answer(call_now(hook, *arguments))

        adapted = run_plain
    adapted.__name__ = f"motia_{kind}_{getattr(hook, '__name__', 'hook')}"
    adapted.__qualname__ = adapted.__name__
    return adapted
