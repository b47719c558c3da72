//! Fuzz target: OTLP decoding (protobuf, JSON, gzip) and the mapping and trace
//! rules that follow it must never panic, whatever the body.
//!
//! Run with `cargo +nightly fuzz run otlp_decode` from `server/`; seed the
//! corpus with `server/tests/fixtures/otlp/*`.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use openinference_session_server::otlp::{self, Encoding, map};
use openinference_session_server::pricing::PriceTable;

fuzz_target!(|data: &[u8]| {
    let prices = PriceTable::default();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(decoded) = otlp::decode(data, encoding) {
            let mapped = map::map_request(decoded.request, Some("fuzz"), &prices);
            let mut traces: HashMap<_, Vec<_>> = HashMap::new();
            for record in mapped.records {
                traces.entry(record.trace_id).or_default().push(record.facts);
            }
            for facts in traces.values() {
                openinference_session_server::turn::summarize(facts, &[]);
            }
        }
    }
    let _ = otlp::gunzip(data, 1 << 20);
});
