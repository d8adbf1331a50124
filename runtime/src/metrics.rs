//! The metrics the library records, through the [`metrics`](https://docs.rs/metrics) crate's
//! facade.
//!
//! Nothing is recorded until the program installs a recorder (for example
//! `metrics-exporter-prometheus`'s); without one every update is a no-op. The names below
//! are stable: they are part of the public API, and all start with
//! `eventsourcing_dynamodb_`.
//!
//! | name | kind | labels | what it counts or shows |
//! | --- | --- | --- | --- |
//! | `eventsourcing_dynamodb_saves_total` | counter | `application` | saves that committed (an [`Application::save`](crate::Application::save) or a policy's write) |
//! | `eventsourcing_dynamodb_events_saved_total` | counter | `application` | events those saves committed |
//! | `eventsourcing_dynamodb_conflicts_total` | counter | `application` | saves refused because another writer had stored one of their versions first |
//! | `eventsourcing_dynamodb_retries_total` | counter | `operation` | tries again after a failure that may clear by itself: `command` (an [`update`](crate::Application::update) after a conflict), `policy` (a notification processed again after its write conflicted), `write` (the DynamoDB store sending a save again), `read_back` (reading a save's items back again), `id_claim` (claiming notification ids again after another process took them), `log_page` (the sequencer sending a log page again) |
//! | `eventsourcing_dynamodb_give_ups_total` | counter | `operation` | the same operations, given up after their last try (a `write` given up is then read back, to learn whether an earlier try committed) |
//! | `eventsourcing_dynamodb_outcome_unknown_total` | counter | `table` | DynamoDB saves whose outcome could not be learnt ([`PersistenceError::OutcomeUnknown`](crate::PersistenceError::OutcomeUnknown)) |
//! | `eventsourcing_dynamodb_requests_total` | counter | `operation`, `table` | DynamoDB and DynamoDB Streams requests put on the wire, the SDK's own retries included (for clients the store builds from the environment) |
//! | `eventsourcing_dynamodb_throttles_total` | counter | `operation`, `table` | answers refusing a request for throughput (`ThrottlingException`, `ProvisionedThroughputExceededException`, `RequestLimitExceeded`) |
//! | `eventsourcing_dynamodb_log_position` | gauge | `table` | the highest notification id written to the table's log (by a save with the transactional log, by a page with the sequenced log) |
//! | `eventsourcing_dynamodb_log_lag_seconds` | histogram | `table` | sequenced log: for each event, from its commit (the later of the stream record's approximate time and the item's `created_at`, both rounded down to the second, so up to ~1 s high) to the page that logged it |
//! | `eventsourcing_dynamodb_log_pages_total` | counter | `table` | sequenced log: pages written |
//! | `eventsourcing_dynamodb_lease_acquired_total` | counter | `table` | sequenced log: terms begun by this process's sequencer |
//! | `eventsourcing_dynamodb_lease_lost_total` | counter | `table` | sequenced log: terms that ended because another sequencer took the lease |
//! | `eventsourcing_dynamodb_follower_position` | gauge | `follower`, `upstream` | the last notification id of `upstream` that `follower` processed (or skipped) |
//! | `eventsourcing_dynamodb_notifications_processed_total` | counter | `follower`, `upstream` | notifications whose policy ran and whose write committed |
//! | `eventsourcing_dynamodb_notifications_skipped_total` | counter | `follower`, `upstream` | notifications moved past without processing ([`OnFailure::Skip`](crate::system::OnFailure::Skip)) |
//!
//! Labels are the application's name, the DynamoDB table's name and the DynamoDB operation
//! (`PutItem`, `TransactWriteItems`, `Query`, `GetRecords`, ...), so their number stays small.

/// Saves that committed, by `application`.
pub const SAVES: &str = "eventsourcing_dynamodb_saves_total";
/// Events committed by saves, by `application`.
pub const EVENTS_SAVED: &str = "eventsourcing_dynamodb_events_saved_total";
/// Saves refused by a conflict, by `application`.
pub const CONFLICTS: &str = "eventsourcing_dynamodb_conflicts_total";
/// Tries again, by `operation` (see the [module documentation](self)).
pub const RETRIES: &str = "eventsourcing_dynamodb_retries_total";
/// Operations given up after their last try, by `operation`.
pub const GIVE_UPS: &str = "eventsourcing_dynamodb_give_ups_total";
/// DynamoDB saves whose outcome stayed unknown, by `table`.
pub const OUTCOME_UNKNOWN: &str = "eventsourcing_dynamodb_outcome_unknown_total";
/// Requests put on the wire, by `operation` and `table`.
pub const REQUESTS: &str = "eventsourcing_dynamodb_requests_total";
/// Requests refused for throughput, by `operation` and `table`.
pub const THROTTLES: &str = "eventsourcing_dynamodb_throttles_total";
/// The highest notification id written, by `table`.
pub const LOG_POSITION: &str = "eventsourcing_dynamodb_log_position";
/// Commit to sequenced, in seconds, by `table`.
pub const LOG_LAG: &str = "eventsourcing_dynamodb_log_lag_seconds";
/// Log pages written, by `table`.
pub const LOG_PAGES: &str = "eventsourcing_dynamodb_log_pages_total";
/// Sequencer terms begun, by `table`.
pub const LEASE_ACQUIRED: &str = "eventsourcing_dynamodb_lease_acquired_total";
/// Sequencer terms ended by another sequencer, by `table`.
pub const LEASE_LOST: &str = "eventsourcing_dynamodb_lease_lost_total";
/// The last notification id processed, by `follower` and `upstream`.
pub const FOLLOWER_POSITION: &str = "eventsourcing_dynamodb_follower_position";
/// Notifications processed, by `follower` and `upstream`.
pub const NOTIFICATIONS_PROCESSED: &str = "eventsourcing_dynamodb_notifications_processed_total";
/// Notifications skipped, by `follower` and `upstream`.
pub const NOTIFICATIONS_SKIPPED: &str = "eventsourcing_dynamodb_notifications_skipped_total";

/// Every name above.
pub const ALL: [&str; 16] = [
    SAVES,
    EVENTS_SAVED,
    CONFLICTS,
    RETRIES,
    GIVE_UPS,
    OUTCOME_UNKNOWN,
    REQUESTS,
    THROTTLES,
    LOG_POSITION,
    LOG_LAG,
    LOG_PAGES,
    LEASE_ACQUIRED,
    LEASE_LOST,
    FOLLOWER_POSITION,
    NOTIFICATIONS_PROCESSED,
    NOTIFICATIONS_SKIPPED,
];

/// Describes every metric to the installed recorder (its help text and unit, which
/// exporters such as Prometheus's print): call it once, after installing the recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(SAVES, Unit::Count, "Saves that committed");
    describe_counter!(EVENTS_SAVED, Unit::Count, "Events committed by saves");
    describe_counter!(
        CONFLICTS,
        Unit::Count,
        "Saves refused: another writer stored a version first"
    );
    describe_counter!(RETRIES, Unit::Count, "Tries again after a failure that may clear by itself");
    describe_counter!(GIVE_UPS, Unit::Count, "Operations given up after their last try");
    describe_counter!(
        OUTCOME_UNKNOWN,
        Unit::Count,
        "DynamoDB saves whose outcome could not be learnt"
    );
    describe_counter!(REQUESTS, Unit::Count, "DynamoDB requests on the wire, SDK retries included");
    describe_counter!(THROTTLES, Unit::Count, "DynamoDB requests refused for throughput");
    describe_gauge!(LOG_POSITION, "The highest notification id written to the log");
    describe_histogram!(
        LOG_LAG,
        Unit::Seconds,
        "From an event's commit to the log page holding it"
    );
    describe_counter!(LOG_PAGES, Unit::Count, "Notification log pages written");
    describe_counter!(LEASE_ACQUIRED, Unit::Count, "Terms begun by this process's sequencer");
    describe_counter!(LEASE_LOST, Unit::Count, "Sequencer terms ended by another sequencer");
    describe_gauge!(FOLLOWER_POSITION, "The last upstream notification id a follower processed");
    describe_counter!(NOTIFICATIONS_PROCESSED, Unit::Count, "Notifications processed by followers");
    describe_counter!(NOTIFICATIONS_SKIPPED, Unit::Count, "Notifications followers skipped");
}

/// Counts one try again of `operation` (a `&'static str`, so that no label is allocated).
pub fn retried(operation: &'static str) {
    metrics::counter!(RETRIES, "operation" => operation).increment(1);
}

/// Counts one give-up of `operation`.
pub fn gave_up(operation: &'static str) {
    metrics::counter!(GIVE_UPS, "operation" => operation).increment(1);
}

/// A label value, shared without copying its string.
pub type LabelValue = metrics::SharedString;

/// A label value from a name held for the lifetime of a component (cloning it later copies
/// no string).
pub fn label_value(name: &str) -> LabelValue {
    LabelValue::from(std::sync::Arc::<str>::from(name))
}

/// A metric's key, built once: building a key copies its labels and hashes it, so a key
/// kept by the component it describes leaves an update only the recorder's lookup (and
/// nothing at all without a recorder).
#[derive(Debug, Clone)]
pub struct MetricKey(metrics::Key);

/// What the library's metrics say about where they come from.
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new("eventsourcing_dynamodb", metrics::Level::INFO, None);

impl MetricKey {
    /// The key of metric `name` with these labels.
    pub fn new(name: &'static str, labels: &[(&'static str, &LabelValue)]) -> Self {
        let labels: Vec<metrics::Label> =
            labels.iter().map(|(key, value)| metrics::Label::new(*key, (*value).clone())).collect();
        MetricKey(metrics::Key::from_parts(name, labels))
    }

    /// Adds `by` to the counter.
    pub fn increment(&self, by: u64) {
        metrics::with_recorder(|recorder| {
            recorder.register_counter(&self.0, &METADATA).increment(by)
        });
    }

    /// Sets the gauge.
    pub fn set(&self, value: f64) {
        metrics::with_recorder(|recorder| recorder.register_gauge(&self.0, &METADATA).set(value));
    }

    /// Records a value in the histogram.
    pub fn record(&self, value: f64) {
        metrics::with_recorder(|recorder| {
            recorder.register_histogram(&self.0, &METADATA).record(value)
        });
    }
}

/// The metrics of one application, keyed once.
#[derive(Debug)]
pub(crate) struct ApplicationMetrics {
    /// The application's name as a label.
    pub(crate) name: LabelValue,
    saves: MetricKey,
    events_saved: MetricKey,
    conflicts: MetricKey,
}

impl ApplicationMetrics {
    pub(crate) fn new(application: &str) -> Self {
        let name = label_value(application);
        let labels = [("application", &name)];
        ApplicationMetrics {
            saves: MetricKey::new(SAVES, &labels),
            events_saved: MetricKey::new(EVENTS_SAVED, &labels),
            conflicts: MetricKey::new(CONFLICTS, &labels),
            name,
        }
    }

    /// Counts a committed save of `events` events.
    pub(crate) fn saved(&self, events: usize) {
        self.saves.increment(1);
        self.events_saved.increment(u64::try_from(events).unwrap_or(u64::MAX));
    }

    /// Counts a save that failed (a conflict as such) and names the failure for a span's
    /// `outcome`.
    pub(crate) fn failure(&self, error: &crate::persistence::PersistenceError) -> &'static str {
        use crate::persistence::PersistenceError;
        match error {
            PersistenceError::Conflict { .. } => {
                self.conflicts.increment(1);
                "conflict"
            }
            PersistenceError::TrackingConflict { .. } => "already processed",
            PersistenceError::OutcomeUnknown { .. } => "outcome unknown",
            _ => "failed",
        }
    }
}

/// The metrics of one follower, keyed once per upstream it follows.
#[derive(Debug, Default)]
pub(crate) struct FollowerMetrics {
    by_upstream: std::sync::Mutex<std::collections::HashMap<String, FollowerKeys>>,
}

#[derive(Debug, Clone)]
struct FollowerKeys {
    processed: MetricKey,
    skipped: MetricKey,
    position: MetricKey,
}

impl FollowerMetrics {
    /// Counts a notification `follower` processed, and moves its position.
    pub(crate) fn processed(&self, follower: &LabelValue, tracking: &crate::persistence::Tracking) {
        let keys = self.keys(follower, &tracking.application_name);
        keys.processed.increment(1);
        keys.position.set(position(tracking.notification_id));
    }

    /// Counts a notification `follower` skipped, and moves its position.
    pub(crate) fn skipped(&self, follower: &LabelValue, tracking: &crate::persistence::Tracking) {
        let keys = self.keys(follower, &tracking.application_name);
        keys.skipped.increment(1);
        keys.position.set(position(tracking.notification_id));
    }

    fn keys(&self, follower: &LabelValue, upstream: &str) -> FollowerKeys {
        let mut keys = self.by_upstream.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = keys.get(upstream) {
            return found.clone();
        }
        let upstream_label = label_value(upstream);
        let labels = [("follower", follower), ("upstream", &upstream_label)];
        let made = FollowerKeys {
            processed: MetricKey::new(NOTIFICATIONS_PROCESSED, &labels),
            skipped: MetricKey::new(NOTIFICATIONS_SKIPPED, &labels),
            position: MetricKey::new(FOLLOWER_POSITION, &labels),
        };
        keys.insert(upstream.to_owned(), made.clone());
        made
    }
}

/// A notification id as a gauge's value (an f64: exact up to 2^53).
pub fn position(id: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let position = id as f64;
    position
}
