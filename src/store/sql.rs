//! `trailgraph sql`: user SQL over the store, read-only by construction.
//!
//! Three locks, each enough on its own for writes: the file is opened read-only, `PRAGMA query_only` is on, and
//! an authorizer refuses, while the statement is prepared, everything that is not reading (writes, schema changes,
//! ATTACH/DETACH, transactions, pragmas other than a few read-only ones, `load_extension`). A progress handler
//! interrupts a query that runs past its time limit.

use super::{Result, Store, StoreError};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a user query did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("refused: {0} (`trailgraph sql` is read-only)")]
    Refused(String),
    #[error("query stopped after the time limit of {0:?} (--timeout)")]
    Timeout(Duration),
    #[error("only one statement per query (found more after the first)")]
    MultipleStatements,
    #[error("SQL error: {0}")]
    Sql(rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The row callback failed (output error, such as a closed pipe).
    #[error(transparent)]
    Output(anyhow::Error),
}

/// Pragmas that only read, allowed with an argument (`PRAGMA table_info(events)`) or as table-valued functions.
const PRAGMAS_WITH_ARGUMENT: &[&str] = &[
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
];
/// Pragmas allowed only without a value (with one, most of them would change a setting).
const PRAGMAS_READ: &[&str] = &[
    "table_list",
    "database_list",
    "function_list",
    "module_list",
    "pragma_list",
    "collation_list",
    "compile_options",
    "user_version",
    "schema_version",
    "page_count",
    "page_size",
    "freelist_count",
    "encoding",
    "query_only",
];

/// The verdict of the authorizer on one action: None allows it, Some(reason) refuses it.
fn judge(action: &AuthAction<'_>) -> Option<String> {
    use AuthAction::*;
    match action {
        Select | Read { .. } | Recursive => None,
        Function { function_name } => {
            let f = function_name.to_ascii_lowercase();
            (f == "load_extension").then(|| "function load_extension()".to_string())
        }
        Pragma {
            pragma_name,
            pragma_value,
        } => {
            let name = pragma_name.to_ascii_lowercase();
            let ok = PRAGMAS_WITH_ARGUMENT.contains(&name.as_str())
                || (pragma_value.is_none() && PRAGMAS_READ.contains(&name.as_str()));
            (!ok).then(|| match pragma_value {
                Some(v) => format!("PRAGMA {pragma_name} = {v}"),
                None => format!("PRAGMA {pragma_name}"),
            })
        }
        // CREATE, DROP and ALTER first write the schema table.
        Insert { table_name } | Delete { table_name } | Update { table_name, .. }
            if table_name.starts_with("sqlite_") =>
        {
            Some(format!("a schema change (write to {table_name})"))
        }
        Insert { table_name } => Some(format!("INSERT into {table_name}")),
        Update { table_name, .. } => Some(format!("UPDATE of {table_name}")),
        Delete { table_name } => Some(format!("DELETE from {table_name}")),
        Attach { filename } => Some(format!("ATTACH {filename:?}")),
        Detach { database_name } => Some(format!("DETACH {database_name}")),
        Transaction { .. } | Savepoint { .. } => Some("transaction control".into()),
        CreateIndex { index_name, .. } | CreateTempIndex { index_name, .. } => {
            Some(format!("CREATE INDEX {index_name}"))
        }
        CreateTable { table_name } | CreateTempTable { table_name } => {
            Some(format!("CREATE TABLE {table_name}"))
        }
        CreateView { view_name } | CreateTempView { view_name } => {
            Some(format!("CREATE VIEW {view_name}"))
        }
        CreateTrigger { trigger_name, .. } | CreateTempTrigger { trigger_name, .. } => {
            Some(format!("CREATE TRIGGER {trigger_name}"))
        }
        CreateVtable { table_name, .. } => Some(format!("CREATE VIRTUAL TABLE {table_name}")),
        DropIndex { index_name, .. } | DropTempIndex { index_name, .. } => {
            Some(format!("DROP INDEX {index_name}"))
        }
        DropTable { table_name } | DropTempTable { table_name } => {
            Some(format!("DROP TABLE {table_name}"))
        }
        DropView { view_name } | DropTempView { view_name } => {
            Some(format!("DROP VIEW {view_name}"))
        }
        DropTrigger { trigger_name, .. } | DropTempTrigger { trigger_name, .. } => {
            Some(format!("DROP TRIGGER {trigger_name}"))
        }
        DropVtable { table_name, .. } => Some(format!("DROP VIRTUAL TABLE {table_name}")),
        AlterTable { table_name, .. } => Some(format!("ALTER TABLE {table_name}")),
        Reindex { index_name } => Some(format!("REINDEX {index_name}")),
        Analyze { table_name } => Some(format!("ANALYZE {table_name}")),
        Unknown { code, .. } => Some(format!("action {code}")),
        _ => Some("an action other than reading".into()),
    }
}

/// What a query hands its caller: the column names once, then each row.
pub enum SqlEvent<'a> {
    Columns(&'a [String]),
    Row(Vec<Value>),
}

/// A store opened for user SQL.
pub struct SqlStore {
    store: Store,
    refused: Arc<Mutex<Option<String>>>,
}

impl SqlStore {
    /// Opens the store read-only with the authorizer installed (after the connection's own setup pragmas).
    pub fn open(path: &Path) -> Result<SqlStore> {
        let store = Store::open_read_only(path)?;
        let refused: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let seen = refused.clone();
        store
            .conn
            .authorizer(Some(move |ctx: AuthContext<'_>| match judge(&ctx.action) {
                None => Authorization::Allow,
                Some(reason) => {
                    let mut g = seen.lock().unwrap_or_else(|p| p.into_inner());
                    g.get_or_insert(reason);
                    Authorization::Deny
                }
            }));
        Ok(SqlStore { store, refused })
    }

    /// Runs one statement; `on` gets the column names once, then each row (return false to stop).
    pub fn query(
        &self,
        sql: &str,
        timeout: Option<Duration>,
        on: &mut dyn FnMut(SqlEvent<'_>) -> anyhow::Result<bool>,
    ) -> std::result::Result<(), SqlError> {
        let conn = &self.store.conn;
        let sql = sql.trim().trim_end_matches(';').trim_end();
        let refused = || {
            self.refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
        };
        let mut st = match conn.prepare(sql) {
            Ok(st) => st,
            Err(rusqlite::Error::MultipleStatement) => return Err(SqlError::MultipleStatements),
            Err(e) => {
                return Err(match refused() {
                    Some(r) => SqlError::Refused(r),
                    None => SqlError::Sql(e),
                })
            }
        };
        if !st.readonly() {
            return Err(SqlError::Refused(
                "a statement that writes to the database".into(),
            ));
        }
        let columns: Vec<String> = st.column_names().iter().map(|c| c.to_string()).collect();
        on(SqlEvent::Columns(&columns)).map_err(SqlError::Output)?;
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        if let Some((at, _)) = deadline {
            conn.progress_handler(10_000, Some(move || Instant::now() >= at));
        }
        let n = columns.len();
        let mut out_err: Option<anyhow::Error> = None;
        let result = (|| {
            let mut rows = st.raw_query();
            loop {
                let row = match rows.next() {
                    Ok(Some(r)) => r,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    values.push(row.get::<_, Value>(i)?);
                }
                match on(SqlEvent::Row(values)) {
                    Ok(true) => {}
                    Ok(false) => return Ok(()),
                    Err(e) => {
                        out_err = Some(e);
                        return Ok(());
                    }
                }
            }
        })();
        conn.progress_handler(0, None::<fn() -> bool>);
        if let Some(e) = out_err {
            return Err(SqlError::Output(e));
        }
        match result {
            Ok(()) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                Err(SqlError::Timeout(
                    deadline.map(|(_, t)| t).unwrap_or_default(),
                ))
            }
            Err(e) => Err(match refused() {
                Some(r) => SqlError::Refused(r),
                None => SqlError::Sql(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges() {
        assert!(judge(&AuthAction::Select).is_none());
        assert!(judge(&AuthAction::Insert {
            table_name: "events"
        })
        .unwrap()
        .contains("INSERT"));
        assert!(judge(&AuthAction::Pragma {
            pragma_name: "query_only",
            pragma_value: Some("0")
        })
        .is_some());
        assert!(judge(&AuthAction::Pragma {
            pragma_name: "table_info",
            pragma_value: Some("events")
        })
        .is_none());
        assert!(judge(&AuthAction::Function {
            function_name: "LOAD_EXTENSION"
        })
        .is_some());
    }
}
