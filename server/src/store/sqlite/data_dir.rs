//! What guards a data directory: one server at a time (a lock file naming the
//! server that holds it), and a database that held data is never silently
//! replaced by an empty one (a marker written when the database was created;
//! a database file then missing or empty means it was deleted or truncated).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::model::rfc3339;
use crate::store::StoreError;
use crate::store::queries::now_ns;

/// The lock file: held (an OS file lock) while a server has the directory open.
pub const LOCK_FILE: &str = "oi-sessions.lock";
/// Written when the database is first created in the directory.
pub const CREATED_MARKER: &str = "oi-sessions.created";

/// The held lock of a data directory; released when dropped (or when the
/// process ends, however it ends).
#[derive(Debug)]
pub struct DirLock(#[allow(dead_code)] File);

/// Takes the directory's lock, or says which server holds it.
pub fn lock(dir: &Path) -> Result<DirLock, StoreError> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(StoreError::Backend(format!(
                "another oi-sessions is serving {} ({}): stop it first, or give this one another --data-dir",
                dir.display(),
                holder.trim()
            )));
        }
        Err(TryLockError::Error(e)) => {
            return Err(StoreError::Backend(format!(
                "cannot lock {}: {e}",
                path.display()
            )));
        }
    }
    let holder = format!("pid {}, started {}", std::process::id(), rfc3339(now_ns()));
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(holder.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot write the lock file's holder");
    }
    Ok(DirLock(file))
}

/// Refuses a database file that is missing or empty where one was created
/// before; says what to do.
pub fn check_not_replaced(dir: &Path, db_file: &str) -> Result<(), StoreError> {
    let marker = dir.join(CREATED_MARKER);
    let Ok(created) = std::fs::read_to_string(&marker) else {
        return Ok(());
    };
    let db = dir.join(db_file);
    let state = match std::fs::metadata(&db) {
        Err(_) => "missing",
        Ok(m) if m.len() == 0 => "empty",
        Ok(_) => return Ok(()),
    };
    Err(StoreError::Corrupt(format!(
        "the database {} is {state}, but this data directory held one ({}): it was deleted \
         or truncated. Restore it from a backup, or remove {} to start with an empty database",
        db.display(),
        created.trim(),
        marker.display()
    )))
}

/// Records that the directory now holds a database (once).
pub fn mark_created(dir: &Path) -> Result<(), StoreError> {
    let marker = dir.join(CREATED_MARKER);
    if marker.exists() {
        return Ok(());
    }
    std::fs::write(&marker, format!("created {}\n", rfc3339(now_ns())))
        .map_err(|e| StoreError::Backend(format!("cannot write {}: {e}", marker.display())))
}
