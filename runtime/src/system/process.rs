use super::decoders::Notified;
use crate::application::{Application, Cached, Saveable};
use crate::error::{Error, Result};
use crate::persistence::{PersistenceError, StoredEvent, Tracking};
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

/// What a process application does with each upstream event: plain Rust that matches on the
/// upstream aggregate's generated event enum and records events on its own aggregates.
///
/// Implement it with a plain `async fn` (no attribute needed):
///
/// ```
/// # use eventsourcing_runtime::{Result, system::{Notified, Policy, Processing}};
/// struct Ignore;
///
/// impl Policy for Ignore {
///     async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
///         let _ = (notified.topic(), processing.app().name());
///         Ok(())
///     }
/// }
/// ```
///
/// A policy may run more than once for the same notification (after a crash, or when its
/// write conflicted), but only one run's events are ever recorded. An error it returns
/// (other than a transient store failure, which is retried) stops its follower or skips
/// the notification, as [`SystemBuilder::on_failure`](super::SystemBuilder::on_failure) says.
pub trait Policy: Send + Sync + 'static {
    /// Handles one notification; aggregates changed here are saved with
    /// [`Processing::collect`].
    fn process(
        &self,
        event: &Notified,
        processing: &mut Processing,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The events a policy produced for one notification, recorded atomically with its tracking.
pub struct Processing {
    app: Arc<Application>,
    events: Vec<StoredEvent>,
    /// The collected aggregates as saved, for the cache once the write commits.
    saved: Vec<Box<dyn Cached>>,
}

impl std::fmt::Debug for Processing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processing")
            .field("app", &self.app.name())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Processing {
    fn empty(app: &Arc<Application>) -> Self {
        Processing { app: Arc::clone(app), events: Vec::new(), saved: Vec::new() }
    }

    /// The process application (to load its aggregates).
    pub fn app(&self) -> &Application {
        &self.app
    }

    /// Takes the pending events of `aggregates` (one `&mut` aggregate, a tuple of them, or a
    /// slice), to be recorded with the tracking record.
    pub fn collect(&mut self, mut aggregates: impl Saveable) -> Result<()> {
        let mut pending = Vec::new();
        aggregates.pending_into(&mut pending);
        for aggregate in pending.iter() {
            aggregate.encode_pending(self.app.mapper(), &mut self.events)?;
        }
        if self.app.cache().is_some() {
            self.saved.extend(pending.iter().map(|aggregate| aggregate.saved_entry()));
        }
        for aggregate in pending.iter_mut() {
            aggregate.mark_saved();
        }
        Ok(())
    }
}

/// An application that follows others: an [`Application`] (whose own log others may follow)
/// with a [`Policy`].
pub struct ProcessApplication<P> {
    app: Arc<Application>,
    policy: P,
    metrics: crate::metrics::FollowerMetrics,
}

impl<P> std::fmt::Debug for ProcessApplication<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessApplication").field("name", &self.app.name()).finish_non_exhaustive()
    }
}

impl<P> Deref for ProcessApplication<P> {
    type Target = Application;

    fn deref(&self) -> &Application {
        &self.app
    }
}

impl<P> AsRef<Application> for ProcessApplication<P> {
    fn as_ref(&self) -> &Application {
        &self.app
    }
}

/// How many times one notification is processed again when the policy's write conflicts
/// with another writer of the same aggregates.
const CONFLICT_ATTEMPTS: u32 = 10;

/// Whether an error may go away by itself (the store unreachable or timing out, or a
/// tracked write whose outcome could not be learnt): the follower retries those, and stops
/// or skips on everything else. Retrying an unknown outcome is safe: if the write did
/// commit, its tracking record makes the retry a no-op.
pub(crate) fn is_transient(error: &Error) -> bool {
    matches!(
        error,
        Error::Persistence(
            PersistenceError::Operational { .. } | PersistenceError::OutcomeUnknown { .. }
        )
    )
}

impl<P: Policy> ProcessApplication<P> {
    /// A process application running `policy` on `app`'s store.
    pub fn new(app: Application, policy: P) -> Self {
        ProcessApplication { app: Arc::new(app), policy, metrics: Default::default() }
    }

    /// The application.
    pub fn app(&self) -> &Application {
        &self.app
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// Processes the next notifications of `upstream` after the last tracked one, at most
    /// `limit` of them; returns how many were processed (0 when caught up).
    ///
    /// A notification that does not decode, or whose policy fails, is
    /// [`Error::Follower`] naming it; transient store failures come back as they are.
    pub async fn pull(&self, upstream: &Application, limit: usize) -> Result<usize> {
        let recorder = &self.app.recorders().events;
        let start = recorder.max_tracking_id(upstream.name()).await? + 1;
        let notifications = upstream.notification_log().select(start, limit, None, &[]).await?;
        let count = notifications.len();
        for notification in notifications {
            let notification_id = notification.id;
            let processed = match Notified::decode(upstream.name(), notification, upstream.mapper())
            {
                Ok(notified) => self.process(&notified).await,
                Err(error) => Err(error),
            };
            match processed {
                Ok(()) => {}
                Err(error) if is_transient(&error) => return Err(error),
                Err(error) => {
                    return Err(Error::Follower {
                        follower: self.app.name().to_owned(),
                        upstream: upstream.name().to_owned(),
                        notification_id,
                        source: Box::new(error),
                    })
                }
            }
        }
        Ok(count)
    }

    /// Runs the policy for one notification and records its events with the tracking
    /// record. Already processed: nothing happens.
    #[tracing::instrument(
        name = "policy",
        skip_all,
        fields(
            follower = self.app.name(),
            upstream = %notified.upstream,
            notification_id = notified.notification.id,
            topic = notified.topic(),
            attempts = tracing::field::Empty,
            events = tracing::field::Empty,
            outcome = tracing::field::Empty,
        )
    )]
    pub async fn process(&self, notified: &Notified) -> Result<()> {
        let span = tracing::Span::current();
        let tracking = Tracking {
            application_name: notified.upstream.clone(),
            notification_id: notified.notification.id,
        };
        let recorder = &self.app.recorders().events;
        let mut attempt = 0;
        loop {
            attempt += 1;
            span.record("attempts", attempt);
            let mut processing = Processing::empty(&self.app);
            self.policy.process(notified, &mut processing).await?;
            let count = processing.events.len();
            span.record("events", count);
            let written = recorder.insert_events_tracked(processing.events, tracking.clone()).await;
            if let Some(cache) = self.app.cache() {
                // As after `Application::save`: the cache holds what was written, and
                // nothing that was not (the policy may have loaded and changed a copy).
                for entry in processing.saved {
                    match written {
                        Ok(_) => cache.put(entry),
                        Err(_) => cache.evict(entry.cached_id()),
                    }
                }
            }
            let metrics = self.app.metrics();
            match &written {
                Ok(_) => {
                    span.record("outcome", "committed");
                    if count > 0 {
                        metrics.saved(count);
                    }
                }
                Err(error) => {
                    span.record("outcome", metrics.failure(error));
                }
            }
            match written {
                Ok(_) => {
                    self.metrics.processed(&metrics.name, &tracking);
                    self.app.prompt_followers();
                    return Ok(());
                }
                Err(PersistenceError::TrackingConflict { .. }) => return Ok(()),
                Err(error) if error.is_conflict() && attempt < CONFLICT_ATTEMPTS => {
                    crate::metrics::retried("policy");
                    tracing::debug!(
                        app = self.app.name(),
                        id = tracking.notification_id,
                        "policy write conflicted; processing again"
                    );
                }
                Err(error) => {
                    if error.is_conflict() {
                        crate::metrics::gave_up("policy");
                        tracing::warn!(
                            app = self.app.name(),
                            id = tracking.notification_id,
                            attempts = attempt,
                            "policy write conflicted on every attempt; giving up"
                        );
                    }
                    return Err(Error::Persistence(error));
                }
            }
        }
    }

    /// Runs the policy for one notification and returns the events it collected, writing
    /// nothing (for [`crate::testing::PolicyTest`]).
    pub(crate) async fn collect_without_saving(
        &self,
        notified: &Notified,
    ) -> Result<Vec<StoredEvent>> {
        let mut processing = Processing::empty(&self.app);
        self.policy.process(notified, &mut processing).await?;
        Ok(processing.events)
    }

    /// Records notification `notification_id` of `upstream` as processed without running the
    /// policy (a tracking record with no events), so that a follower moves past a
    /// notification it cannot process. Already processed: nothing happens.
    pub async fn skip(&self, upstream: &str, notification_id: u64) -> Result<()> {
        let tracking = Tracking { application_name: upstream.to_owned(), notification_id };
        match self.app.recorders().events.insert_events_tracked(Vec::new(), tracking.clone()).await
        {
            Ok(_) => {
                self.metrics.skipped(&self.app.metrics().name, &tracking);
                Ok(())
            }
            Err(PersistenceError::TrackingConflict { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// A boxed future, for the object-safe [`Follow`].
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A process application of any policy, as a system drives it.
pub(crate) trait Follow: Send + Sync {
    fn app(&self) -> &Application;
    fn pull<'a>(&'a self, upstream: &'a Application, limit: usize) -> BoxFuture<'a, Result<usize>>;
    fn skip<'a>(&'a self, upstream: &'a str, notification_id: u64) -> BoxFuture<'a, Result<()>>;
}

impl<P: Policy> Follow for ProcessApplication<P> {
    fn app(&self) -> &Application {
        &self.app
    }

    fn pull<'a>(&'a self, upstream: &'a Application, limit: usize) -> BoxFuture<'a, Result<usize>> {
        Box::pin(ProcessApplication::pull(self, upstream, limit))
    }

    fn skip<'a>(&'a self, upstream: &'a str, notification_id: u64) -> BoxFuture<'a, Result<()>> {
        Box::pin(ProcessApplication::skip(self, upstream, notification_id))
    }
}
