use super::process::ProcessApplication;
use crate::application::Application;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// An application in a system: a plain one (a leader) or a process application.
#[derive(Clone)]
enum Node {
    Leader(Arc<Application>),
    Process(Arc<ProcessApplication>),
}

impl Node {
    fn app(&self) -> &Application {
        match self {
            Node::Leader(app) => app,
            Node::Process(process) => process,
        }
    }
}

/// Applications and the pipes between them: each pipe makes a process application follow
/// an upstream application's notification log.
#[derive(Clone)]
pub struct System {
    nodes: HashMap<String, Node>,
    /// (upstream, follower) pairs, in the order they were declared.
    pipes: Vec<(String, String)>,
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
    error: Option<String>,
}

impl SystemBuilder {
    /// Adds an application that others may follow.
    pub fn leader(mut self, app: Arc<Application>) -> Self {
        self.nodes.insert(app.name().to_owned(), Node::Leader(app));
        self
    }

    /// Adds a process application.
    pub fn process(mut self, process: Arc<ProcessApplication>) -> Self {
        self.nodes.insert(process.name().to_owned(), Node::Process(process));
        self
    }

    /// Makes `follower` (a process application) follow `upstream`, by name.
    pub fn pipe(mut self, upstream: &str, follower: &str) -> Self {
        self.pipes.push((upstream.to_owned(), follower.to_owned()));
        self
    }

    /// Checks the pipes name known applications and that every follower is a process application.
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
        match self.error {
            Some(message) => Err(Error::System(message)),
            None => Ok(System { nodes: self.nodes, pipes: self.pipes }),
        }
    }
}

/// How many notifications a follower takes from a log at a time.
const PAGE: usize = 100;

impl System {
    /// A builder.
    pub fn builder() -> SystemBuilder {
        SystemBuilder::default()
    }

    /// The application called `name`.
    pub fn app(&self, name: &str) -> Option<&Application> {
        self.nodes.get(name).map(Node::app)
    }

    /// The process application called `name`.
    pub fn process(&self, name: &str) -> Option<&Arc<ProcessApplication>> {
        match self.nodes.get(name) {
            Some(Node::Process(process)) => Some(process),
            _ => None,
        }
    }

    fn pipe_ends(
        &self,
        upstream: &str,
        follower: &str,
    ) -> Option<(Application, Arc<ProcessApplication>)> {
        let upstream = self.nodes.get(upstream)?.app().clone();
        let follower = self.process(follower)?.clone();
        Some((upstream, follower))
    }

    /// Processes every pipe, synchronously, until no follower has anything left to do
    /// (for tests and scripts). Returns how many notifications were processed.
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
                let (upstream, follower) = self
                    .pipe_ends(upstream, follower)
                    .ok_or_else(|| Error::System(format!("broken pipe {upstream} → {follower}")))?;
                loop {
                    let count = follower.pull(&upstream, PAGE).await?;
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
    pub fn start(&self, poll: Duration) -> TokioRunner {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for (upstream_name, follower_name) in &self.pipes {
            let Some((upstream, follower)) = self.pipe_ends(upstream_name, follower_name) else {
                continue;
            };
            let mut stopped = stopped.clone();
            let prompts = upstream.prompts();
            tasks.push(tokio::spawn(async move {
                let mut pause = Duration::from_millis(1);
                loop {
                    if *stopped.borrow() {
                        return Ok(());
                    }
                    // Register for a prompt before reading, so a save in between is not missed.
                    let prompted = prompts.notified();
                    let count = match follower.pull(&upstream, PAGE).await {
                        Ok(count) => count,
                        Err(error) => {
                            tracing::warn!(upstream = upstream.name(), follower = follower.name(), %error, "follower failed; retrying");
                            0
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
pub struct TokioRunner {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<()>>>,
}

impl TokioRunner {
    /// Stops the followers after their current notification and waits for them.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        for task in self.tasks {
            match task.await {
                Ok(result) => result?,
                Err(error) if error.is_cancelled() => {}
                Err(error) => return Err(Error::System(format!("follower task failed: {error}"))),
            }
        }
        Ok(())
    }

    /// Aborts the followers at once, wherever they are (as a crash would).
    pub fn abort(self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
