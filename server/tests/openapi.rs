//! The committed `server/openapi.json` is the document the server generates
//! from its Rust types and handlers. When this fails after a change to the API,
//! regenerate the file (and the TypeScript types made from it):
//!
//! ```sh
//! UPDATE_OPENAPI=1 cargo test -p openinference-session-server --test openapi
//! npm run generate:api   # the TypeScript types of the Node client and the UI
//! ```

use openinference_session_server::openapi::document_json;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[test]
fn committed_openapi_json_is_the_generated_document() {
    let generated = document_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, generated).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "server/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p \
         openinference-session-server --test openapi`, then `npm run generate:api`"
    );
}
