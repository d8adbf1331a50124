//! [`ProjectionRunner`]: keeps a view up to date with an upstream application's log.

use super::view::{ViewBatch, ViewChanges, ViewStore};
use super::{Projection, ProjectionError, SubscriptionSettings};
use crate::application::{Application, AsApplication};
use crate::error::Error;
use crate::persistence::{Notification, PersistenceError};
use crate::system::{is_transient, Notified};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How a [`ProjectionRunner`] batches and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerSettings {
    /// The most notifications written in one atomic commit (at least 1). A batch also
    /// ends when no further notification is ready, and before it would exceed the store's
    /// limits.
    pub batch: usize,
    /// How many times in a row a transient store failure is retried before the runner
    /// stops with it.
    pub retries: u32,
    /// The longest pause between retries (they double from 10 ms).
    pub max_backoff: Duration,
    /// How the runner reads the upstream log.
    pub subscription: SubscriptionSettings,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            batch: 100,
            retries: 10,
            max_backoff: Duration::from_secs(2),
            subscription: SubscriptionSettings::default(),
        }
    }
}

/// Runs a [`Projection`] on the notifications of an upstream application, from the
/// position its view store tracked: after a crash or a restart it resumes there, and a new
/// projection replays the whole log.
///
/// Every batch of notifications is committed with the tracking record in one atomic,
/// fenced write ([`ViewStore::commit`]), so each notification has its effect exactly once.
/// A notification the projection cannot process (it fails, or the event does not decode)
/// stops the runner with [`ProjectionError::Failed`]; nothing is skipped and nothing is
/// retried in a loop. Transient store failures are retried from the tracked position
/// with bounded backoff ([`RunnerSettings`]).
pub struct ProjectionRunner<P> {
    upstream: Application,
    projection: Arc<P>,
    store: Arc<dyn ViewStore>,
    settings: RunnerSettings,
}

impl<P> std::fmt::Debug for ProjectionRunner<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("upstream", &self.upstream.name())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<P> Clone for ProjectionRunner<P> {
    fn clone(&self) -> Self {
        ProjectionRunner {
            upstream: self.upstream.clone(),
            projection: Arc::clone(&self.projection),
            store: Arc::clone(&self.store),
            settings: self.settings,
        }
    }
}

/// What a run has done so far.
struct Tally {
    processed: u64,
    /// The tracked position, for [`RunningProjection::wait_for`].
    position: watch::Sender<u64>,
}

/// What one notification's processing gave.
enum Step {
    /// The batch took it.
    Taken,
    /// The batch is full (or would be too large): commit it first.
    Full,
}

impl<P: Projection> ProjectionRunner<P> {
    /// A runner of `projection` on `upstream`'s log, keeping its views in `store`.
    pub fn new(upstream: &impl AsApplication, projection: P, store: Arc<dyn ViewStore>) -> Self {
        ProjectionRunner {
            upstream: upstream.application().clone(),
            projection: Arc::new(projection),
            store,
            settings: RunnerSettings::default(),
        }
    }

    /// Other batching and retrying.
    pub fn with_settings(mut self, settings: RunnerSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The view store.
    pub fn store(&self) -> &Arc<dyn ViewStore> {
        &self.store
    }

    /// How far the view got in the upstream log.
    pub async fn position(&self) -> Result<u64, PersistenceError> {
        self.store.max_tracking_id(self.projection.name(), self.upstream.name()).await
    }

    /// Processes every notification recorded before the call (for tests and scripts), and
    /// returns how many it processed.
    pub async fn run_until_idle(&self) -> Result<u64, ProjectionError> {
        // Everything committed before the call, also what a sequenced log has yet to log.
        let end = async {
            self.upstream.recorders().events.sync_log().await?;
            self.upstream.notification_log().max_notification_id().await
        };
        let end = end.await.map_err(|error: Error| self.store_error(0, error))?;
        let (_stop, mut stopped) = watch::channel(false);
        let mut tally = Tally { processed: 0, position: watch::Sender::new(0) };
        self.run(Some(end), &mut stopped, &mut tally).await
    }

    /// Starts the runner as a tokio task, following the upstream log until stopped.
    pub fn start(&self) -> RunningProjection {
        let (stop, mut stopped) = watch::channel(false);
        let position = watch::Sender::new(0);
        let mut tally = Tally { processed: 0, position: position.clone() };
        let runner = self.clone();
        let task =
            tokio::spawn(
                async move { runner.run(None, &mut stopped, &mut tally).await.map(|_| ()) },
            );
        RunningProjection {
            stop,
            task,
            position: position.subscribe(),
            upstream: self.upstream.clone(),
        }
    }

    fn name(&self) -> String {
        self.projection.name().to_owned()
    }

    fn store_error(&self, position: u64, source: Error) -> ProjectionError {
        ProjectionError::Store {
            projection: self.name(),
            upstream: self.upstream.name().to_owned(),
            position,
            source: Box::new(source),
        }
    }

    /// Follows the log from the tracked position, up to `until` (or until stopped).
    async fn run(
        &self,
        until: Option<u64>,
        stopped: &mut watch::Receiver<bool>,
        tally: &mut Tally,
    ) -> Result<u64, ProjectionError> {
        let mut failures = 0u32;
        let mut backoff = Duration::from_millis(10);
        loop {
            let before = tally.processed;
            let outcome = self.follow(until, stopped, tally).await;
            if tally.processed > before {
                failures = 0;
                backoff = Duration::from_millis(10);
            }
            match outcome {
                Ok(()) => return Ok(tally.processed),
                Err((position, error))
                    if is_transient(&error) && failures < self.settings.retries =>
                {
                    failures += 1;
                    tracing::warn!(
                        projection = self.projection.name(),
                        upstream = self.upstream.name(),
                        position,
                        %error,
                        "view store or upstream log failed; resuming from the tracked position"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped.changed() => return Ok(tally.processed),
                    }
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                }
                Err((position, error)) => return Err(self.classify(position, error)),
            }
        }
    }

    /// A failure that retrying will not cure, as the runner reports it.
    fn classify(&self, position: u64, error: Error) -> ProjectionError {
        let upstream = self.upstream.name().to_owned();
        match error {
            Error::Persistence(PersistenceError::TrackingConflict { notification_id, .. }) => {
                ProjectionError::Fenced { projection: self.name(), upstream, notification_id }
            }
            Error::Persistence(source @ PersistenceError::LimitExceeded { .. }) => {
                ProjectionError::TooLarge {
                    projection: self.name(),
                    upstream,
                    notification_id: position + 1,
                    source,
                }
            }
            Error::Follower { upstream, notification_id, source, .. } => ProjectionError::Failed {
                projection: self.name(),
                upstream,
                notification_id,
                source,
            },
            other => self.store_error(position, other),
        }
    }

    /// One pass from the tracked position; an error comes with the position it was at.
    async fn follow(
        &self,
        until: Option<u64>,
        stopped: &mut watch::Receiver<bool>,
        tally: &mut Tally,
    ) -> Result<(), (u64, Error)> {
        let position = self.position().await.map_err(|e| (0, e.into()))?;
        tally.position.send_replace(position);
        if until.is_some_and(|end| position >= end) {
            return Ok(());
        }
        let mut subscription = self.upstream.subscribe_with(position, self.settings.subscription);
        let mut batch = ViewBatch::new(self.upstream.name(), position);
        loop {
            let next = match batch.notifications() {
                // Nothing to commit: wait for the next notification, or a stop.
                0 => tokio::select! {
                    next = subscription.next() => next,
                    _ = stopped.changed() => return Ok(()),
                },
                // Take more only while they are ready at once; else commit what there is.
                _ => match subscription.next_ready() {
                    Some(next) => Some(Ok(next)),
                    None => {
                        self.commit(&mut batch, tally).await?;
                        continue;
                    }
                },
            };
            let notification = match next {
                Some(Ok(notification)) => notification,
                Some(Err(error)) => return Err((batch.previous, error)),
                None => return Ok(()),
            };
            let id = notification.id;
            let rows = match self.process(notification, &batch).await {
                Ok(rows) => rows,
                Err(failure) => {
                    // Keep what the notifications before it did: the runner stops right
                    // before the one that failed, and resumes there.
                    self.commit(&mut batch, tally).await?;
                    return Err(failure);
                }
            };
            let undo = batch.absorb(id, rows);
            let step = match self.store.check_limits(&batch) {
                Ok(()) if batch.notifications() < self.settings.batch as u64 => Step::Taken,
                Ok(()) => Step::Full,
                // Too large only with this notification: commit the batch before it, then
                // this notification alone, which must fit by itself.
                Err(_) if batch.notifications() > 1 => {
                    let rows = batch.undo(undo);
                    self.commit(&mut batch, tally).await?;
                    batch.absorb(id, rows);
                    self.store
                        .check_limits(&batch)
                        .map_err(|error| (batch.previous, error.into()))?;
                    Step::Full
                }
                Err(error) => return Err((batch.previous, error.into())),
            };
            if matches!(step, Step::Full) || until.is_some_and(|end| batch.last >= end) {
                self.commit(&mut batch, tally).await?;
            }
            if until.is_some_and(|end| batch.previous >= end) {
                return Ok(());
            }
        }
    }

    /// Decodes a notification with the upstream's mapper (its cipher, compressor and
    /// upcasters) and runs the projection on it. Its failure comes back as
    /// [`Error::Follower`] naming the notification.
    async fn process(
        &self,
        notification: Notification,
        batch: &ViewBatch,
    ) -> Result<
        std::collections::BTreeMap<super::view::RowKey, Option<serde_json::Value>>,
        (u64, Error),
    > {
        let id = notification.id;
        let upstream = self.upstream.name();
        let mut changes = ViewChanges::new(self.store.as_ref(), batch);
        let outcome = match Notified::decode(upstream, notification, self.upstream.mapper()) {
            Ok(notified) => self.projection.process(&notified, &mut changes).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => Ok(changes.into_rows()),
            // A read of the view that failed for a while is the store's, not the event's.
            Err(error) if is_transient(&error) => Err((batch.previous, error)),
            Err(error) => Err((
                batch.previous,
                Error::Follower {
                    follower: self.name(),
                    upstream: upstream.to_owned(),
                    notification_id: id,
                    source: Box::new(error),
                },
            )),
        }
    }

    async fn commit(&self, batch: &mut ViewBatch, tally: &mut Tally) -> Result<(), (u64, Error)> {
        if batch.notifications() == 0 {
            return Ok(());
        }
        self.store
            .commit(self.projection.name(), batch)
            .await
            .map_err(|error| (batch.previous, error.into()))?;
        tally.processed += batch.notifications();
        tally.position.send_replace(batch.last);
        *batch = ViewBatch::new(batch.upstream.clone(), batch.last);
        Ok(())
    }
}

/// A [`ProjectionRunner`] running as a tokio task.
#[derive(Debug)]
pub struct RunningProjection {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ProjectionError>>,
    position: watch::Receiver<u64>,
    upstream: Application,
}

impl RunningProjection {
    /// The position the runner has committed up to (0 until it has read its tracking
    /// record).
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// Waits until the runner has committed notification `id`; `false` when it stopped
    /// first ([`RunningProjection::join`] tells why).
    pub async fn wait_for(&self, id: u64) -> bool {
        let mut position = self.position.clone();
        let reached = position.wait_for(|position| *position >= id).await.is_ok();
        reached
    }

    /// Waits until the runner has processed everything recorded upstream before the call;
    /// `Ok(false)` when it stopped first.
    pub async fn catch_up(&self) -> crate::error::Result<bool> {
        self.upstream.recorders().events.sync_log().await?;
        let end = self.upstream.notification_log().max_notification_id().await?;
        Ok(self.wait_for(end).await)
    }

    /// Stops the runner (after committing the batch it is writing) and waits for it;
    /// returns the error it stopped with, if it stopped by itself.
    pub async fn stop(self) -> Result<(), ProjectionError> {
        let _ = self.stop.send(true);
        self.join().await
    }

    /// Waits for the runner to stop by itself (with an error: it runs until stopped).
    pub async fn join(self) -> Result<(), ProjectionError> {
        match self.task.await {
            Ok(outcome) => outcome,
            Err(error) if error.is_cancelled() => Ok(()),
            Err(error) => Err(ProjectionError::Panicked(error.to_string())),
        }
    }

    /// Whether the runner has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Aborts the runner wherever it is, as a crash would, and waits until it is gone (a
    /// task that is being polled on another thread ends at its next await).
    pub async fn abort(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
