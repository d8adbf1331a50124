//! The application layer: [`Application`] saves aggregates atomically, its [`Repository`]
//! loads them, and its [`NotificationLog`] reads back everything it recorded in order.

mod log;
mod repository;

pub use log::NotificationLog;
pub use repository::Repository;

use crate::domain::{Aggregate, Root};
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::persistence::{open_recorders, EncodeError, Mapper, Recorders, StoredEvent};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Something with events to save: every [`Root`].
pub trait Pending: Send {
    /// Appends the encoded pending events to `out`.
    fn encode_pending(
        &self,
        mapper: &Mapper,
        out: &mut Vec<StoredEvent>,
    ) -> Result<(), EncodeError>;

    /// Forgets the pending events once they are stored.
    fn mark_saved(&mut self);
}

impl<A: Aggregate> Pending for Root<A> {
    fn encode_pending(
        &self,
        mapper: &Mapper,
        out: &mut Vec<StoredEvent>,
    ) -> Result<(), EncodeError> {
        for event in self.pending_events() {
            out.push(mapper.to_stored(event)?);
        }
        Ok(())
    }

    fn mark_saved(&mut self) {
        self.clear_pending();
    }
}

/// How often a command is retried when other writers keep saving the same aggregate first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times the command runs at most (at least 1).
    pub attempts: u32,
    /// The first pause between attempts; it doubles (with jitter) each time.
    pub first_delay: Duration,
    /// The longest pause between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 20,
            first_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(500),
        }
    }
}

/// An event-sourced application: a named set of aggregates in one store.
///
/// Wrap it in your own type (and `Deref` to it) to add your application's methods, as a
/// Python `Application` subclass does.
pub struct Application {
    name: String,
    env: Environment,
    recorders: Recorders,
    mapper: Arc<Mapper>,
    repository: Repository,
    log: NotificationLog,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Builds an [`Application`] with configuration given in code.
#[derive(Debug)]
pub struct ApplicationBuilder {
    name: String,
    env: HashMap<String, String>,
    isolated: bool,
    recorders: Option<Recorders>,
    retry: RetryPolicy,
}

impl ApplicationBuilder {
    /// Sets a configuration value; it beats the process environment.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Ignores the process environment: only values given with [`ApplicationBuilder::env`] count.
    pub fn isolated(mut self) -> Self {
        self.isolated = true;
        self
    }

    /// Uses these recorders instead of opening the store `PERSISTENCE_MODULE` names.
    pub fn recorders(mut self, recorders: Recorders) -> Self {
        self.recorders = Some(recorders);
        self
    }

    /// Sets how [`Application::update`] retries on conflicts.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Opens the store and returns the application.
    pub async fn build(self) -> Result<Application> {
        let env = match self.isolated {
            true => Environment::isolated(&self.name, self.env),
            false => Environment::new(&self.name, self.env),
        };
        let recorders = match self.recorders {
            Some(recorders) => recorders,
            None => open_recorders(&env).await?,
        };
        let mapper = Arc::new(Mapper::new());
        let repository = Repository::new(recorders.events.clone(), mapper.clone());
        let log = NotificationLog::new(recorders.events.clone());
        Ok(Application {
            name: self.name,
            env,
            recorders,
            mapper,
            repository,
            log,
            retry: self.retry,
        })
    }
}

impl Application {
    /// The application `name`, configured from the process environment.
    pub async fn new(name: impl Into<String>) -> Result<Self> {
        Self::builder(name).build().await
    }

    /// A builder for the application `name`.
    pub fn builder(name: impl Into<String>) -> ApplicationBuilder {
        ApplicationBuilder {
            name: name.into(),
            env: HashMap::new(),
            isolated: false,
            recorders: None,
            retry: RetryPolicy::default(),
        }
    }

    /// The application's name (the prefix of its environment variables, in upper case).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The application's configuration.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// Loads aggregates.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// Everything this application recorded, in order.
    pub fn notification_log(&self) -> &NotificationLog {
        &self.log
    }

    /// The store's recorders.
    pub fn recorders(&self) -> &Recorders {
        &self.recorders
    }

    /// The mapper between events and stored records.
    pub fn mapper(&self) -> &Mapper {
        &self.mapper
    }

    /// Saves the pending events of all `aggregates` in one atomic write and returns their
    /// notification ids. If any event conflicts with a stored one, nothing is written, the
    /// error names the aggregate and version, and the aggregates keep their pending events.
    pub async fn save(&self, aggregates: &mut [&mut dyn Pending]) -> Result<Vec<u64>> {
        let mut events = Vec::new();
        for aggregate in aggregates.iter() {
            aggregate.encode_pending(&self.mapper, &mut events)?;
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.recorders.events.insert_events(events).await?;
        for aggregate in aggregates.iter_mut() {
            aggregate.mark_saved();
        }
        Ok(ids)
    }

    /// Loads aggregate `id`, runs `command` on it and saves what it recorded. When another
    /// writer saved first, reloads and runs `command` again, up to the [`RetryPolicy`]'s
    /// attempts, pausing with jittered exponential backoff in between.
    ///
    /// `command` may run more than once, so it should only record events on the aggregate.
    pub async fn update<A, R>(
        &self,
        id: Uuid,
        mut command: impl FnMut(&mut Root<A>) -> R,
    ) -> Result<R>
    where
        A: Aggregate,
    {
        let attempts = self.retry.attempts.max(1);
        let mut delay = self.retry.first_delay;
        let mut latest = self.repository.get::<A>(id).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The command runs on a copy, so that a conflict leaves `latest` clean to catch up.
            let mut aggregate = latest.clone();
            let outcome = command(&mut aggregate);
            match self.save(&mut [&mut aggregate]).await {
                Ok(_) => return Ok(outcome),
                Err(Error::Persistence(error)) if error.is_conflict() => {
                    if attempt >= attempts {
                        return Err(Error::RetriesExhausted { id, attempts: attempt, last: error });
                    }
                    tracing::debug!(%id, attempt, "conflict; retrying command");
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                    self.repository.catch_up(&mut latest).await?;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// A random pause of up to `delay` ("full jitter"), so that racing writers spread out.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(fastrand::f64())
}
