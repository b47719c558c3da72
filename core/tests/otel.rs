//! The Rust API against the real OpenTelemetry SDK: scopes, async, processor,
//! baggage, and precedence over attributes a library stamps at span start.

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context as TaskContext, Poll, Waker};

use openinference_session::{
    Aliases, ContextAttributes, SessionContextExt, SessionFutureExt, SessionSpanProcessor,
    get_context_attributes, set_baggage_propagation, using_metadata, using_session, using_tags,
    using_user,
};
use opentelemetry::trace::{Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider, SpanData};
use serde_json::json;

/// Baggage propagation is a process-wide switch: tests that depend on it run
/// one at a time.
static BAGGAGE_SWITCH: Mutex<()> = Mutex::new(());

fn setup(processor: SessionSpanProcessor) -> (SdkTracer, InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_simple_exporter(exporter.clone())
        .build();
    (provider.tracer("test"), exporter, provider)
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    // the last value of a key is the one receivers keep
    span.attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn span_named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).expect(name)
}

#[test]
fn spans_inside_a_session_carry_it_and_spans_outside_do_not() {
    let _lock = BAGGAGE_SWITCH.lock().unwrap();
    let (tracer, exporter, _p) = setup(SessionSpanProcessor::new());
    {
        let _s = using_session("conv-42").unwrap();
        let _u = using_user("user-7").unwrap();
        tracer.in_span("turn", |_| tracer.in_span("llm", |_| {}));
    }
    tracer.in_span("outside", |_| {});
    let spans = exporter.get_finished_spans().unwrap();
    for name in ["turn", "llm"] {
        let s = span_named(&spans, name);
        assert_eq!(
            attr(s, "session.id"),
            Some(Value::from("conv-42")),
            "{name}"
        );
        assert_eq!(attr(s, "user.id"), Some(Value::from("user-7")), "{name}");
    }
    let outside = span_named(&spans, "outside");
    assert!(outside.attributes.is_empty(), "{:?}", outside.attributes);
}

#[test]
fn nested_scopes_merge_and_leaving_restores() {
    let _lock = BAGGAGE_SWITCH.lock().unwrap();
    let (tracer, exporter, _p) = setup(SessionSpanProcessor::new());
    {
        let _s = using_session("s1").unwrap();
        let _m = using_metadata(json!({"plan": "pro"}).as_object().unwrap().clone()).unwrap();
        let _t = using_tags(["a"]).unwrap();
        {
            let _s2 = using_session("s2").unwrap();
            let _m2 = using_metadata(json!({"turn": 1}).as_object().unwrap().clone()).unwrap();
            let _t2 = using_tags(["b"]).unwrap();
            tracer.in_span("inner", |_| {});
        }
        tracer.in_span("outer", |_| {});
    }
    let spans = exporter.get_finished_spans().unwrap();
    let inner = span_named(&spans, "inner");
    assert_eq!(attr(inner, "session.id"), Some(Value::from("s2")));
    assert_eq!(
        attr(inner, "metadata"),
        Some(Value::from(r#"{"plan":"pro","turn":1}"#))
    );
    assert_eq!(
        attr(inner, "tag.tags").map(|v| v.to_string()),
        Some(Value::Array(
            vec![opentelemetry::StringValue::from("a"), "b".into()].into()
        ))
        .map(|v| v.to_string())
    );
    let outer = span_named(&spans, "outer");
    assert_eq!(attr(outer, "session.id"), Some(Value::from("s1")));
    assert_eq!(
        attr(outer, "metadata"),
        Some(Value::from(r#"{"plan":"pro"}"#))
    );
}

/// A future that is pending once, so that its body runs across two polls.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[test]
fn async_session_holds_across_await_and_does_not_leak_between_futures() {
    let _lock = BAGGAGE_SWITCH.lock().unwrap();
    let (tracer, exporter, _p) = setup(SessionSpanProcessor::new());
    let turn = |name: &'static str| {
        let tracer = tracer.clone();
        async move {
            YieldOnce(false).await;
            tracer.in_span(name, |_| {});
        }
    };
    let a = turn("a").with_session("session-a").unwrap();
    let b = turn("b").with_session("session-b").unwrap();
    // interleave polls of both futures on one thread
    block_on(async {
        let (mut a, mut b) = (pin!(a), pin!(b));
        let mut done = (false, false);
        std::future::poll_fn(|cx| {
            if !done.0 {
                done.0 = a.as_mut().poll(cx).is_ready();
            }
            if !done.1 {
                done.1 = b.as_mut().poll(cx).is_ready();
            }
            if done.0 && done.1 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    });
    tracer.in_span("after", |_| {});
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(
        attr(span_named(&spans, "a"), "session.id"),
        Some(Value::from("session-a"))
    );
    assert_eq!(
        attr(span_named(&spans, "b"), "session.id"),
        Some(Value::from("session-b"))
    );
    assert_eq!(attr(span_named(&spans, "after"), "session.id"), None);
}

#[test]
fn the_context_wins_over_a_session_id_a_library_stamps_at_start() {
    let _lock = BAGGAGE_SWITCH.lock().unwrap();
    let (tracer, exporter, _p) = setup(SessionSpanProcessor::new());
    {
        let _s = using_session("app-session").unwrap();
        tracer
            .span_builder("sdk-call")
            .with_attributes([KeyValue::new("session.id", "sdk-internal-id")])
            .start(&tracer);
    }
    drop(_p);
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(
        attr(span_named(&spans, "sdk-call"), "session.id"),
        Some(Value::from("app-session"))
    );
}

#[test]
fn get_context_attributes_matches_what_the_processor_stamps() {
    let _lock = BAGGAGE_SWITCH.lock().unwrap();
    let scope = ContextAttributes::new()
        .with_session_id("s")
        .unwrap()
        .with_tags(["x"])
        .unwrap();
    let cx = Context::new().with_context_attributes(&scope);
    let attrs = get_context_attributes(&cx);
    let keys: Vec<&str> = attrs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["session.id", "tag.tags"]);
    assert!(get_context_attributes(&Context::new()).is_empty());
}

#[test]
fn aliases_are_opt_in_per_processor() {
    let _lock = BAGGAGE_SWITCH.lock().unwrap();
    let (tracer, exporter, _p) = setup(SessionSpanProcessor::with_aliases(Aliases::GEN_AI));
    {
        let _s = using_session("c-1").unwrap();
        tracer.in_span("genai", |_| {});
    }
    let spans = exporter.get_finished_spans().unwrap();
    let s = span_named(&spans, "genai");
    assert_eq!(attr(s, "gen_ai.conversation.id"), Some(Value::from("c-1")));
    assert_eq!(attr(s, "session.id"), Some(Value::from("c-1")));
}

#[test]
fn baggage_carries_the_session_when_propagation_is_on() {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry_sdk::propagation::BaggagePropagator;
    use std::collections::HashMap;

    let _lock = BAGGAGE_SWITCH.lock().unwrap();
    set_baggage_propagation(true);
    let scope = ContextAttributes::new()
        .with_session_id("conv 1;x")
        .unwrap()
        .with_user_id("u-1")
        .unwrap();
    let sender = Context::new().with_context_attributes(&scope);
    let mut headers = HashMap::new();
    BaggagePropagator::new().inject_context(&sender, &mut headers);
    assert!(headers.contains_key("baggage"), "{headers:?}");

    // the receiving side: extract, start a span, no session scope of its own
    let received = BaggagePropagator::new().extract(&headers);
    let (tracer, exporter, _p) = setup(SessionSpanProcessor::new());
    tracer.start_with_context("downstream", &received);
    set_baggage_propagation(false);
    tracer.start_with_context("downstream-off", &received);
    drop(_p);
    let spans = exporter.get_finished_spans().unwrap();
    let s = span_named(&spans, "downstream");
    assert_eq!(attr(s, "session.id"), Some(Value::from("conv 1;x")));
    assert_eq!(attr(s, "user.id"), Some(Value::from("u-1")));
    assert_eq!(
        attr(span_named(&spans, "downstream-off"), "session.id"),
        None
    );
}
