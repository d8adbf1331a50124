//! The sequencer run in terms that its host chooses, such as an AWS Lambda handler on the
//! table's stream: each call takes the lease, sequences until every event committed
//! before the call is in the log, and hands the lease back.

use super::{lease, now_millis, Led, Parts, Term};
use crate::config::{DynamoConfig, NotificationLog};
use crate::recorder::DynamoRecorder;
use eventsourcing_runtime::persistence::{ApplicationRecorder, PersistenceError};
use std::time::Duration;
use uuid::Uuid;

/// A sequencer that runs when called, not as a task of its own.
///
/// Keep one for the life of the host process (a warm Lambda container keeps it between
/// invocations): its owner id stays the same, so a call that follows an interrupted one
/// takes the lease back at once instead of waiting for it to expire.
pub struct OnDemandSequencer {
    /// The recorder applications would use on this table: the log is read through it.
    application: DynamoRecorder,
    parts: Parts,
    owner: String,
}

impl std::fmt::Debug for OnDemandSequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemandSequencer")
            .field("table", &self.application.table())
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// What one call of [`OnDemandSequencer::sequence`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequenced {
    /// Whether this call held the lease and wrote the pages itself (`false`: another
    /// sequencer held it and had already logged everything the call waited for).
    pub led: bool,
    /// The log's last notification id afterwards.
    pub log_end: u64,
}

impl OnDemandSequencer {
    /// Connects to the table of `config` (whose notification log is taken to be the
    /// sequenced one, and whose own sequencer task is not started).
    pub async fn connect(mut config: DynamoConfig) -> Result<Self, PersistenceError> {
        config.notification_log = NotificationLog::Sequenced;
        config.run_sequencer = false;
        let table = config.table.clone();
        let (application, parts) = DynamoRecorder::open(config).await?;
        let parts = parts.ok_or_else(|| {
            PersistenceError::Programming(format!("no sequencer was made for table {table}"))
        })?;
        let _ = parts.signals.requests.set(parts.recorder.request_counter().unwrap_or_default());
        let owner = Uuid::new_v4().hyphenated().to_string();
        Ok(OnDemandSequencer { application, parts, owner })
    }

    /// The table whose log this sequencer writes.
    pub fn table(&self) -> &str {
        self.application.table()
    }

    /// A recorder of the same table, with the sequenced log, for reading the log.
    pub fn recorder(&self) -> &DynamoRecorder {
        &self.application
    }

    /// How many requests this sequencer has sent (stream reads, lease and pages).
    pub fn requests(&self) -> u64 {
        self.parts.signals.requests.get().map_or(0, |counter| counter.get())
    }

    /// Sequences until every event committed before the call is in the log, within
    /// `within`: as the leader when the lease is free (handing it back afterwards), or by
    /// waiting for the sequencer that holds it. An error when that takes longer, or when
    /// DynamoDB fails; the log then holds whatever pages were written, and a later call
    /// carries on from there.
    ///
    /// It takes at least a second: a shard read to its end is taken to hold every record
    /// older than that.
    pub async fn sequence(&self, within: Duration) -> Result<Sequenced, PersistenceError> {
        let target = now_millis();
        let deadline = tokio::time::Instant::now() + within;
        let Parts { recorder, stream, settings, signals } = &self.parts;
        let term = Term { recorder, stream, settings, signals };
        let application = self.application.shared_weak();
        loop {
            let led = tokio::time::timeout_at(
                deadline,
                term.lead(&application, &self.owner, Some(target)),
            );
            let Ok(led) = led.await else { return Err(self.too_slow(within)) };
            match led? {
                Led::CaughtUp(held) => {
                    let progress = *signals.progress.borrow();
                    let client = recorder.client();
                    lease::release(client, self.table(), &held, now_millis(), &progress).await?;
                    signals.progress.send_modify(|progress| progress.leading = false);
                    let log_end = self.application.max_notification_id().await?;
                    return Ok(Sequenced { led: true, log_end });
                }
                Led::NotLeader => {
                    let other = lease::progress(recorder.client(), self.table()).await?;
                    if other.is_some_and(|progress| progress.covers(target)) {
                        let log_end = self.application.max_notification_id().await?;
                        return Ok(Sequenced { led: false, log_end });
                    }
                }
                // Lost mid-term: whoever took it, or this call again, carries on.
                Led::Deposed => {}
                Led::Closed => {
                    return Err(PersistenceError::Programming(
                        "the on-demand sequencer's recorder was dropped while in use".to_owned(),
                    ))
                }
            }
            if tokio::time::Instant::now() + settings.poll >= deadline {
                return Err(self.too_slow(within));
            }
            tokio::time::sleep(settings.poll).await;
        }
    }

    fn too_slow(&self, within: Duration) -> PersistenceError {
        PersistenceError::Operational {
            operation: format!("sequencing the notification log of table {}", self.table()),
            message: format!(
                "the events committed before the call were not all logged within {within:?}"
            ),
            source: None,
        }
    }
}
