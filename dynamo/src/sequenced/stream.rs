//! Reading the table's stream: shards, and the records of one shard after a position.

use crate::errors::from_sdk;
use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use eventsourcing_runtime::persistence::PersistenceError;
use eventsourcing_sequencer::{
    Change, EventImage, SequenceNumber, ShardEnd, ShardId, ShardInfo, StreamRecord,
};
use std::collections::HashMap;
use uuid::Uuid;

/// The most `GetRecords` calls one read of a shard makes before handing over what it has.
const BATCHES_PER_READ: usize = 4;

/// What reading a shard gave.
pub enum Read {
    /// Records after the position, and how the read ended.
    Records(Vec<StreamRecord>, ShardEnd),
    /// The records after the position were trimmed (the stream keeps 24 hours): they are
    /// lost to the stream, and the log must be completed from the table.
    Trimmed,
}

/// One table's stream.
#[derive(Clone, Debug)]
pub struct Stream {
    pub client: Client,
    pub arn: String,
    pub table: String,
}

impl Stream {
    /// Every shard the stream lists.
    pub async fn shards(&self) -> Result<Vec<ShardInfo>, PersistenceError> {
        let mut shards = Vec::new();
        let mut start = None;
        let span = crate::trace::call("DescribeStream", &self.table, &self.arn);
        loop {
            let request = self
                .client
                .describe_stream()
                .stream_arn(&self.arn)
                .set_exclusive_start_shard_id(start.take())
                .send();
            let output = crate::trace::send(&span, request)
                .await
                .map_err(|e| from_sdk(&self.table, "DescribeStream", e))?;
            let Some(description) = output.stream_description else { break };
            for shard in description.shards() {
                if let Some(id) = shard.shard_id() {
                    shards.push(ShardInfo {
                        id: ShardId(id.to_owned()),
                        parent: shard.parent_shard_id().map(|p| ShardId(p.to_owned())),
                    });
                }
            }
            start = description.last_evaluated_shard_id;
            if start.is_none() {
                break;
            }
        }
        Ok(shards)
    }

    /// The records of `shard` after `after` (from the oldest kept when `None`), and how the
    /// read ended; [`Read::Trimmed`] when the stream no longer holds the records after
    /// `after`. A fresh iterator is taken for each read: moto 5.2.5's iterators return a
    /// phantom record of a cancelled transaction when they are reused.
    pub async fn read(
        &self,
        shard: &ShardId,
        after: Option<&SequenceNumber>,
        now_millis: i64,
    ) -> Result<Read, PersistenceError> {
        let kind = match after {
            Some(_) => ShardIteratorType::AfterSequenceNumber,
            None => ShardIteratorType::TrimHorizon,
        };
        let span = crate::trace::call("GetShardIterator", &self.table, &shard.0);
        let request = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(&shard.0)
            .shard_iterator_type(kind)
            .set_sequence_number(after.map(|s| s.as_str().to_owned()))
            .send();
        let result = crate::trace::send(&span, request).await;
        let output = match result {
            Ok(output) => output,
            Err(e)
                if e.as_service_error().is_some_and(|e| e.is_trimmed_data_access_exception()) =>
            {
                return Ok(Read::Trimmed)
            }
            Err(e) => return Err(from_sdk(&self.table, "GetShardIterator", e)),
        };
        let mut iterator = output.shard_iterator;
        let mut records = Vec::new();
        for batch in 1..=BATCHES_PER_READ {
            let Some(current) = iterator.take() else {
                return Ok(Read::Records(records, ShardEnd::Closed));
            };
            let span = crate::trace::call("GetRecords", &self.table, &shard.0);
            span.record("attempt", batch);
            let request = self.client.get_records().shard_iterator(current).limit(1000).send();
            let result = crate::trace::send(&span, request).await;
            let output = match result {
                Ok(output) => output,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
                {
                    return Ok(Read::Trimmed)
                }
                Err(e) => return Err(from_sdk(&self.table, "GetRecords", e)),
            };
            let batch = output.records.unwrap_or_default();
            span.record("items", batch.len());
            let empty = batch.is_empty();
            for record in batch {
                records.push(self.convert(&record)?);
            }
            iterator = output.next_shard_iterator;
            if empty {
                let end = match iterator {
                    Some(_) => ShardEnd::CaughtUpTo(now_millis),
                    None => ShardEnd::Closed,
                };
                return Ok(Read::Records(records, end));
            }
        }
        let end = match iterator {
            Some(_) => ShardEnd::More,
            None => ShardEnd::Closed,
        };
        Ok(Read::Records(records, end))
    }

    fn convert(
        &self,
        record: &aws_sdk_dynamodbstreams::types::Record,
    ) -> Result<StreamRecord, PersistenceError> {
        let data = record.dynamodb();
        let location = || format!("in the stream of table {}", self.table);
        let sequence = data
            .and_then(|d| d.sequence_number())
            .and_then(SequenceNumber::new)
            .ok_or_else(|| PersistenceError::Data {
                location: location(),
                problem: "a record without a sequence number".to_owned(),
            })?;
        let approximate_millis = data
            .and_then(|d| d.approximate_creation_date_time())
            .map_or(0, |t| t.secs().saturating_mul(1000) + i64::from(t.subsec_nanos() / 1_000_000));
        let change = match (record.event_name(), data.and_then(|d| d.new_image())) {
            (Some(OperationType::Insert), Some(image)) => match event_image(image) {
                Some(result) => {
                    Change::Inserted(result.map_err(|problem| PersistenceError::Data {
                        location: format!("{} at record {sequence}", location()),
                        problem,
                    })?)
                }
                None => Change::Ignored,
            },
            _ => Change::Ignored,
        };
        Ok(StreamRecord { sequence, approximate_millis, change })
    }
}

/// The event an item's new image holds; `None` for items that are not events (their hash
/// key is not a UUID: log pages, tracking records, snapshots, the lease).
fn event_image(image: &HashMap<String, AttributeValue>) -> Option<Result<EventImage, String>> {
    let Some(AttributeValue::S(key)) = image.get(crate::items::HASH_KEY) else { return None };
    let originator_id = Uuid::parse_str(key).ok()?;
    let number = |name: &str| match image.get(name) {
        Some(AttributeValue::N(n)) => {
            n.parse::<i64>().map_err(|_| format!("{name} is not a whole number: {n}"))
        }
        _ => Err(format!("{name} (N) is missing")),
    };
    Some((|| {
        let version = number(crate::items::RANGE_KEY)?;
        let topic = match image.get("topic") {
            Some(AttributeValue::S(topic)) => topic.clone(),
            _ => return Err("topic (S) is missing".to_owned()),
        };
        let state = match image.get("state") {
            Some(AttributeValue::B(state)) => state.as_ref().to_vec(),
            _ => return Err("state (B) is missing".to_owned()),
        };
        Ok(EventImage {
            originator_id,
            originator_version: u64::try_from(version)
                .map_err(|_| format!("negative version {version}"))?,
            topic,
            state,
            created_at: number("created_at").unwrap_or(0),
        })
    })())
}
