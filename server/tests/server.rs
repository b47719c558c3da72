//! The HTTP suite ([`http`]) on SQLite: the default backend, a real file in a
//! temp dir per test.

mod common;
mod http;

use common::Backend;

http_suite!(Backend::Sqlite);
