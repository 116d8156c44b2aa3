"""Eager start of coroutines: no task when nothing waits, a task that carries on otherwise."""

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from streams.sockets.send_in_caller import start_eagerly


async def test_a_coroutine_that_never_waits_finishes_in_the_caller() -> None:
    done: list[int] = []

    async def quick() -> None:
        done.append(1)

    assert start_eagerly(quick()) is None
    assert done == [1]


async def test_a_coroutine_that_waits_carries_on_in_a_task() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def slow() -> str:
        steps.append("before")
        value = await gate
        steps.append(value)
        await asyncio.sleep(0)
        return value + "!"

    task = start_eagerly(slow())
    assert task is not None
    assert steps == ["before"], "it ran up to its first wait in the caller"
    gate.set_result("after")
    assert await task == "after!"
    assert steps == ["before", "after"]


async def test_errors_before_the_first_wait_reach_the_caller_and_after_it_the_task() -> None:
    async def fails_now() -> None:
        raise ValueError("now")

    with pytest.raises(ValueError, match="now"):
        start_eagerly(fails_now())

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    task = start_eagerly(fails_later())
    assert task is not None
    with pytest.raises(KeyError):
        await task


async def test_cancelling_the_task_cancels_the_coroutine() -> None:
    cleaned: list[bool] = []

    async def waits_forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    task = start_eagerly(waits_forever())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


async def test_a_future_that_is_done_finishes_in_the_caller() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.set_result(3)
    assert start_eagerly(future) is None


class ServerFuture:
    """An awaitable that is not a coroutine, as granian's ``send`` returns: ``__await__`` gives
    an iterator that yields itself (an asyncio future-alike) until the loop resolves it."""

    _asyncio_future_blocking = False

    def __init__(self) -> None:
        self.future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def __await__(self) -> Generator[Any, None, str]:
        return self.future.__await__()


async def test_an_awaitable_that_is_not_a_coroutine_is_driven_too() -> None:
    awaitable = ServerFuture()
    task = start_eagerly(awaitable)
    assert task is not None, "it waits: carried on in a task"
    awaitable.future.set_result("sent")
    assert await task == "sent"

    failing = ServerFuture()
    failing.future.set_exception(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        start_eagerly(failing)
