use super::decoders::check_topics;
use super::process::{is_transient, Follow, Policy, ProcessApplication};
use crate::application::{Application, AsApplication};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// An application in a system: a plain one (a leader) or a process application.
#[derive(Clone)]
enum Node {
    Leader(Arc<Application>),
    Process(Arc<dyn Follow>),
}

impl Node {
    fn app(&self) -> &Application {
        match self {
            Node::Leader(app) => app,
            Node::Process(process) => process.app(),
        }
    }
}

/// What a follower does with a notification it cannot process (it does not decode, or the
/// policy returned an error other than a transient store failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Stop the follower and report the error ([`System::run_until_idle`] returns it,
    /// [`TokioRunner::stop`] returns it). The notification stays unprocessed, so after a
    /// fix the follower resumes there. The default.
    #[default]
    Stop,
    /// Record the notification as processed without effect (a tracking record with no
    /// events), log the error, remember it in [`System::take_skipped`], and go on.
    Skip,
}

/// A notification a follower skipped under [`OnFailure::Skip`].
#[derive(Debug)]
pub struct Skipped {
    /// The follower that skipped it.
    pub follower: String,
    /// The upstream application whose notification it is.
    pub upstream: String,
    /// Its id in the upstream's log.
    pub notification_id: u64,
    /// Why it could not be processed.
    pub error: Error,
}

/// Applications and the pipes between them: each pipe makes a process application follow
/// an upstream application's notification log.
#[derive(Clone)]
pub struct System {
    nodes: HashMap<String, Node>,
    /// (upstream, follower) pairs, in the order they were declared.
    pipes: Vec<(String, String)>,
    on_failure: OnFailure,
    skipped: Arc<Mutex<Vec<Skipped>>>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System").field("pipes", &self.pipes).finish_non_exhaustive()
    }
}

/// Builds a [`System`].
#[derive(Default)]
pub struct SystemBuilder {
    nodes: HashMap<String, Node>,
    pipes: Vec<(String, String)>,
    on_failure: OnFailure,
    error: Option<String>,
}

impl std::fmt::Debug for SystemBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemBuilder").field("pipes", &self.pipes).finish_non_exhaustive()
    }
}

impl SystemBuilder {
    /// Adds an application that others may follow: an [`Application`], an
    /// `Arc<Application>`, or your own wrapper that implements [`AsApplication`].
    pub fn leader(mut self, app: impl AsApplication) -> Self {
        let app = Arc::new(app.application().clone());
        self.add(app.name().to_owned(), Node::Leader(app));
        self
    }

    /// Adds a process application.
    pub fn process<P: Policy>(mut self, process: Arc<ProcessApplication<P>>) -> Self {
        self.add(process.name().to_owned(), Node::Process(process));
        self
    }

    fn add(&mut self, name: String, node: Node) {
        if self.nodes.insert(name.clone(), node).is_some() {
            self.error.get_or_insert(format!("two applications are called {name}"));
        }
    }

    /// Makes `follower` follow `upstream`, wired by the applications themselves (Python's
    /// `System(pipes=[[TrainingSchool, TrickCounter]])`): each is added unless an
    /// application of its name is in the system already (`upstream` as a leader), so the
    /// pipe cannot name an application that is not there.
    ///
    /// ```
    /// # use eventsourcing_runtime::{Application, Result, system::*};
    /// # use std::sync::Arc;
    /// # struct Count;
    /// # impl Policy for Count {
    /// #     async fn process(&self, _: &Notified, _: &mut Processing) -> Result<()> { Ok(()) }
    /// # }
    /// # async fn demo() -> Result<()> {
    /// let school = Application::builder("TrainingSchool").isolated().build().await?;
    /// let counter = Application::builder("TrickCounter").isolated().build().await?;
    /// let counter = Arc::new(ProcessApplication::new(counter, Count));
    /// let system = System::builder().connect(&school, &counter).build()?;
    /// assert!(system.app("TrickCounter").is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect<P: Policy>(
        mut self,
        upstream: &impl AsApplication,
        follower: &Arc<ProcessApplication<P>>,
    ) -> Self {
        let upstream_name = upstream.application().name().to_owned();
        if !self.nodes.contains_key(&upstream_name) {
            self = self.leader(upstream.application());
        }
        let follower_name = follower.name().to_owned();
        if !self.nodes.contains_key(&follower_name) {
            self = self.process(Arc::clone(follower));
        }
        self.pipes.push((upstream_name, follower_name));
        self
    }

    /// Makes `follower` (a process application) follow `upstream`, by name (see
    /// [`SystemBuilder::connect`] to wire them by the applications themselves).
    pub fn pipe(mut self, upstream: &str, follower: &str) -> Self {
        self.pipes.push((upstream.to_owned(), follower.to_owned()));
        self
    }

    /// What followers do with a notification they cannot process (default
    /// [`OnFailure::Stop`]).
    pub fn on_failure(mut self, on_failure: OnFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// One log per application: two applications that write the same notification log
    /// (the same DynamoDB table with the log on) are refused, since a follower reads a
    /// whole log and would take the other application's events for its upstream's.
    fn check_logs(&self) -> Result<()> {
        let mut names: Vec<&String> = self.nodes.keys().collect();
        names.sort_unstable();
        let mut logs: HashMap<String, &String> = HashMap::new();
        for name in names {
            let Some(identity) = self.nodes[name].app().recorders().events.store_identity() else {
                continue;
            };
            if let Some(first) = logs.insert(identity.clone(), name) {
                return Err(Error::SharedLog {
                    identity,
                    first: first.clone(),
                    second: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks the pipes name known applications, that every follower is a process
    /// application, that no two applications share a notification log
    /// ([`Error::SharedLog`]), and that no two linked aggregates read the same event topic.
    pub fn build(mut self) -> Result<System> {
        for (upstream, follower) in &self.pipes {
            if !self.nodes.contains_key(upstream) {
                self.error.get_or_insert(format!("pipe from unknown application {upstream}"));
            }
            match self.nodes.get(follower) {
                Some(Node::Process(_)) => {}
                Some(Node::Leader(_)) => {
                    self.error.get_or_insert(format!(
                        "{follower} follows {upstream} but is not a process application"
                    ));
                }
                None => {
                    self.error.get_or_insert(format!("pipe to unknown application {follower}"));
                }
            }
        }
        if let Some(message) = self.error {
            return Err(Error::System(message));
        }
        self.check_logs()?;
        check_topics()?;
        Ok(System {
            nodes: self.nodes,
            pipes: self.pipes,
            on_failure: self.on_failure,
            skipped: Arc::default(),
        })
    }
}

/// How many notifications a follower takes from a log at a time.
const PAGE: usize = 100;

/// One pipe's ends, and what to do when the follower fails.
#[derive(Clone)]
struct Pipe {
    upstream: Application,
    follower: Arc<dyn Follow>,
    on_failure: OnFailure,
    skipped: Arc<Mutex<Vec<Skipped>>>,
}

impl Pipe {
    /// Pulls one page. A notification the follower cannot process is skipped (and the pull
    /// counts as progress) or returned, as the system's [`OnFailure`] says.
    async fn pull(&self) -> Result<usize> {
        match self.follower.pull(&self.upstream, PAGE).await {
            Err(Error::Follower { follower, upstream, notification_id, source })
                if self.on_failure == OnFailure::Skip =>
            {
                self.follower.skip(&upstream, notification_id).await?;
                tracing::error!(
                    %follower, %upstream, notification_id, error = %source,
                    "notification skipped: the follower could not process it"
                );
                let skipped = Skipped { follower, upstream, notification_id, error: *source };
                self.skipped.lock().unwrap_or_else(|p| p.into_inner()).push(skipped);
                Ok(1)
            }
            outcome => outcome,
        }
    }
}

impl System {
    /// A builder.
    pub fn builder() -> SystemBuilder {
        SystemBuilder::default()
    }

    /// The application called `name`.
    pub fn app(&self, name: &str) -> Option<&Application> {
        self.nodes.get(name).map(Node::app)
    }

    /// The notifications skipped so far under [`OnFailure::Skip`], taken out of the system
    /// (each is returned once).
    pub fn take_skipped(&self) -> Vec<Skipped> {
        std::mem::take(&mut *self.skipped.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn pipe(&self, upstream: &str, follower: &str) -> Option<Pipe> {
        let upstream = self.nodes.get(upstream)?.app().clone();
        let follower = match self.nodes.get(follower)? {
            Node::Process(process) => Arc::clone(process),
            Node::Leader(_) => return None,
        };
        Some(Pipe {
            upstream,
            follower,
            on_failure: self.on_failure,
            skipped: Arc::clone(&self.skipped),
        })
    }

    /// Processes every pipe, synchronously, until no follower has anything left to do
    /// (for tests and scripts). Returns how many notifications were processed.
    ///
    /// A notification a follower cannot process stops it with [`Error::Follower`] (naming
    /// the follower, the upstream and the notification id), or is skipped, as
    /// [`SystemBuilder::on_failure`] says.
    pub async fn run_until_idle(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            // Every event committed before this round must be in the upstream logs (a
            // sequenced log lags behind its commits), or the round could end too soon.
            for node in self.nodes.values() {
                node.app().recorders().events.sync_log().await?;
            }
            let mut processed = 0;
            for (upstream, follower) in &self.pipes {
                let pipe = self
                    .pipe(upstream, follower)
                    .ok_or_else(|| Error::System(format!("broken pipe {upstream} → {follower}")))?;
                loop {
                    let count = pipe.pull().await?;
                    processed += count;
                    if count < PAGE {
                        break;
                    }
                }
            }
            total += processed;
            if processed == 0 {
                return Ok(total);
            }
        }
    }

    /// Starts one tokio task per pipe that follows its upstream until stopped.
    ///
    /// Transient store failures are logged and retried with backoff. A notification the
    /// follower cannot process stops that follower (its error is what
    /// [`TokioRunner::stop`] returns), or is skipped, as [`SystemBuilder::on_failure`] says.
    pub fn start(&self, poll: Duration) -> TokioRunner {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for (upstream_name, follower_name) in &self.pipes {
            let Some(pipe) = self.pipe(upstream_name, follower_name) else {
                continue;
            };
            let mut stopped = stopped.clone();
            let prompts = pipe.upstream.prompts();
            tasks.push(tokio::spawn(async move {
                let mut pause = Duration::from_millis(1);
                loop {
                    if *stopped.borrow() {
                        return Ok(());
                    }
                    // Register for a prompt before reading, so a save in between is not missed.
                    let prompted = prompts.notified();
                    let count = match pipe.pull().await {
                        Ok(count) => count,
                        Err(error) if is_transient(&error) => {
                            tracing::warn!(
                                upstream = pipe.upstream.name(),
                                follower = pipe.follower.app().name(),
                                %error,
                                "follower could not reach its store; retrying"
                            );
                            0
                        }
                        Err(error) => {
                            tracing::error!(
                                upstream = pipe.upstream.name(),
                                follower = pipe.follower.app().name(),
                                %error,
                                "follower stopped"
                            );
                            return Err(error);
                        }
                    };
                    if count > 0 {
                        pause = Duration::from_millis(1);
                        continue;
                    }
                    tokio::select! {
                        _ = prompted => {}
                        _ = tokio::time::sleep(pause) => {}
                        _ = stopped.changed() => return Ok(()),
                    }
                    pause = (pause * 2).min(poll);
                }
            }));
        }
        TokioRunner { stop, tasks }
    }
}

/// Followers running as tokio tasks, polling their upstream logs (with backoff up to the
/// poll interval) and woken at once by saves in this process. They start from their tracked
/// positions, so a restarted runner catches up.
#[derive(Debug)]
pub struct TokioRunner {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<()>>>,
}

impl TokioRunner {
    /// Stops the followers after their current notification and waits for them. Returns
    /// the first error a follower stopped with ([`Error::Follower`] for a notification it
    /// could not process), after waiting for all of them.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        let mut first = None;
        for task in self.tasks {
            let outcome = match task.await {
                Ok(result) => result,
                Err(error) if error.is_cancelled() => Ok(()),
                Err(error) => Err(Error::System(format!("follower task failed: {error}"))),
            };
            if let Err(error) = outcome {
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Whether every follower has stopped (after an error, when [`OnFailure::Stop`]).
    pub fn is_finished(&self) -> bool {
        self.tasks.iter().all(JoinHandle::is_finished)
    }

    /// Aborts the followers wherever they are, as a crash would, and waits until they are
    /// gone (a follower being polled on another thread ends at its next await), so that
    /// nothing of theirs is still running when this returns.
    pub async fn abort(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
