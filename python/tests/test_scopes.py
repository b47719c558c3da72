"""The scope API: context managers, decorators, nesting, set/clear, get_context_attributes."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import Traced
from openinference.instrumentation.session import (
    bind_context,
    clear_session,
    get_context_attributes,
    set_session,
    using_attributes,
    using_metadata,
    using_prompt_template,
    using_session,
    using_tags,
    using_user,
)


def test_spans_inside_a_session_carry_it_and_outside_do_not(traced: Traced) -> None:
    t = traced.tracer
    with using_session("conv-42"), t.start_as_current_span("turn"), t.start_as_current_span("llm"):
        pass
    with t.start_as_current_span("outside"):
        pass
    assert traced.attrs("turn")["session.id"] == "conv-42"
    assert traced.attrs("llm")["session.id"] == "conv-42"
    assert "session.id" not in traced.attrs("outside")


def test_every_attribute_kind_reaches_the_span_with_openinference_types(traced: Traced) -> None:
    with (
        using_attributes(
            session_id="s-1",
            user_id="u-1",
            metadata={"plan": "pro", "n": 2},
            tags=["billing", "vip"],
            prompt_template="Hello {name}",
            prompt_template_version="v2",
            prompt_template_variables={"name": "Ada"},
            attributes={"app.tier": "gold", "app.retries": 3},
        ),
        traced.tracer.start_as_current_span("span"),
    ):
        pass
    attrs = traced.attrs("span")
    assert attrs["session.id"] == "s-1"
    assert attrs["user.id"] == "u-1"
    assert json.loads(attrs["metadata"]) == {"plan": "pro", "n": 2}
    assert attrs["tag.tags"] == ("billing", "vip")
    assert attrs["llm.prompt_template.template"] == "Hello {name}"
    assert attrs["llm.prompt_template.version"] == "v2"
    assert json.loads(attrs["llm.prompt_template.variables"]) == {"name": "Ada"}
    assert attrs["app.tier"] == "gold" and attrs["app.retries"] == 3


def test_nested_scopes_override_merge_and_restore(traced: Traced) -> None:
    t = traced.tracer
    with using_session("outer"), using_user("u"), using_metadata({"plan": "pro"}), using_tags(["a"]):
        with using_session("inner"), using_metadata({"turn": 1}), using_tags(["b", "a"]):
            with t.start_as_current_span("inner-span"):
                pass
        with t.start_as_current_span("outer-span"):
            pass
    inner = traced.attrs("inner-span")
    assert inner["session.id"] == "inner"
    assert inner["user.id"] == "u"
    assert json.loads(inner["metadata"]) == {"plan": "pro", "turn": 1}
    assert inner["tag.tags"] == ("a", "b")
    outer = traced.attrs("outer-span")
    assert outer["session.id"] == "outer"
    assert json.loads(outer["metadata"]) == {"plan": "pro"}
    assert outer["tag.tags"] == ("a",)
    assert get_context_attributes() == {}


def test_prompt_template_scope(traced: Traced) -> None:
    with using_prompt_template(template="Hi {x}", version="v1", variables={"x": 1}):
        assert get_context_attributes() == {
            "llm.prompt_template.template": "Hi {x}",
            "llm.prompt_template.version": "v1",
            "llm.prompt_template.variables": '{"x":1}',
        }


def test_get_context_attributes_is_what_the_processor_stamps(traced: Traced) -> None:
    with using_attributes(session_id="s", metadata={"k": "v"}, tags=["t"]):
        expected = get_context_attributes()
        with traced.tracer.start_as_current_span("span"):
            pass
    stamped = traced.attrs("span")
    assert expected == {"session.id": "s", "metadata": '{"k":"v"}', "tag.tags": ["t"]}
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in stamped.items()} == expected


def test_get_context_attributes_returns_a_copy_and_reads_a_given_context() -> None:
    from opentelemetry.context import get_current

    with using_session("s"), using_tags(["t"]):
        ctx = get_current()
        first = get_context_attributes()
        first["tag.tags"].append("mutated")
        first["session.id"] = "mutated"
        assert get_context_attributes() == {"session.id": "s", "tag.tags": ["t"]}
    assert get_context_attributes() == {}
    assert get_context_attributes(ctx)["session.id"] == "s"


def test_custom_instrumentation_pattern(traced: Traced) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    # a provider WITHOUT our processor: attributes passed by hand
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("custom")
    with using_session("manual"):
        with tracer.start_as_current_span("span-name", attributes=get_context_attributes()):
            pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes["session.id"] == "manual"


def test_aliases_are_opt_in() -> None:
    from conftest import make_traced

    provider, exporter = make_traced(aliases=["gen_ai", "traceloop"])
    with using_attributes(session_id="c-1", user_id="u-1"):
        with provider.get_tracer("t").start_as_current_span("s"):
            pass
        assert "gen_ai.conversation.id" not in get_context_attributes()
        assert get_context_attributes(aliases=["gen_ai"])["gen_ai.conversation.id"] == "c-1"
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.conversation.id"] == "c-1"
    assert span.attributes["traceloop.association.properties.session_id"] == "c-1"
    assert span.attributes["traceloop.association.properties.user_id"] == "u-1"
    assert "langsmith.metadata.thread_id" not in span.attributes
    with pytest.raises(ValueError, match="unknown alias"):
        make_traced(aliases=["nope"])


def test_the_context_wins_over_a_session_id_a_library_sets_at_start(traced: Traced) -> None:
    with using_session("app-session"):
        with traced.tracer.start_as_current_span("sdk", attributes={"session.id": "sdk-own-id"}):
            pass
    assert traced.attrs("sdk")["session.id"] == "app-session"


# --- decorators --------------------------------------------------------------


def test_decorates_functions(traced: Traced) -> None:
    @using_session("deco")
    def work(x: int) -> int:
        with traced.tracer.start_as_current_span("work"):
            return x * 2

    assert work(21) == 42
    assert work.__name__ == "work"
    assert traced.attrs("work")["session.id"] == "deco"
    assert get_context_attributes() == {}


async def test_decorates_coroutines_and_async_with(traced: Traced) -> None:
    @using_session("coro")
    async def work() -> str:
        await asyncio.sleep(0)
        with traced.tracer.start_as_current_span("coro-span"):
            return "done"

    assert await work() == "done"
    async with using_session("async-with"):
        await asyncio.sleep(0)
        with traced.tracer.start_as_current_span("async-with-span"):
            pass
    assert traced.attrs("coro-span")["session.id"] == "coro"
    assert traced.attrs("async-with-span")["session.id"] == "async-with"


def test_decorates_generators_only_while_their_body_runs(traced: Traced) -> None:
    seen: list[Any] = []

    @using_session("gen")
    def stream(n: int) -> Iterator[int]:
        for i in range(n):
            seen.append(get_context_attributes().get("session.id"))
            received = yield i
            if received is not None:
                seen.append(("sent", received))
        return None

    with using_session("consumer"):
        g = stream(3)
        assert next(g) == 0
        # between steps the consumer's session is in effect, not the generator's
        assert get_context_attributes()["session.id"] == "consumer"
        assert g.send("hello") == 1
        assert list(g) == [2]
    assert seen == ["gen", ("sent", "hello"), "gen", "gen"]


def test_generator_close_and_throw(traced: Traced) -> None:
    log: list[str] = []

    @using_session("gen")
    def stream() -> Iterator[int]:
        try:
            yield 1
            yield 2
        except KeyError:
            log.append("caught in " + str(get_context_attributes().get("session.id")))
            yield 99
        finally:
            log.append("closed in " + str(get_context_attributes().get("session.id")))

    g = stream()
    next(g)
    assert g.throw(KeyError("x")) == 99
    g.close()
    assert log == ["caught in gen", "closed in gen"]


async def test_decorates_async_generators(traced: Traced) -> None:
    @using_session("agen")
    async def stream() -> AsyncIterator[str]:
        for _ in range(2):
            await asyncio.sleep(0)
            yield str(get_context_attributes().get("session.id"))

    out = [x async for x in stream()]
    assert out == ["agen", "agen"]
    assert get_context_attributes() == {}


# --- set_session / clear_session ---------------------------------------------


def test_set_and_clear_session(traced: Traced) -> None:
    set_session("implicit")
    try:
        with traced.tracer.start_as_current_span("during"):
            pass
    finally:
        clear_session("implicit")
    with traced.tracer.start_as_current_span("after"):
        pass
    assert traced.attrs("during")["session.id"] == "implicit"
    assert "session.id" not in traced.attrs("after")


def test_clear_restores_the_previous_session() -> None:
    with using_session("outer"), using_user("u"):
        set_session("first")
        set_session("second")
        assert get_context_attributes()["session.id"] == "second"
        clear_session()
        assert get_context_attributes() == {"session.id": "first", "user.id": "u"}
        clear_session("first")
        assert get_context_attributes() == {"session.id": "outer", "user.id": "u"}


def test_clear_session_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="no session was set with set_session"):
        clear_session()
    set_session("mine")
    try:
        with pytest.raises(ValueError, match="'other' is not the session set last \\('mine'\\)"):
            clear_session("other")
        with pytest.raises(TypeError, match="session_id must be a str"):
            clear_session(42)  # type: ignore[arg-type]
    finally:
        clear_session("mine")


async def test_set_session_applies_to_tasks_started_after_and_not_to_the_parent() -> None:
    async def child() -> Any:
        return get_context_attributes().get("session.id")

    async def setter() -> Any:
        set_session("task-local")
        return await asyncio.create_task(child())

    assert await asyncio.create_task(setter()) == "task-local"
    assert get_context_attributes() == {}


def test_bind_context_carries_the_session_into_a_thread_pool() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def read() -> Any:
        return get_context_attributes().get("session.id")

    with ThreadPoolExecutor(max_workers=2) as pool, using_session("pooled"):
        bound = pool.submit(bind_context(read)).result()
        unbound = pool.submit(read).result()
    assert bound == "pooled"
    assert unbound is None  # thread pools do not copy context by themselves


def test_one_scope_object_can_be_entered_again_inside_itself() -> None:
    scope = using_session("re-entered")
    with scope:
        with scope, using_user("inner"):
            assert get_context_attributes() == {"session.id": "re-entered", "user.id": "inner"}
        assert get_context_attributes() == {"session.id": "re-entered"}
    assert get_context_attributes() == {}
    scope.__exit__(None, None, None)  # an extra exit is harmless
    assert get_context_attributes() == {}


def _stamped_by(**scope: Any) -> dict[str, Any]:
    with using_attributes(**scope):
        return get_context_attributes()


def test_a_scope_reused_by_content_never_carries_stale_or_lookalike_values() -> None:
    # Validated scopes are cached by their arguments' content: a dict changed in
    # place, or a value equal in Python but another JSON value, is a new scope.
    metadata: dict[str, Any] = {"plan": "pro", "turn": [1]}
    tags = ["billing", "vip"]
    assert (
        _stamped_by(session_id="s", metadata=metadata, tags=tags)["metadata"] == '{"plan":"pro","turn":[1]}'
    )
    metadata["turn"].append(2)
    tags.append("new")
    stamped = _stamped_by(session_id="s", metadata=metadata, tags=tags)
    assert stamped["metadata"] == '{"plan":"pro","turn":[1,2]}'
    assert stamped["tag.tags"] == ["billing", "vip", "new"]
    lookalikes = [1, True, 1.0, 0.0, -0.0, "1", [1], (1,), {"n": 1}, None]
    texts = [_stamped_by(session_id="s", metadata={"n": v})["metadata"] for v in lookalikes * 2]
    assert texts == [json.dumps({"n": v}, separators=(",", ":")) for v in lookalikes * 2]
    assert _stamped_by(session_id="s", tags=["a", "a"])["tag.tags"] == ["a"]
    assert _stamped_by(session_id="s", tags=["a", "a"])["tag.tags"] == ["a"]
    assert _stamped_by(session_id="s", user_id="u")["user.id"] == "u"
    assert "user.id" not in _stamped_by(session_id="s")


def test_a_cached_scope_still_refuses_bad_arguments() -> None:
    with using_attributes(session_id="s", metadata={"k": "v"}):
        pass
    with pytest.raises(TypeError, match=r'metadata\["k"\] is not JSON-serializable'):
        using_attributes(session_id="s", metadata={"k": object()})
    with pytest.raises(TypeError, match="session_id must be a str"):
        using_attributes(session_id=1, metadata={"k": "v"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="session_id must be a non-empty string"):
        using_attributes(session_id=" ", metadata={"k": "v"})


def test_exiting_in_another_context_logs_instead_of_raising(caplog: pytest.LogCaptureFixture) -> None:
    # The native exit resets OpenTelemetry's ContextVar itself: a token of
    # another context makes the reset raise, which is logged, never raised.
    from opentelemetry import context as otel_context

    before = otel_context.get_current()
    scope = using_session("elsewhere")
    scope.__enter__()
    assert contextvars.copy_context().run(scope.__exit__, None, None, None) is False
    assert "failed to detach context" in caplog.text
    assert get_context_attributes() == {"session.id": "elsewhere"}  # the reset did nothing
    otel_context.attach(before)
    assert get_context_attributes() == {}


def test_the_context_var_is_used_directly_only_behind_the_default_runtime() -> None:
    from openinference.instrumentation.session._context import _context_var
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    default = ContextVarsRuntimeContext()
    assert _context_var(default) is default._current_context

    class Custom(ContextVarsRuntimeContext):
        pass

    assert _context_var(Custom()) is None
    patched = ContextVarsRuntimeContext()
    patched.attach = lambda context: None  # type: ignore[method-assign]
    assert _context_var(patched) is None
    assert _context_var(object()) is None
