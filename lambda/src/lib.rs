//! The sequencer of `eventsourcing-dynamodb`'s sequenced notification log as an AWS Lambda
//! function on the table's DynamoDB stream.
//!
//! Each invocation carries a batch of the stream's records. The handler does not sequence
//! the batch's records itself: records of one transaction reach Lambda in any order and in
//! different batches, and Lambda gives no shard id to resume from. It uses the batch as a
//! wake-up and as a check:
//! - a record from another table's stream is an error ([`HandlerError::WrongTable`]), so a
//!   trigger on the wrong table is found at its first invocation;
//! - a batch without any event item (only the log's own pages, its lease, snapshots) is
//!   answered at once, without a request: the handler's own writes appear on the stream,
//!   and must not make it run again and again;
//! - otherwise it runs an [`OnDemandSequencer`] term: it takes the table's lease, reads the
//!   stream from the log's checkpoint, writes pages until every event committed before the
//!   invocation (the batch's among them) is in the log, and hands the lease back. When
//!   another sequencer holds the lease (an application's task, `es-sequencer`), it waits
//!   for that one's progress instead.
//!
//! An error fails the invocation, and Lambda retries the batch; the log's pages are
//! checkpointed, so a retry carries on where the failed one stopped.
//!
//! Deploying: build the `es-sequencer-lambda` binary for the Lambda runtime
//! (`cargo lambda build --release -p eventsourcing-lambda`, or any `provided.al2023`
//! build), configure it with the applications' variables (`DYNAMO_TABLE`, and
//! `DYNAMO_SEQUENCER_LEASE_SECONDS` if changed), give it a timeout of at least 30 s, and
//! add the table's stream as its trigger (batch size up to 1,000; a filter on event items
//! saves invocations, e.g. `{"eventName": ["INSERT"]}`). Applications then set
//! `DYNAMO_SEQUENCER=false`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use eventsourcing_dynamo::{OnDemandSequencer, Sequenced};
use eventsourcing_runtime::persistence::PersistenceError;
use lambda_runtime::LambdaEvent;
use serde_dynamo::AttributeValue;
use std::time::Duration;
use uuid::Uuid;

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The batch came from another table's stream than the configured one.
    #[error(
        "the stream record {event_id} comes from {arn}, not from table {table} (DYNAMO_TABLE): \
         the function's trigger is on the wrong table"
    )]
    WrongTable {
        /// The record's `eventID`.
        event_id: String,
        /// The record's `eventSourceARN`.
        arn: String,
        /// The configured table.
        table: String,
    },
    /// Sequencing failed, or did not finish before the invocation's deadline.
    #[error("sequencing the notification log of table {table} failed")]
    Sequencing {
        /// The table.
        table: String,
        /// What failed.
        #[source]
        source: PersistenceError,
    },
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::WrongTable { .. } => "WrongTable",
            HandlerError::Sequencing { .. } => "Sequencing",
        };
        // The whole chain: the DynamoDB error that made sequencing fail is what to act on.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        lambda_runtime::Diagnostic { error_type: error_type.to_owned(), error_message: message }
    }
}

/// What a batch holds, as far as the sequencer is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batch {
    /// Records of events saved (inserts of items whose partition key is a UUID).
    pub events: usize,
    /// Every other record: the log's pages and lease, snapshots, tracking records.
    pub others: usize,
}

/// Reads a batch: checks that every record comes from `table`'s stream, and counts the
/// events.
pub fn read_batch(event: &Event, table: &str) -> Result<Batch, HandlerError> {
    let mut batch = Batch::default();
    for record in &event.records {
        if let Some(arn) = &record.event_source_arn {
            if table_of(arn) != Some(table) {
                return Err(HandlerError::WrongTable {
                    event_id: record.event_id.clone(),
                    arn: arn.clone(),
                    table: table.to_owned(),
                });
            }
        }
        match is_event_insert(record) {
            true => batch.events += 1,
            false => batch.others += 1,
        }
    }
    Ok(batch)
}

/// The table of a stream ARN (`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`).
fn table_of(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let mut parts = resource.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("table"), Some(name), Some("stream")) => Some(name),
        _ => None,
    }
}

fn is_event_insert(record: &EventRecord) -> bool {
    let partition = record.change.keys.get(eventsourcing_dynamo::HASH_KEY);
    record.event_name == "INSERT"
        && matches!(partition, Some(AttributeValue::S(id)) if Uuid::try_parse(id).is_ok())
}

/// How long an invocation may sequence: until shortly before its deadline (epoch ms), and
/// at least a few seconds when the deadline is unknown or already close.
fn time_left(deadline_millis: u64) -> Duration {
    const MARGIN: Duration = Duration::from_millis(500);
    const AT_LEAST: Duration = Duration::from_secs(2);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let now = now.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Duration::from_millis(deadline_millis.saturating_sub(now)).saturating_sub(MARGIN).max(AT_LEAST)
}

/// The handler: reads the batch and, when it holds events, sequences the log until they
/// (and every event committed before the invocation) are in it. `Ok(None)` for a batch
/// without events (nothing was sent to DynamoDB).
pub async fn sequence_batch(
    sequencer: &OnDemandSequencer,
    event: &Event,
    deadline_millis: u64,
) -> Result<Option<Sequenced>, HandlerError> {
    let batch = read_batch(event, sequencer.table())?;
    if batch.events == 0 {
        return Ok(None);
    }
    let sequenced = sequencer.sequence(time_left(deadline_millis)).await.map_err(|source| {
        HandlerError::Sequencing { table: sequencer.table().to_owned(), source }
    })?;
    Ok(Some(sequenced))
}

/// [`sequence_batch`] in the shape `lambda_runtime::service_fn` takes. The response has
/// no failed items: a failure fails the whole invocation (a retry of the whole batch is
/// what sequencing needs, with or without `ReportBatchItemFailures`).
pub async fn handle(
    sequencer: &OnDemandSequencer,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, HandlerError> {
    sequence_batch(sequencer, &event.payload, event.context.deadline).await?;
    Ok(DynamoDbEventResponse::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_read_from_a_stream_arn() {
        let arn =
            "arn:aws:dynamodb:us-east-1:123456789012:table/dogs/stream/2026-12-01T10:00:00.000";
        assert_eq!(table_of(arn), Some("dogs"));
        assert_eq!(table_of("arn:aws:dynamodb:us-east-1:123456789012:table/dogs"), None);
        assert_eq!(table_of("arn:aws:kinesis:us-east-1:1:stream/dogs"), None);
        assert_eq!(table_of("nonsense"), None);
    }

    #[test]
    fn an_invocation_gets_its_remaining_time_less_a_margin() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let deadline = u64::try_from(now.as_millis()).unwrap() + 30_000;
        let left = time_left(deadline);
        assert!(
            left <= Duration::from_millis(29_500) && left > Duration::from_secs(25),
            "{left:?}"
        );
        assert_eq!(time_left(0), Duration::from_secs(2));
    }
}
