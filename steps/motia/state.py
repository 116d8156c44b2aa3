"""Motia's state: ``stateManager`` (also ``state_manager``, as Motia's docs spell it, and
``ctx.state``), values of any JSON by scope and key, kept in the database.

The values live in an internal stream, :data:`STATE_STREAM` (group: the scope, item: the key),
each wrapped as ``{"value": ...}`` so that any JSON value can be kept and ``get`` returns
exactly what was set. So state changes are atomic (``update`` takes Motia's ops), shown in the
admin, and committed with the caller's transaction. The stream cannot be joined over
WebSocket but by staff (the dashboard shows it): state is not pushed to clients. Each change
runs the state-triggered steps (:mod:`steps.motia.state_triggers`).
"""

from typing import Any

from streams.definitions import StreamConfig, registry
from streams.storage import store

from .ops import engine_ops
from .running import perform
from .state_triggers import changed, changed_async

STATE_STREAM = "motia-state"
"""The internal stream that holds the state."""

_VALUE = "value"


def _staff_only(subscription: Any, ctx: Any, auth_context: Any = None) -> dict[str, bool]:
    """State is not pushed to clients: only the dashboard's staff may watch it."""
    user = getattr(ctx, "user", None)
    staff = bool(user is not None and user.is_active and user.is_staff)
    return {"unauthorized": not staff}


def _config() -> StreamConfig:
    if STATE_STREAM in registry:
        return registry.get(STATE_STREAM)
    return registry.provide(StreamConfig(name=STATE_STREAM, on_join=_staff_only))


def _unwrap(item: Any) -> Any:
    return item.get(_VALUE) if isinstance(item, dict) else None


def _result(result: Any) -> dict[str, Any]:
    """A write's result with the values unwrapped (``created``: there was none before)."""
    return {
        "old_value": _unwrap(result["old_value"]),
        "new_value": _unwrap(result.get("new_value")),
        "created": result["old_value"] is None,
    }


class StateManager:
    """State by scope (a group) and key: ``get``, ``set``, ``update`` (Motia's ops),
    ``delete``, ``list`` (a scope's values), ``list_groups`` (the scopes) and ``clear``. Plain
    calls in a plain handler, awaitable in an async one."""

    def _sync(self) -> store.SyncStream:
        return store.SyncStream(_config())

    def _async(self) -> store.Stream:
        return store.Stream(_config())

    def get(self, scope: str, key: str) -> Any:
        """The value, or None."""

        async def get() -> Any:
            return _unwrap(await self._async().get(scope, key))

        return perform(lambda: _unwrap(self._sync().get(scope, key)), get, _what("get"))

    def set(self, scope: str, key: str, value: Any) -> Any:
        """Store ``value``; ``{"old_value", "new_value"}``."""
        wrapped = {_VALUE: value}

        def set_now() -> dict[str, Any]:
            return changed(scope, key, _result(self._sync().set(scope, key, wrapped)))

        async def set_later() -> dict[str, Any]:
            result = _result(await self._async().set(scope, key, wrapped))
            return await changed_async(scope, key, result)

        return perform(set_now, set_later, _what("set"))

    def update(self, scope: str, key: str, ops: list[dict[str, Any]]) -> Any:
        """Apply Motia's update ops to the value atomically (a missing value starts as
        ``{}``); ``{"old_value", "new_value"}``."""
        converted = engine_ops(ops, (_VALUE,))

        def update_now() -> dict[str, Any]:
            return changed(scope, key, _result(self._sync().update(scope, key, converted)))

        async def update_later() -> dict[str, Any]:
            result = _result(await self._async().update(scope, key, converted))
            return await changed_async(scope, key, result)

        return perform(update_now, update_later, _what("update"))

    def delete(self, scope: str, key: str) -> Any:
        """Delete the value; the value it had (None if none)."""
        return perform(
            lambda: self._delete_now(scope, key),
            lambda: self._delete_later(scope, key),
            _what("delete"),
        )

    def _delete_now(self, scope: str, key: str) -> Any:
        result = self._sync().delete(scope, key)
        return changed(scope, key, _result(result), deleted=True)["old_value"]

    async def _delete_later(self, scope: str, key: str) -> Any:
        result = _result(await self._async().delete(scope, key))
        return (await changed_async(scope, key, result, deleted=True))["old_value"]

    def list(self, scope: str) -> Any:
        """The scope's values, in the order they were first set."""

        async def values() -> list[Any]:
            return [_unwrap(item) for item in await self._async().list(scope)]

        return perform(
            lambda: [_unwrap(item) for item in self._sync().list(scope)], values, _what("list")
        )

    get_group = getGroup = list  # the names of Motia's older state API

    def list_groups(self) -> Any:
        """The scopes that hold values."""
        return perform(
            lambda: self._sync().list_groups(),
            lambda: self._async().list_groups(),
            _what("list_groups"),
        )

    def clear(self, scope: str) -> Any:
        """Delete every value of the scope (each change runs the state triggers)."""

        def clear_now() -> None:
            for item in self._sync().list(scope):
                self._delete_now(scope, item["id"])

        async def clear_later() -> None:
            for item in await self._async().list(scope):
                await self._delete_later(scope, item["id"])

        return perform(clear_now, clear_later, _what("clear"))


def _what(method: str) -> str:
    return f"stateManager.{method}(...)"


stateManager = StateManager()
state_manager = stateManager

# Registered as soon as Motia's API loads, so that a join of it is refused, not unknown.
_config()
