//! Counting the requests sent to DynamoDB (for tests and benchmarks, and as the
//! `eventsourcing_dynamodb_requests_total` and `eventsourcing_dynamodb_throttles_total`
//! metrics, by operation and table).

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use eventsourcing_runtime::metrics::{
    self as names, label_value, LabelValue, MetricKey, REQUESTS, THROTTLES,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts every request put on the wire, SDK retries included.
#[derive(Debug, Clone)]
pub struct RequestCounter {
    sent: Arc<AtomicU64>,
    /// The keys of the requests and throttles metrics, by operation (the index of
    /// [`OPERATIONS`], then `other`).
    keys: Arc<[(MetricKey, MetricKey)]>,
}

impl Default for RequestCounter {
    /// A counter whose metrics have an empty `table` label.
    fn default() -> Self {
        Self::for_table("")
    }
}

impl RequestCounter {
    /// A counter whose metrics say they are about `table`.
    pub fn for_table(table: &str) -> Self {
        let table = label_value(table);
        let keys = OPERATIONS
            .iter()
            .chain(&["other"])
            .map(|operation| {
                let operation = LabelValue::from(*operation);
                let labels = [("operation", &operation), ("table", &table)];
                (MetricKey::new(REQUESTS, &labels), MetricKey::new(THROTTLES, &labels))
            })
            .collect();
        RequestCounter { sent: Arc::default(), keys }
    }

    /// The keys for the operation the configuration bag names.
    fn keys(&self, cfg: &ConfigBag) -> Option<&(MetricKey, MetricKey)> {
        let name = cfg.load::<Metadata>().map(Metadata::name).unwrap_or_default();
        let index = OPERATIONS.iter().position(|known| *known == name);
        self.keys.get(index.unwrap_or(OPERATIONS.len()))
    }

    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// The operations the store sends, as static labels (a label that is not static would be
/// copied on every request); any other is `other`.
const OPERATIONS: &[&str] = &[
    "PutItem",
    "TransactWriteItems",
    "Query",
    "GetItem",
    "UpdateItem",
    "Scan",
    "DescribeTable",
    "CreateTable",
    "DescribeStream",
    "GetShardIterator",
    "GetRecords",
];

/// Error codes that refuse a request for throughput.
const THROTTLING_CODES: &[&str] =
    &["ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"];

/// The error code of an AWS JSON error body (`{"__type": "...#Code", ...}`).
fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let kind = value.get("__type")?.as_str()?;
    Some(kind.rsplit('#').next().unwrap_or(kind).to_owned())
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if let Some((requests, _)) = self.keys(cfg) {
            requests.increment(1);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Throttling is answered with 400: only error answers are read, and only their body.
        let response = context.response();
        if response.status().as_u16() != 400 {
            return Ok(());
        }
        let code = response.body().bytes().and_then(error_code);
        if code.is_some_and(|code| THROTTLING_CODES.contains(&code.as_str())) {
            if let Some((_, throttles)) = self.keys(cfg) {
                throttles.increment(1);
            }
        }
        Ok(())
    }
}

/// The metrics of one table, keyed once.
#[derive(Debug)]
pub(crate) struct TableMetrics {
    pub outcome_unknown: MetricKey,
    pub log_position: MetricKey,
    pub log_pages: MetricKey,
    pub log_lag: MetricKey,
    pub lease_acquired: MetricKey,
    pub lease_lost: MetricKey,
}

impl TableMetrics {
    pub fn new(table: &str) -> Self {
        let table = label_value(table);
        let labels = [("table", &table)];
        TableMetrics {
            outcome_unknown: MetricKey::new(names::OUTCOME_UNKNOWN, &labels),
            log_position: MetricKey::new(names::LOG_POSITION, &labels),
            log_pages: MetricKey::new(names::LOG_PAGES, &labels),
            log_lag: MetricKey::new(names::LOG_LAG, &labels),
            lease_acquired: MetricKey::new(names::LEASE_ACQUIRED, &labels),
            lease_lost: MetricKey::new(names::LEASE_LOST, &labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error_code;

    #[test]
    fn error_codes_are_read_from_the_json_body() {
        let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;
        assert_eq!(error_code(body).as_deref(), Some("ThrottlingException"));
        assert_eq!(
            error_code(br#"{"__type":"RequestLimitExceeded"}"#).as_deref(),
            Some("RequestLimitExceeded")
        );
        assert_eq!(error_code(b"not json"), None);
    }
}
