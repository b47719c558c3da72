"""Concurrent asyncio tasks and threads, each with its own session, never see
each other's."""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import Traced
from openinference.instrumentation.session import (
    get_context_attributes,
    set_session,
    using_attributes,
    using_session,
)


async def test_a_thousand_concurrent_tasks_keep_their_own_sessions(traced: Traced) -> None:
    tracer = traced.tracer
    mismatches: list[tuple[int, Any]] = []
    rng = random.Random(7)
    delays = [rng.random() / 1000 for _ in range(1000)]

    async def turn(i: int) -> None:
        async with using_session(f"session-{i}"):
            with using_attributes(user_id=f"user-{i}", tags=[f"t{i % 7}"]):
                await asyncio.sleep(delays[i])
                with tracer.start_as_current_span(f"turn-{i}"):
                    await asyncio.sleep(0)
                    seen = get_context_attributes()
                    if seen.get("session.id") != f"session-{i}" or seen.get("user.id") != f"user-{i}":
                        mismatches.append((i, seen))
                    with tracer.start_as_current_span(f"child-{i}"):
                        await asyncio.sleep(delays[-i])
        if get_context_attributes():
            mismatches.append((i, "leaked after exit"))

    await asyncio.gather(*(turn(i) for i in range(1000)))
    assert mismatches == []
    spans = traced.spans()
    assert len(spans) == 2000
    for span in spans:
        i = span.name.split("-")[1]
        assert span.attributes is not None
        assert span.attributes["session.id"] == f"session-{i}", span.name
        assert span.attributes["user.id"] == f"user-{i}", span.name
    assert get_context_attributes() == {}


async def test_set_session_in_concurrent_tasks_does_not_leak() -> None:
    async def task(i: int) -> Any:
        set_session(f"implicit-{i}")
        await asyncio.sleep(0.0001 * (i % 5))
        return get_context_attributes().get("session.id")

    results = await asyncio.gather(*(asyncio.create_task(task(i)) for i in range(500)))
    assert results == [f"implicit-{i}" for i in range(500)]
    assert get_context_attributes() == {}


def test_threads_keep_their_own_sessions(traced: Traced) -> None:
    tracer = traced.tracer
    barrier = threading.Barrier(8)
    errors: dict[int, Any] = {}

    def job(i: int) -> None:
        if i < 8:
            barrier.wait()  # make the first eight really overlap
        with using_session(f"thread-session-{i}"), tracer.start_as_current_span(f"job-{i}"):
            seen = get_context_attributes().get("session.id")
            if seen != f"thread-session-{i}":
                errors[i] = seen
        if get_context_attributes():
            errors[i] = "leaked"

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(job, range(400)))
    assert errors == {}
    for span in traced.spans():
        i = span.name.split("-")[1]
        assert span.attributes is not None
        assert span.attributes["session.id"] == f"thread-session-{i}"
