//! The application layer: [`Application`] saves aggregates atomically, its [`Repository`]
//! loads them, and its [`NotificationLog`] reads back everything it recorded in order.

mod cache;
mod log;
mod repository;
pub mod snapshot;

pub use cache::{AggregateCache, Cached};
pub use log::NotificationLog;
pub use repository::Repository;

use crate::domain::{Aggregate, AggregateState, Root};
use crate::environment::Environment;
use crate::error::{Error, Result, UpdateError};
use crate::persistence::{
    open_recorders, EncodeError, Mapper, PersistenceError, Recorders, StoredEvent,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Something with events to save: every [`Root`].
pub trait Pending: Send + Sync {
    /// Appends the encoded pending events to `out`.
    fn encode_pending(
        &self,
        mapper: &Mapper,
        out: &mut Vec<StoredEvent>,
    ) -> Result<(), EncodeError>;

    /// Forgets the pending events once they are stored.
    fn mark_saved(&mut self);

    /// The aggregate's id.
    fn pending_id(&self) -> Uuid;

    /// The aggregate type's topic (to find its snapshot interval).
    fn aggregate_topic(&self) -> &'static str;

    /// The versions of the pending events, first and last.
    fn pending_versions(&self) -> Option<(u64, u64)>;

    /// A snapshot of the aggregate at its current version.
    fn encode_snapshot(&self, mapper: &Mapper) -> Result<StoredEvent, EncodeError>;

    /// Updates the aggregate cache once the pending events are stored.
    fn update_cache(&self, cache: &AggregateCache);

    /// A copy without pending events, for the cache once the events are stored elsewhere
    /// (a process application's tracked write).
    fn saved_entry(&self) -> Box<dyn Cached>;
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

    fn pending_id(&self) -> Uuid {
        self.id()
    }

    fn aggregate_topic(&self) -> &'static str {
        <A as AggregateState>::topic()
    }

    fn pending_versions(&self) -> Option<(u64, u64)> {
        let pending = self.pending_events();
        Some((pending.first()?.originator_version, pending.last()?.originator_version))
    }

    fn encode_snapshot(&self, mapper: &Mapper) -> Result<StoredEvent, EncodeError> {
        snapshot::encode(mapper, self)
    }

    fn update_cache(&self, cache: &AggregateCache) {
        cache.saved(self);
    }

    fn saved_entry(&self) -> Box<dyn Cached> {
        Box::new(self.without_pending())
    }
}

/// A snapshot due after a save: the aggregate, its version, and the encoded snapshot.
type DueSnapshot = (Uuid, u64, Result<StoredEvent>);

/// What [`Application::save`] (and [`crate::system::Processing::collect`]) take: one
/// `&mut Root<A>`, a `&mut dyn Pending`, a tuple of up to eight of these (of different
/// aggregate types), or an array, slice or `Vec` of one kind. Sealed.
pub trait Saveable: Send + sealed::Sealed {
    /// Appends the aggregates to `out`.
    fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>);
}

impl<A: Aggregate> sealed::Sealed for &mut Root<A> {}
impl<A: Aggregate> Saveable for &mut Root<A> {
    fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>) {
        out.push(&mut **self);
    }
}

impl sealed::Sealed for &mut dyn Pending {}
impl Saveable for &mut dyn Pending {
    fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>) {
        out.push(&mut **self);
    }
}

impl<T: Saveable> sealed::Sealed for &mut [T] {}
impl<T: Saveable> Saveable for &mut [T] {
    fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>) {
        for item in self.iter_mut() {
            item.pending_into(out);
        }
    }
}

impl<T: Saveable, const N: usize> sealed::Sealed for &mut [T; N] {}
impl<T: Saveable, const N: usize> Saveable for &mut [T; N] {
    fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>) {
        for item in self.iter_mut() {
            item.pending_into(out);
        }
    }
}

impl<T: Saveable> sealed::Sealed for &mut Vec<T> {}
impl<T: Saveable> Saveable for &mut Vec<T> {
    fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>) {
        for item in self.iter_mut() {
            item.pending_into(out);
        }
    }
}

impl<T: Saveable> sealed::Sealed for Vec<T> {}
impl<T: Saveable> Saveable for Vec<T> {
    fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>) {
        for item in self.iter_mut() {
            item.pending_into(out);
        }
    }
}

macro_rules! saveable_tuples {
    ($(($($name:ident $index:tt),+))+) => {$(
        impl<$($name: Saveable),+> sealed::Sealed for ($($name,)+) {}
        impl<$($name: Saveable),+> Saveable for ($($name,)+) {
            fn pending_into<'s>(&'s mut self, out: &mut Vec<&'s mut dyn Pending>) {
                $(self.$index.pending_into(out);)+
            }
        }
    )+};
}

saveable_tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// Gives your own application type the application's methods, in place of a Python
/// `Application` subclass: implement [`application`](AsApplication::application) (one
/// line), and `self.save(&mut dog)`, `self.repository()` and the rest work on it.
///
/// ```
/// # use eventsourcing_runtime::{Application, AsApplication};
/// pub struct TrainingSchool(Application);
///
/// impl AsApplication for TrainingSchool {
///     fn application(&self) -> &Application {
///         &self.0
///     }
/// }
/// ```
pub trait AsApplication: Send + Sync {
    /// The application inside.
    fn application(&self) -> &Application;

    /// [`Application::save`]: saves the pending events of `aggregates` in one atomic write.
    fn save(&self, aggregates: impl Saveable) -> impl Future<Output = Result<Vec<u64>>> + Send {
        self.application().save(aggregates)
    }

    /// [`Application::repository`]: loads aggregates.
    fn repository(&self) -> &Repository {
        self.application().repository()
    }

    /// [`Application::notification_log`]: everything this application recorded, in order.
    fn notification_log(&self) -> &NotificationLog {
        self.application().notification_log()
    }

    /// [`Application::update`]: runs a command with retries on conflict, saving on `Ok`.
    fn update<A, O>(
        &self,
        id: Uuid,
        command: impl FnMut(&mut Root<A>) -> O + Send,
    ) -> impl Future<Output = Result<O::Value, UpdateError<O::Error>>> + Send
    where
        A: Aggregate,
        O: CommandOutcome + Send,
        O::Value: Send,
        O::Error: Send,
    {
        self.application().update(id, command)
    }
}

impl AsApplication for Application {
    fn application(&self) -> &Application {
        self
    }
}

impl<T: AsApplication + ?Sized> AsApplication for Arc<T> {
    fn application(&self) -> &Application {
        (**self).application()
    }
}

impl<T: AsApplication + ?Sized> AsApplication for &T {
    fn application(&self) -> &Application {
        (**self).application()
    }
}

impl<P: Send + Sync> AsApplication for crate::system::ProcessApplication<P> {
    fn application(&self) -> &Application {
        self.as_ref()
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
/// Wrap it in your own type that implements [`AsApplication`] to add your application's
/// methods, where Python subclasses `Application`. Clones are handles to the same store.
#[derive(Clone)]
pub struct Application {
    name: String,
    /// Its metrics' keys.
    metrics: Arc<crate::metrics::ApplicationMetrics>,
    env: Environment,
    recorders: Recorders,
    mapper: Arc<Mapper>,
    repository: Repository,
    log: NotificationLog,
    retry: RetryPolicy,
    prompts: Arc<tokio::sync::Notify>,
    /// Snapshot intervals by aggregate topic; `None` when snapshotting is off.
    snapshotting: Option<Arc<HashMap<&'static str, u64>>>,
    cache: Option<Arc<AggregateCache>>,
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
    intervals: HashMap<&'static str, u64>,
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

    /// Takes a snapshot of every `A` each time its version passes a multiple of `interval`
    /// (Python's `snapshotting_intervals`); turns snapshotting on.
    pub fn snapshot_every<A: Aggregate>(mut self, interval: u64) -> Self {
        self.intervals.insert(<A as AggregateState>::topic(), interval.max(1));
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
        let mapper = Arc::new(Mapper::from_env(&env)?);
        let snapshotting = match env.get_bool("IS_SNAPSHOTTING_ENABLED")?.unwrap_or(false)
            || !self.intervals.is_empty()
        {
            true => Some(Arc::new(self.intervals)),
            false => None,
        };
        let cache = match env.get_i64("AGGREGATE_CACHE_MAXSIZE")? {
            None => None,
            Some(size) => {
                let fastforward = env.get_bool("AGGREGATE_CACHE_FASTFORWARD")?.unwrap_or(true);
                let capacity = usize::try_from(size).ok().filter(|size| *size > 0);
                Some(Arc::new(AggregateCache::new(capacity, fastforward)))
            }
        };
        let snapshots = snapshotting.as_ref().map(|_| recorders.snapshots.clone());
        let repository =
            Repository::new(recorders.events.clone(), snapshots, cache.clone(), mapper.clone());
        let log = NotificationLog::new(recorders.events.clone());
        Ok(Application {
            metrics: Arc::new(crate::metrics::ApplicationMetrics::new(&self.name)),
            name: self.name,
            env,
            recorders,
            mapper,
            repository,
            log,
            retry: self.retry,
            prompts: Arc::new(tokio::sync::Notify::new()),
            snapshotting,
            cache,
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
            intervals: HashMap::new(),
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

    /// The keys of the application's metrics.
    pub(crate) fn metrics(&self) -> &crate::metrics::ApplicationMetrics {
        &self.metrics
    }

    /// The aggregate cache, when `AGGREGATE_CACHE_MAXSIZE` turns it on.
    pub(crate) fn cache(&self) -> Option<&Arc<AggregateCache>> {
        self.cache.as_ref()
    }

    /// The store's recorders.
    pub fn recorders(&self) -> &Recorders {
        &self.recorders
    }

    /// Stops what the store runs in this process in the background and hands over what it
    /// holds, before the process exits (as Python's `Application.close()`). With DynamoDB's
    /// sequenced log, this process's sequencer stops and hands the lease back, so that
    /// another process's sequencer takes over at once rather than when the lease expires.
    /// Saves and reads still work after it; other processes' sequencers log them.
    pub async fn close(&self) -> Result<()> {
        Ok(self.recorders.events.close().await?)
    }

    /// The mapper between events and stored records.
    pub fn mapper(&self) -> &Mapper {
        &self.mapper
    }

    /// Saves the pending events of `aggregates` in one atomic write and returns their
    /// notification ids, when the store gives them at once (in memory, and DynamoDB's
    /// transactional log; a sequenced log gives them later, and the list is empty): one aggregate (`app.save(&mut dog)`), a tuple of aggregates of any
    /// types (`app.save((&mut dog, &mut owner))`), or a slice or array of them. If any event
    /// conflicts with a stored one, nothing is written, the error names the aggregate and
    /// version, and the aggregates keep their pending events.
    ///
    /// Once the events are committed the aggregates are marked saved (and cached) before
    /// anything else is awaited, so dropping this future later (during an interval
    /// snapshot) never leaves committed events pending.
    pub async fn save(&self, mut aggregates: impl Saveable) -> Result<Vec<u64>> {
        let mut pending = Vec::new();
        aggregates.pending_into(&mut pending);
        self.save_pending(&mut pending).await
    }

    #[tracing::instrument(
        name = "save",
        skip_all,
        fields(
            application = %self.name,
            aggregates = aggregates.len(),
            events = tracing::field::Empty,
            last_notification_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        )
    )]
    async fn save_pending(&self, aggregates: &mut [&mut dyn Pending]) -> Result<Vec<u64>> {
        let span = tracing::Span::current();
        let mut events = Vec::new();
        for aggregate in aggregates.iter() {
            aggregate.encode_pending(&self.mapper, &mut events)?;
        }
        span.record("events", events.len());
        if events.is_empty() {
            span.record("outcome", "nothing to save");
            return Ok(Vec::new());
        }
        let count = events.len();
        let ids = match self.recorders.events.insert_events(events).await {
            Ok(ids) => ids,
            Err(error) => {
                span.record("outcome", self.metrics.failure(&error));
                if let Some(cache) = &self.cache {
                    // A conflict shows the cached copies may be stale.
                    aggregates.iter().for_each(|aggregate| cache.evict(aggregate.pending_id()));
                }
                return Err(error.into());
            }
        };
        // Committed means saved, whatever happens after: everything up to `mark_saved` is
        // synchronous, so a caller that drops this future at the snapshot write below still
        // finds its aggregates saved (and cached), and its next save does not conflict.
        let snapshots = self.due_snapshots(aggregates);
        if let Some(cache) = &self.cache {
            for aggregate in aggregates.iter() {
                aggregate.update_cache(cache);
            }
        }
        for aggregate in aggregates.iter_mut() {
            aggregate.mark_saved();
        }
        self.metrics.saved(count);
        span.record("outcome", "committed");
        if let Some(last) = ids.last() {
            span.record("last_notification_id", last);
        }
        self.prompt_followers();
        self.store_snapshots(snapshots).await;
        Ok(ids)
    }

    /// The snapshots due after saving `aggregates` (their versions passed a multiple of the
    /// interval), encoded before the aggregates are marked saved.
    fn due_snapshots(&self, aggregates: &[&mut dyn Pending]) -> Vec<DueSnapshot> {
        let Some(intervals) = &self.snapshotting else { return Vec::new() };
        let mut due = Vec::new();
        for aggregate in aggregates {
            let Some(&interval) = intervals.get(aggregate.aggregate_topic()) else { continue };
            let Some((first, last)) = aggregate.pending_versions() else { continue };
            if (first..=last).any(|version| version % interval == 0) {
                let snapshot = aggregate.encode_snapshot(&self.mapper).map_err(Error::from);
                due.push((aggregate.pending_id(), last, snapshot));
            }
        }
        due
    }

    /// Stores the snapshots that are due. The events are committed by now, so nothing here
    /// may fail the save: a snapshot that cannot be stored (too large for an item, the
    /// database unreachable) is only an optimisation missed, logged as a warning; loading
    /// replays the events instead.
    async fn store_snapshots(&self, snapshots: Vec<DueSnapshot>) {
        for (id, version, snapshot) in snapshots {
            let stored = match snapshot {
                Ok(snapshot) => self.insert_snapshot(snapshot).await,
                Err(error) => Err(error),
            };
            if let Err(error) = stored {
                tracing::warn!(
                    application = %self.name,
                    aggregate = %id,
                    version,
                    %error,
                    "interval snapshot not stored; the save itself committed"
                );
            }
        }
    }

    async fn insert_snapshot(&self, snapshot: StoredEvent) -> Result<()> {
        match self.recorders.snapshots.insert_events(vec![snapshot]).await {
            // A snapshot of that version exists already; they are never replaced.
            Ok(_) | Err(PersistenceError::Conflict { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores a snapshot of aggregate `id` at `version` (the latest when `None`), so that
    /// loading it reads the snapshot and only the events after it. Snapshotting must be on
    /// (`IS_SNAPSHOTTING_ENABLED=true`, or [`ApplicationBuilder::snapshot_every`]).
    pub async fn take_snapshot<A: Aggregate>(&self, id: Uuid, version: Option<u64>) -> Result<()> {
        if self.snapshotting.is_none() {
            return Err(Error::Config(crate::environment::ConfigError::Missing {
                variable: "IS_SNAPSHOTTING_ENABLED".to_owned(),
                hint:
                    "snapshotting is off: set it to true, or use ApplicationBuilder::snapshot_every"
                        .to_owned(),
            }));
        }
        let aggregate = match version {
            Some(version) => self.repository.get_at::<A>(id, version).await?,
            None => self.repository.load_latest::<A>(id).await?,
        };
        let snapshot = snapshot::encode(&self.mapper, &aggregate)?;
        self.insert_snapshot(snapshot).await
    }

    /// Wakes followers in this process that wait for this application's new events.
    pub fn prompt_followers(&self) {
        self.prompts.notify_waiters();
    }

    /// What followers in this process wait on for this application's new events.
    pub fn prompts(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.prompts)
    }

    /// Loads aggregate `id`, runs `command` on it and saves what it recorded, if the command
    /// succeeded. When another writer saved first, reloads and runs `command` again, up to
    /// the [`RetryPolicy`]'s attempts, pausing with jittered exponential backoff in between.
    ///
    /// `command` returns `Result<R, E>` (or `()` for a command that cannot fail). On `Err`
    /// nothing is saved (the events it recorded are discarded) and the error comes back as
    /// [`UpdateError::Command`], apart from load and save failures ([`UpdateError::Store`]).
    /// `command` may run more than once, so it should only record events on the aggregate.
    /// It never runs again for a save that committed: when a save's outcome is unknown
    /// ([`Error::is_outcome_unknown`]), the aggregate is reloaded to find out, and the
    /// command runs again only if its events are not stored.
    ///
    /// ```
    /// # use eventsourcing_runtime::{Aggregate, Application, Error, UpdateError, Uuid};
    /// async fn demo<A: Aggregate>(app: &Application, id: Uuid) -> Result<(), Error> {
    /// // A command that refuses: nothing is saved, and the refusal is told apart.
    /// match app.update::<A, _>(id, |_aggregate| Err::<(), _>("too many tricks")).await {
    ///     Ok(()) => {}
    ///     Err(UpdateError::Command(refusal)) => println!("refused: {refusal}"),
    ///     Err(UpdateError::Store(error)) => return Err(error),
    /// }
    /// // A command that cannot fail: `?` gives this crate's `Error`.
    /// app.update::<A, _>(id, |_aggregate| ()).await?;
    /// Ok(())
    /// }
    /// ```
    ///
    /// The crate documentation of `eventsourcing_dynamodb` shows it with a real aggregate.
    #[tracing::instrument(
        skip_all,
        fields(application = %self.name, aggregate = %id, attempts = tracing::field::Empty)
    )]
    pub async fn update<A, O>(
        &self,
        id: Uuid,
        mut command: impl FnMut(&mut Root<A>) -> O,
    ) -> Result<O::Value, UpdateError<O::Error>>
    where
        A: Aggregate,
        O: CommandOutcome,
    {
        let attempts = self.retry.attempts.max(1);
        let mut delay = self.retry.first_delay;
        let mut latest = self.repository.get::<A>(id).await?;
        let mut attempt = 0;
        let span = tracing::Span::current();
        loop {
            attempt += 1;
            span.record("attempts", attempt);
            // The command runs on a copy, so that a conflict (or a refusal) leaves `latest`
            // clean, and what a refused command recorded is dropped with the copy.
            let mut aggregate = latest.clone();
            let value = command(&mut aggregate).into_result().map_err(UpdateError::Command)?;
            match self.save(&mut aggregate).await {
                Ok(_) => return Ok(value),
                Err(Error::Persistence(error)) if error.is_conflict() => {
                    if attempt >= attempts {
                        crate::metrics::gave_up("command");
                        tracing::warn!(%id, attempt, "conflict on every attempt; giving up");
                        let error = Error::RetriesExhausted { id, attempts: attempt, last: error };
                        return Err(error.into());
                    }
                    crate::metrics::retried("command");
                    tracing::debug!(%id, attempt, "conflict; retrying command");
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                    self.repository.catch_up(&mut latest).await?;
                }
                Err(error) if error.is_outcome_unknown() => {
                    match self.stored_as_recorded(&aggregate).await {
                        Some(true) => return Ok(value),
                        Some(false) if attempt < attempts => {
                            crate::metrics::retried("command");
                            tracing::debug!(%id, attempt, "save did not commit; retrying command");
                            self.repository.catch_up(&mut latest).await?;
                        }
                        _ => return Err(error.into()),
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Whether the aggregate's pending events are stored as it recorded them (the stored
    /// aggregate at its version was modified at the same microsecond), reloading it;
    /// `None` when that cannot be read.
    async fn stored_as_recorded<A: Aggregate>(&self, aggregate: &Root<A>) -> Option<bool> {
        if aggregate.pending_events().is_empty() {
            return Some(true);
        }
        match self.repository.get_at::<A>(aggregate.id(), aggregate.version()).await {
            Ok(stored) => Some(
                stored.version() == aggregate.version()
                    && stored.modified_on() == aggregate.modified_on(),
            ),
            Err(Error::AggregateNotFound { .. }) => Some(false),
            Err(_) => None,
        }
    }
}

/// What an [`Application::update`] command returns: `Result<R, E>` (save on `Ok`, return
/// `E` on `Err`), or `()` for a command that cannot fail. Sealed.
pub trait CommandOutcome: sealed::Sealed {
    /// What `update` returns on success.
    type Value;
    /// The command's error.
    type Error;
    /// The outcome as a `Result`.
    fn into_result(self) -> Result<Self::Value, Self::Error>;
}

impl CommandOutcome for () {
    type Value = ();
    type Error = std::convert::Infallible;

    fn into_result(self) -> Result<(), std::convert::Infallible> {
        Ok(())
    }
}

impl<R, E> CommandOutcome for Result<R, E> {
    type Value = R;
    type Error = E;

    fn into_result(self) -> Result<R, E> {
        self
    }
}

mod sealed {
    /// Keeps [`super::CommandOutcome`] and [`super::Saveable`] to this crate's implementations.
    pub trait Sealed {}
    impl Sealed for () {}
    impl<R, E> Sealed for Result<R, E> {}
}

/// A random pause of up to `delay` ("full jitter"), so that racing writers spread out.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(fastrand::f64())
}
