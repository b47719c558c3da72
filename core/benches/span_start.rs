//! What a session costs a span in Rust: a span started inside `using_session`
//! with `SessionSpanProcessor`, beside a bare span and a span outside any
//! session, in one run. Also scope enter+exit.
//!
//!     cargo bench -p openinference-session --bench span_start
//!
//! A plain harness (no benchmark framework): median over interleaved repeats of
//! the mean time per operation of a loop.

use std::hint::black_box;
use std::time::Instant;

use openinference_session::{
    ContextAttributes, SessionSpanProcessor, using_attributes, using_session,
};
use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde_json::json;

const LOOPS: u32 = 100_000;
const REPEATS: usize = 15;

fn tracer(with_processor: bool) -> (SdkTracer, SdkTracerProvider) {
    let mut builder = SdkTracerProvider::builder();
    if with_processor {
        builder = builder.with_span_processor(SessionSpanProcessor::new());
    }
    let provider = builder.build();
    (provider.tracer("bench"), provider)
}

fn per_op_ns(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..LOOPS {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(LOOPS)
}

fn main() {
    let (bare, _p1) = tracer(false);
    let (ours, _p2) = tracer(true);
    let four = ContextAttributes::new()
        .with_session_id("conv-42")
        .and_then(|a| a.with_user_id("user-7"))
        .and_then(|a| {
            a.with_metadata(
                json!({"plan": "pro", "region": "eu"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .and_then(|a| a.with_tags(["billing", "vip"]))
        .expect("valid attributes");

    type Case<'a> = (&'a str, Box<dyn FnMut() + 'a>);
    let mut cases: Vec<Case> = vec![
        (
            "bare span (SDK, no processor)",
            Box::new(|| bare.start("turn").end()),
        ),
        (
            "ours: span outside any session",
            Box::new(|| ours.start("turn").end()),
        ),
        (
            "ours: using_session enter+exit",
            Box::new(|| drop(black_box(using_session("conv-42").expect("valid id")))),
        ),
        (
            "ours: 4-attribute scope enter+exit",
            Box::new(|| drop(black_box(using_attributes(&four)))),
        ),
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len() + 1];
    for round in 0..=REPEATS {
        for (i, (_, f)) in cases.iter_mut().enumerate() {
            let ns = per_op_ns(f);
            if round > 0 {
                samples[i].push(ns);
            }
        }
        // a span inside a session: the guard is held around the loop
        let _session = using_session("conv-42").expect("valid id");
        let ns = per_op_ns(|| ours.start("turn").end());
        if round > 0 {
            samples[cases.len()].push(ns);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = samples.iter_mut().map(median).collect();
    let bare_ns = medians[0];
    println!("| case | median ns/op | adds to a bare span, ns |\n|---|---:|---:|");
    let in_session = medians[cases.len()];
    let rows = [
        (cases[0].0, medians[0], None),
        (cases[1].0, medians[1], Some(medians[1] - bare_ns)),
        (
            "ours: span in using_session",
            in_session,
            Some(in_session - bare_ns),
        ),
        (cases[2].0, medians[2], None),
        (cases[3].0, medians[3], None),
    ];
    for (name, ns, adds) in rows {
        let adds = adds.map(|a| format!("{a:.0}")).unwrap_or_default();
        println!("| {name} | {ns:.0} | {adds} |");
    }
}
