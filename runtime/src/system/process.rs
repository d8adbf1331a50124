use super::decoders::Notified;
use crate::application::{Application, Cached, Pending};
use crate::error::{Error, Result};
use crate::persistence::{PersistenceError, StoredEvent, Tracking};
use async_trait::async_trait;
use std::ops::Deref;

/// What a process application does with each upstream event: plain Rust that matches on the
/// upstream aggregate's generated event enum and records events on its own aggregates.
///
/// A policy may run more than once for the same notification (after a crash, or when its
/// write conflicted), but only one run's events are ever recorded.
#[async_trait]
pub trait Policy: Send + Sync + 'static {
    /// Handles one notification; aggregates changed here are saved with
    /// [`Processing::collect`].
    async fn process(&self, event: &Notified, processing: &mut Processing<'_>) -> Result<()>;
}

/// The events a policy produced for one notification, recorded atomically with its tracking.
pub struct Processing<'a> {
    app: &'a Application,
    events: Vec<StoredEvent>,
    /// The collected aggregates as saved, for the cache once the write commits.
    saved: Vec<Box<dyn Cached>>,
}

impl<'a> Processing<'a> {
    /// The process application (to load its aggregates).
    pub fn app(&self) -> &'a Application {
        self.app
    }

    /// Takes the pending events of `aggregates`, to be recorded with the tracking record.
    pub fn collect(&mut self, aggregates: &mut [&mut dyn Pending]) -> Result<()> {
        for aggregate in aggregates.iter() {
            aggregate.encode_pending(self.app.mapper(), &mut self.events)?;
        }
        if self.app.cache().is_some() {
            self.saved.extend(aggregates.iter().map(|aggregate| aggregate.saved_entry()));
        }
        for aggregate in aggregates.iter_mut() {
            aggregate.mark_saved();
        }
        Ok(())
    }
}

/// An application that follows others: an [`Application`] (whose own log others may follow)
/// with a [`Policy`].
pub struct ProcessApplication {
    app: Application,
    policy: Box<dyn Policy>,
}

impl std::fmt::Debug for ProcessApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessApplication").field("name", &self.app.name()).finish_non_exhaustive()
    }
}

impl Deref for ProcessApplication {
    type Target = Application;

    fn deref(&self) -> &Application {
        &self.app
    }
}

/// How many times one notification is processed again when the policy's write conflicts
/// with another writer of the same aggregates.
const CONFLICT_ATTEMPTS: u32 = 10;

impl ProcessApplication {
    /// A process application running `policy` on `app`'s store.
    pub fn new(app: Application, policy: impl Policy) -> Self {
        ProcessApplication { app, policy: Box::new(policy) }
    }

    /// The application.
    pub fn app(&self) -> &Application {
        &self.app
    }

    /// Processes the next notifications of `upstream` after the last tracked one, at most
    /// `limit` of them; returns how many were processed (0 when caught up).
    pub async fn pull(&self, upstream: &Application, limit: usize) -> Result<usize> {
        let recorder = &self.app.recorders().events;
        let start = recorder.max_tracking_id(upstream.name()).await? + 1;
        let notifications = upstream.notification_log().select(start, limit, None, &[]).await?;
        let count = notifications.len();
        for notification in notifications {
            let notified = Notified::decode(upstream.name(), notification, upstream.mapper())?;
            self.process(&notified).await?;
        }
        Ok(count)
    }

    /// Runs the policy for one notification and records its events with the tracking
    /// record. Already processed: nothing happens.
    pub async fn process(&self, notified: &Notified) -> Result<()> {
        let tracking = Tracking {
            application_name: notified.upstream.clone(),
            notification_id: notified.notification.id,
        };
        let recorder = &self.app.recorders().events;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut processing =
                Processing { app: &self.app, events: Vec::new(), saved: Vec::new() };
            self.policy.process(notified, &mut processing).await?;
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
            match written {
                Ok(_) => {
                    self.app.prompt_followers();
                    return Ok(());
                }
                Err(PersistenceError::TrackingConflict { .. }) => return Ok(()),
                Err(error) if error.is_conflict() && attempt < CONFLICT_ATTEMPTS => {
                    tracing::debug!(
                        app = self.app.name(),
                        id = tracking.notification_id,
                        "policy write conflicted; processing again"
                    );
                }
                Err(error) => return Err(Error::Persistence(error)),
            }
        }
    }
}
