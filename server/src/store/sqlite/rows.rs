//! Rows written several to a statement: SQLite's work for a statement
//! (running its program, opening the cursors of a table and its indexes,
//! halting, resetting, and rusqlite's statement cache around it) is paid once
//! for up to [`ROWS_A_STATEMENT`] rows instead of once a row.
//!
//! The writer's statements that write several rows say `OR ROLLBACK`: a
//! statement that may fail halfway (a constraint the default `ABORT` undoes
//! alone) makes SQLite copy every page it changes to a statement journal
//! first, to undo just that statement. The writer never needs that: a write
//! that fails rolls its whole group back ([`super::group`]), which
//! `OR ROLLBACK` does at once.

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, params_from_iter};

/// Most rows a [`RowBatch`] writes in one statement.
pub(super) const ROWS_A_STATEMENT: usize = 8;

/// The statements `{head} VALUES (?, ...), ... {tail}` writing 1 to
/// [`ROWS_A_STATEMENT`] rows, one value for each column `head` lists.
pub(super) fn row_statements(head: &str, tail: &str) -> Vec<String> {
    let listed = &head[head.find('(').unwrap_or(0)..head.find(')').unwrap_or(0)];
    let row = format!(
        "({})",
        vec!["?"; listed.matches(',').count() + 1].join(", ")
    );
    (1..=ROWS_A_STATEMENT)
        .map(|n| format!("{head} VALUES {} {tail}", vec![row.as_str(); n].join(", ")))
        .collect()
}

/// A row's value of an integer column that may be NULL, owned: a batch
/// outlives the locals its rows are made of.
pub(super) fn int_or_null(value: Option<i64>) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(value.map_or(Value::Null, Value::Integer))
}

/// Rows written [`ROWS_A_STATEMENT`] at a time by one of
/// [`row_statements`]' statements.
pub(super) struct RowBatch<'c, 'v> {
    tx: &'c Connection,
    /// The statement writing `n` rows is `statements[n - 1]`.
    statements: &'static [String],
    /// The full statement, held while the batch lives: taken from the
    /// connection's cache for every statement, its hundreds of values were
    /// cleared each time it went back.
    full: Option<rusqlite::CachedStatement<'c>>,
    columns: usize,
    values: Vec<ToSqlOutput<'v>>,
}

impl<'c, 'v> RowBatch<'c, 'v> {
    pub(super) fn new(tx: &'c Connection, statements: &'static [String]) -> Self {
        // The one-row statement's placeholders.
        let columns = statements[0].matches('?').count();
        Self {
            tx,
            statements,
            full: None,
            columns,
            values: Vec::with_capacity(columns * statements.len()),
        }
    }

    /// Adds a row (one value a column), writing the rows held once there
    /// are enough for a statement.
    pub(super) fn push<const N: usize>(
        &mut self,
        row: [ToSqlOutput<'v>; N],
    ) -> rusqlite::Result<()> {
        debug_assert_eq!(N, self.columns);
        self.values.extend(row);
        if self.values.len() == self.columns * self.statements.len() {
            let full = match &mut self.full {
                Some(full) => full,
                None => self.full.insert(
                    self.tx
                        .prepare_cached(&self.statements[self.statements.len() - 1])?,
                ),
            };
            full.execute(params_from_iter(self.values.iter()))?;
            self.values.clear();
        }
        Ok(())
    }

    /// Writes the rows held.
    pub(super) fn flush(&mut self) -> rusqlite::Result<()> {
        let rows = self.values.len() / self.columns;
        if rows > 0 {
            self.tx
                .prepare_cached(&self.statements[rows - 1])?
                .execute(params_from_iter(self.values.iter()))?;
        }
        self.values.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_batch_writes_every_row_in_order_whatever_the_count() {
        static STATEMENTS: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| row_statements("INSERT INTO t (a, b, c)", ""));
        assert_eq!(STATEMENTS.len(), ROWS_A_STATEMENT);
        for (n, sql) in STATEMENTS.iter().enumerate() {
            assert_eq!(sql.matches('?').count(), 3 * (n + 1), "{sql}");
        }
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b, c)")
            .unwrap();
        for rows in [
            0,
            1,
            ROWS_A_STATEMENT - 1,
            ROWS_A_STATEMENT,
            2 * ROWS_A_STATEMENT + 3,
        ] {
            conn.execute("DELETE FROM t", []).unwrap();
            let mut batch = RowBatch::new(&conn, &STATEMENTS);
            for i in 0..rows as i64 {
                let text = format!("row {i}");
                batch
                    .push([
                        ToSqlOutput::from(i),
                        ToSqlOutput::Owned(Value::Text(text)),
                        ToSqlOutput::Owned(Value::Null),
                    ])
                    .unwrap();
            }
            batch.flush().unwrap();
            let written: Vec<(i64, String)> = conn
                .prepare("SELECT a, b FROM t WHERE c IS NULL ORDER BY id")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let expected: Vec<(i64, String)> =
                (0..rows as i64).map(|i| (i, format!("row {i}"))).collect();
            assert_eq!(written, expected, "{rows} rows");
        }
    }
}
