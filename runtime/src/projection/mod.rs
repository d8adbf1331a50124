//! Projections: read models kept up to date from an application's notification log, as
//! Python eventsourcing 9.5's `eventsourcing.projection` has them.
//!
//! - [`Application::subscribe`](crate::Application::subscribe) is the log as an endless
//!   [`Subscription`] stream: every notification after a position, then each new one.
//! - A [`Projection`] turns each notification into changes of its views (rows of JSON
//!   values under a view name and a key), reading the rows it updates.
//! - A [`ViewStore`] keeps the views and a tracking record (projection, upstream
//!   application) → the last notification processed, written together in one atomic,
//!   fenced commit: after a crash a view is never ahead of or behind its tracking record,
//!   so every notification has its effect exactly once. Stores: [`InMemoryViewStore`]
//!   here, DynamoDB (`eventsourcing_dynamodb::dynamodb::DynamoViewStore`) and PostgreSQL
//!   (the `eventsourcing-postgres` crate).
//! - A [`ProjectionRunner`] reads from the tracked position, runs the projection, and
//!   commits batches of notifications; `start` runs it as a tokio task, `run_until_idle`
//!   catches up once.
//!
//! A new projection (or a new name for a changed one) starts at position 0 and replays
//! the whole log; that is also how a view is rebuilt: give the projection a new name
//! (e.g. `tricks-v2`, writing views named after it), let it catch up, switch the queries,
//! and drop the old rows.
//!
//! ```
//! use eventsourcing_runtime::projection::{
//!     InMemoryViewStore, Projection, ProjectionRunner, ViewChanges, ViewStore,
//! };
//! use eventsourcing_runtime::system::Notified;
//! use eventsourcing_runtime::{Application, Result};
//! use std::sync::Arc;
//!
//! /// Counts the notifications of each topic.
//! struct TopicCount;
//!
//! impl Projection for TopicCount {
//!     fn name(&self) -> &str {
//!         "topic-count"
//!     }
//!
//!     async fn process(&self, event: &Notified, view: &mut ViewChanges<'_>) -> Result<()> {
//!         // With an aggregate of your own, match on `event.event::<Dog>()` instead.
//!         let count: u64 = view.get_as("topic_count", event.topic()).await?.unwrap_or(0);
//!         view.put("topic_count", event.topic(), &(count + 1))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
//! # use eventsourcing_runtime::persistence::StoredEvent;
//! let app = Application::builder("School").isolated().build().await?;
//! # let event = |version| StoredEvent { originator_id: eventsourcing_runtime::Uuid::nil(),
//! #     originator_version: version, topic: "demo:Noted".into(), state: b"{}".to_vec() };
//! # app.recorders().events.insert_events(vec![event(1), event(2)]).await?;
//! // Pick a store: in memory here; a DynamoViewStore or a PostgresViewStore the same way.
//! let store = Arc::new(InMemoryViewStore::new());
//! let runner = ProjectionRunner::new(&app, TopicCount, store.clone());
//! runner.run_until_idle().await?; // or `runner.start()` to follow the log as a task
//! assert_eq!(store.get("topic_count", "demo:Noted").await?, Some(2.into()));
//! assert_eq!(runner.position().await?, 2);
//! # Ok(())
//! # }
//! ```

mod runner;
mod subscription;
mod view;

pub use runner::{ProjectionRunner, RunnerSettings, RunningProjection};
pub use subscription::{Subscription, SubscriptionSettings};
pub use view::memory::InMemoryViewStore;
pub use view::{Absorbed, RowKey, ViewBatch, ViewChanges, ViewStore};

use crate::error::{Error, Result};
use crate::persistence::PersistenceError;
use crate::system::Notified;
use std::future::Future;

/// A read model: what each upstream notification changes in its views.
///
/// Implement it with a plain `async fn`, as a [`Policy`](crate::system::Policy). It may
/// run more than once for a notification (after a crash, or when a commit failed), but
/// only one run's changes are ever committed, with the tracking record. An error it
/// returns stops the runner with [`ProjectionError::Failed`] naming the notification.
pub trait Projection: Send + Sync + 'static {
    /// The projection's name: the key of its tracking record. A new name starts over.
    fn name(&self) -> &str;

    /// Records in `view` what notification `event` changes.
    fn process(
        &self,
        event: &Notified,
        view: &mut ViewChanges<'_>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Why a [`ProjectionRunner`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The projection failed on a notification, or it did not decode (a poison
    /// notification). The cause is the [`source`](std::error::Error::source). Nothing of
    /// it was written; after a fix the runner resumes at it.
    #[error(
        "projection {projection} could not process notification {notification_id} of {upstream}"
    )]
    Failed {
        /// The projection.
        projection: String,
        /// The upstream application.
        upstream: String,
        /// The notification.
        notification_id: u64,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// One notification's changes do not fit in one atomic write of the view store;
    /// they are never split.
    #[error(
        "projection {projection}: the view changes of notification {notification_id} of \
         {upstream} are too large for one atomic write: {source}"
    )]
    TooLarge {
        /// The projection.
        projection: String,
        /// The upstream application.
        upstream: String,
        /// The notification.
        notification_id: u64,
        /// The limit exceeded.
        #[source]
        source: PersistenceError,
    },
    /// Another runner of the same projection committed first (its tracking record is
    /// not where this runner started); this one wrote nothing and stops.
    #[error(
        "projection {projection}: the tracking record of {upstream} moved under this runner \
         (another runner of the projection?) when it committed up to notification \
         {notification_id}; nothing was written"
    )]
    Fenced {
        /// The projection.
        projection: String,
        /// The upstream application.
        upstream: String,
        /// The last notification of the refused commit.
        notification_id: u64,
    },
    /// The view store or the upstream log failed for good (or kept failing).
    #[error(
        "projection {projection} stopped after notification {position} of {upstream}: {source}"
    )]
    Store {
        /// The projection.
        projection: String,
        /// The upstream application.
        upstream: String,
        /// The tracked position when it stopped.
        position: u64,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// The runner's task panicked.
    #[error("projection runner panicked: {0}")]
    Panicked(String),
}

impl ProjectionError {
    /// The notification the runner stopped at, when one is to blame.
    pub fn notification_id(&self) -> Option<u64> {
        match self {
            ProjectionError::Failed { notification_id, .. }
            | ProjectionError::TooLarge { notification_id, .. }
            | ProjectionError::Fenced { notification_id, .. } => Some(*notification_id),
            _ => None,
        }
    }
}
