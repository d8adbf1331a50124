//! Counting the requests sent to DynamoDB (for tests and benchmarks, and as the
//! `eventsourcing_dynamodb_requests_total` and `eventsourcing_dynamodb_throttles_total`
//! metrics, by operation and table).

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use eventsourcing_runtime::metrics::{label_value, LabelValue, REQUESTS, THROTTLES};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts every request put on the wire, SDK retries included.
#[derive(Debug, Clone)]
pub struct RequestCounter {
    sent: Arc<AtomicU64>,
    /// The `table` label of the metrics (empty when not told).
    table: LabelValue,
}

impl Default for RequestCounter {
    fn default() -> Self {
        RequestCounter { sent: Arc::default(), table: LabelValue::from("") }
    }
}

impl RequestCounter {
    /// A counter whose metrics say they are about `table`.
    pub fn for_table(table: &str) -> Self {
        RequestCounter { sent: Arc::default(), table: label_value(table) }
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

fn operation(cfg: &ConfigBag) -> &'static str {
    let name = cfg.load::<Metadata>().map(Metadata::name).unwrap_or_default();
    OPERATIONS.iter().find(|known| **known == name).copied().unwrap_or("other")
}

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
        let (operation, table) = (operation(cfg), self.table.clone());
        metrics::counter!(REQUESTS, "operation" => operation, "table" => table).increment(1);
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
            let (operation, table) = (operation(cfg), self.table.clone());
            metrics::counter!(THROTTLES, "operation" => operation, "table" => table).increment(1);
        }
        Ok(())
    }
}

/// Sets the log position of `table` to notification id `max`.
pub(crate) fn log_position(table: &eventsourcing_runtime::metrics::LabelValue, max: u64) {
    // A gauge holds an f64: exact for notification ids up to 2^53.
    #[allow(clippy::cast_precision_loss)]
    let position = max as f64;
    metrics::gauge!(eventsourcing_runtime::metrics::LOG_POSITION, "table" => table.clone())
        .set(position);
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
