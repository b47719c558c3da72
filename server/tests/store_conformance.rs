//! The storage conformance suite run against the SQLite backend, each check on
//! a fresh database file in a temp dir.

use openinference_session_server::store::conformance;
use openinference_session_server::store::sqlite::SqliteStore;

fn sqlite() -> impl FnMut() -> SqliteStore {
    let mut dirs = Vec::new();
    move || {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open_dir(dir.path()).expect("open sqlite");
        dirs.push(dir);
        store
    }
}

#[test]
fn sqlite_passes_the_conformance_suite() {
    conformance::run_all(sqlite());
}

#[test]
fn sqlite_reopens_with_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        conformance::idempotent_writes(store);
    }
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    use openinference_session_server::store::Store;
    assert_eq!(store.session("p", "s1").unwrap().num_traces, 1);
}
