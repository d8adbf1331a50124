//! The PostgreSQL view store of `eventsourcing-dynamodb`'s projections, on `sqlx`.
//!
//! Two tables (names with a configurable prefix, `es_` by default):
//!
//! ```sql
//! CREATE TABLE es_view_rows (view TEXT, key TEXT, value JSONB, PRIMARY KEY (view, key));
//! CREATE TABLE es_view_tracking (projection TEXT, upstream TEXT, notification_id BIGINT,
//!     token TEXT, PRIMARY KEY (projection, upstream));
//! ```
//!
//! A commit is one SQL transaction: it moves the tracking row from the batch's `previous`
//! position to its `last` (a conditional `UPDATE`, or an `INSERT … ON CONFLICT DO NOTHING`
//! for the first commit; no row changed means another runner got there first, and the
//! transaction is rolled back), then upserts and deletes the rows. A `COMMIT` whose answer
//! is lost is resolved by reading the tracking row's token back. Views are plain rows, so
//! they can be queried with SQL (`value->>'…'`) as well as through [`ViewStore`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use async_trait::async_trait;
use eventsourcing_runtime::persistence::PersistenceError;
use eventsourcing_runtime::projection::{ViewBatch, ViewStore};
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;
use std::collections::BTreeMap;
use std::time::Duration;

/// Projections' views in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresViewStore {
    pool: PgPool,
    rows: String,
    tracking: String,
}

/// SQLSTATE classes and codes after which trying again may succeed: connection
/// exceptions, serialization failures and deadlocks, insufficient resources, operator
/// intervention (e.g. a restart).
fn is_transient_state(code: &str) -> bool {
    ["08", "53", "57"].iter().any(|class| code.starts_with(class))
        || matches!(code, "40001" | "40P01")
}

fn store_error(operation: &str, error: sqlx::Error) -> PersistenceError {
    let transient = match &error {
        sqlx::Error::Database(database) => database.code().is_some_and(|c| is_transient_state(&c)),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        _ => false,
    };
    match transient {
        true => PersistenceError::Operational {
            operation: format!("PostgreSQL {operation}"),
            message: error.to_string(),
            source: Some(Box::new(error)),
        },
        false => PersistenceError::Programming(format!("PostgreSQL {operation} failed: {error}")),
    }
}

/// What a transaction found when it moved the tracking row.
enum Moved {
    Yes,
    /// Not at `previous`: another runner moved it.
    Conflict,
}

impl PostgresViewStore {
    /// Connects to `url` (e.g. `postgres://user@127.0.0.1:5432/db`) with a small pool and
    /// creates the tables (`es_view_rows`, `es_view_tracking`) unless they exist.
    pub async fn connect(url: &str) -> Result<Self, PersistenceError> {
        Self::connect_with_prefix(url, "es_").await
    }

    /// [`PostgresViewStore::connect`] with tables `<prefix>view_rows` and
    /// `<prefix>view_tracking`.
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self, PersistenceError> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| store_error("connect", e))?;
        Self::with_pool(pool, prefix).await
    }

    /// A store on `pool`, with tables `<prefix>view_rows` and `<prefix>view_tracking`,
    /// created unless they exist. The prefix is part of SQL text: letters, digits and `_`.
    pub async fn with_pool(pool: PgPool, prefix: &str) -> Result<Self, PersistenceError> {
        if !prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(PersistenceError::Programming(format!(
                "table prefix {prefix:?} may only hold ASCII letters, digits and '_'"
            )));
        }
        let store = PostgresViewStore {
            pool,
            rows: format!("{prefix}view_rows"),
            tracking: format!("{prefix}view_tracking"),
        };
        store.create_tables().await?;
        Ok(store)
    }

    async fn create_tables(&self) -> Result<(), PersistenceError> {
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS {} (view TEXT NOT NULL, key TEXT NOT NULL, \
                 value JSONB NOT NULL, PRIMARY KEY (view, key))",
                self.rows
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (projection TEXT NOT NULL, upstream TEXT NOT NULL, \
                 notification_id BIGINT NOT NULL, token TEXT NOT NULL, \
                 PRIMARY KEY (projection, upstream))",
                self.tracking
            ),
        ];
        for statement in statements {
            match sqlx::query(&statement).execute(&self.pool).await {
                Ok(_) => {}
                // Two processes creating the same table at once: the other one won.
                Err(sqlx::Error::Database(error))
                    if matches!(error.code().as_deref(), Some("23505" | "42P07")) => {}
                Err(error) => return Err(store_error("CREATE TABLE", error)),
            }
        }
        Ok(())
    }

    /// The connection pool, e.g. to query the views with SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The table of view rows.
    pub fn rows_table(&self) -> &str {
        &self.rows
    }

    fn position(upstream: &str, id: u64) -> Result<i64, PersistenceError> {
        i64::try_from(id).map_err(|_| {
            PersistenceError::Programming(format!(
                "notification id {id} of {upstream} does not fit PostgreSQL's BIGINT"
            ))
        })
    }

    async fn move_tracking(
        &self,
        transaction: &mut sqlx::PgConnection,
        projection: &str,
        batch: &ViewBatch,
        token: &str,
    ) -> Result<Moved, PersistenceError> {
        let last = Self::position(&batch.upstream, batch.last)?;
        let query = match batch.previous {
            0 => {
                let sql = format!(
                    "INSERT INTO {} (projection, upstream, notification_id, token) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    self.tracking
                );
                sqlx::query(&sql)
                    .bind(projection)
                    .bind(&batch.upstream)
                    .bind(last)
                    .bind(token)
                    .execute(&mut *transaction)
                    .await
            }
            previous => {
                let sql = format!(
                    "UPDATE {} SET notification_id = $3, token = $4 \
                     WHERE projection = $1 AND upstream = $2 AND notification_id = $5",
                    self.tracking
                );
                let previous = Self::position(&batch.upstream, previous)?;
                sqlx::query(&sql)
                    .bind(projection)
                    .bind(&batch.upstream)
                    .bind(last)
                    .bind(token)
                    .bind(previous)
                    .execute(&mut *transaction)
                    .await
            }
        };
        let changed = query.map_err(|e| store_error("moving the tracking row", e))?;
        Ok(match changed.rows_affected() {
            1 => Moved::Yes,
            _ => Moved::Conflict,
        })
    }

    async fn write_rows(
        &self,
        transaction: &mut sqlx::PgConnection,
        batch: &ViewBatch,
    ) -> Result<(), PersistenceError> {
        let (mut put_views, mut put_keys, mut put_values) = (Vec::new(), Vec::new(), Vec::new());
        let (mut deleted_views, mut deleted_keys) = (Vec::new(), Vec::new());
        for ((view, key), value) in &batch.rows {
            match value {
                Some(value) => {
                    put_views.push(view.as_str());
                    put_keys.push(key.as_str());
                    put_values.push(value.to_string());
                }
                None => {
                    deleted_views.push(view.as_str());
                    deleted_keys.push(key.as_str());
                }
            }
        }
        if !put_views.is_empty() {
            let sql = format!(
                "INSERT INTO {} (view, key, value) \
                 SELECT v, k, j::jsonb FROM UNNEST($1::text[], $2::text[], $3::text[]) AS t(v, k, j) \
                 ON CONFLICT (view, key) DO UPDATE SET value = EXCLUDED.value",
                self.rows
            );
            sqlx::query(&sql)
                .bind(&put_views)
                .bind(&put_keys)
                .bind(&put_values)
                .execute(&mut *transaction)
                .await
                .map_err(|e| store_error("upserting view rows", e))?;
        }
        if !deleted_views.is_empty() {
            let sql = format!(
                "DELETE FROM {} WHERE (view, key) IN \
                 (SELECT v, k FROM UNNEST($1::text[], $2::text[]) AS t(v, k))",
                self.rows
            );
            sqlx::query(&sql)
                .bind(&deleted_views)
                .bind(&deleted_keys)
                .execute(&mut *transaction)
                .await
                .map_err(|e| store_error("deleting view rows", e))?;
        }
        Ok(())
    }

    async fn tracking_token(
        &self,
        projection: &str,
        upstream: &str,
    ) -> Result<Option<String>, PersistenceError> {
        let sql =
            format!("SELECT token FROM {} WHERE projection = $1 AND upstream = $2", self.tracking);
        let row = sqlx::query(&sql)
            .bind(projection)
            .bind(upstream)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| store_error("reading the tracking row", e))?;
        row.map(|row| row.try_get::<String, _>(0))
            .transpose()
            .map_err(|e| store_error("reading the tracking row", e))
    }

    fn data(location: String, problem: impl std::fmt::Display) -> PersistenceError {
        PersistenceError::Data { location, problem: problem.to_string() }
    }
}

#[async_trait]
impl ViewStore for PostgresViewStore {
    async fn get(&self, view: &str, key: &str) -> Result<Option<Value>, PersistenceError> {
        let sql = format!("SELECT value::text FROM {} WHERE view = $1 AND key = $2", self.rows);
        let row = sqlx::query(&sql)
            .bind(view)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| store_error("reading a view row", e))?;
        let Some(row) = row else { return Ok(None) };
        let location = || format!("{} view {view} row {key}", self.rows);
        let text: String = row.try_get(0).map_err(|e| Self::data(location(), e))?;
        serde_json::from_str(&text).map(Some).map_err(|e| Self::data(location(), e))
    }

    async fn rows(&self, view: &str) -> Result<BTreeMap<String, Value>, PersistenceError> {
        let sql = format!("SELECT key, value::text FROM {} WHERE view = $1", self.rows);
        let rows = sqlx::query(&sql)
            .bind(view)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| store_error("reading a view", e))?;
        let mut view_rows = BTreeMap::new();
        for row in rows {
            let key: String =
                row.try_get(0).map_err(|e| Self::data(format!("{} view {view}", self.rows), e))?;
            let location = || format!("{} view {view} row {key}", self.rows);
            let text: String = row.try_get(1).map_err(|e| Self::data(location(), e))?;
            let value = serde_json::from_str(&text).map_err(|e| Self::data(location(), e))?;
            view_rows.insert(key, value);
        }
        Ok(view_rows)
    }

    async fn max_tracking_id(
        &self,
        projection: &str,
        upstream: &str,
    ) -> Result<u64, PersistenceError> {
        let sql = format!(
            "SELECT notification_id FROM {} WHERE projection = $1 AND upstream = $2",
            self.tracking
        );
        let row = sqlx::query(&sql)
            .bind(projection)
            .bind(upstream)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| store_error("reading the tracking row", e))?;
        let Some(row) = row else { return Ok(0) };
        let location = || format!("{} tracking row of {projection} for {upstream}", self.tracking);
        let id: i64 = row.try_get(0).map_err(|e| Self::data(location(), e))?;
        u64::try_from(id).map_err(|e| Self::data(location(), e))
    }

    async fn commit(&self, projection: &str, batch: &ViewBatch) -> Result<(), PersistenceError> {
        let token = uuid::Uuid::new_v4().hyphenated().to_string();
        let mut transaction = self.pool.begin().await.map_err(|e| store_error("BEGIN", e))?;
        match self.move_tracking(&mut transaction, projection, batch, &token).await? {
            Moved::Yes => {}
            Moved::Conflict => {
                // Dropping the transaction rolls it back.
                return Err(PersistenceError::TrackingConflict {
                    application_name: batch.upstream.clone(),
                    notification_id: batch.last,
                });
            }
        }
        self.write_rows(&mut transaction, batch).await?;
        let committed = match transaction.commit().await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        // The answer to COMMIT was lost: the tracking row's token tells whether it applied.
        let committed_error = store_error("COMMIT", committed);
        match self.tracking_token(projection, &batch.upstream).await {
            Ok(Some(stored)) if stored == token => Ok(()),
            Ok(_) => Err(committed_error),
            Err(read_error) => Err(PersistenceError::OutcomeUnknown {
                operation: format!("COMMIT of {projection}'s views up to notification {}", batch.last),
                detail: format!(
                    "the COMMIT failed ({committed_error}) and reading the tracking row back failed too ({read_error})"
                ),
                source: Some(Box::new(read_error)),
            }),
        }
    }
}
