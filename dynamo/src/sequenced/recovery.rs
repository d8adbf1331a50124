//! Completing the log from the table, when the stream no longer holds records the log
//! lacks (a sequencer down for longer than the stream's 24 hours, or a checkpoint naming a
//! shard the stream has dropped).

use super::{
    last_page, now_millis, page_error, pages, sequence_error, write_ready, Lease, Signals,
};
use crate::errors::from_sdk;
use crate::items::HASH_KEY;
use crate::recorder::DynamoRecorder;
use aws_sdk_dynamodb::types::AttributeValue;
use eventsourcing_runtime::persistence::PersistenceError;
use eventsourcing_sequencer::{
    Change, Checkpoint, Config, EventImage, SequenceNumber, Sequencer, ShardEnd, ShardId,
    ShardInfo, StreamRecord,
};
use std::collections::HashSet;
use uuid::Uuid;

/// Logs every event item the log lacks, after the log's last entry: each aggregate's in
/// version order, aggregates in the order of their events' creation. Returns a sequencer
/// that remembers the whole log and reads the stream's shards again from their oldest
/// records (whose events, logged already, it skips); `None` when the lease was lost.
///
/// What this relies on: the stream's remaining records are consumed within twice the
/// sequencer's slack of the recovery (the sequencer forgets logged aggregates no sooner).
pub async fn recover(
    recorder: &DynamoRecorder,
    lease: &Lease,
    config: &Config,
    signals: &Signals,
) -> Result<Option<Sequencer>, PersistenceError> {
    let table = recorder.table().to_owned();
    let mut logged: HashSet<(Uuid, u64)> = HashSet::new();
    let mut before = None;
    loop {
        let range = before.map(|b: u64| ("#sk > :after".to_owned(), vec![(":after", b)]));
        let items =
            recorder.query(pages::PAGES_PARTITION.to_owned(), range, false, Some(100)).await?;
        let Some(last) = items.last() else { break };
        before = Some(pages::read_page(last).map_err(|p| page_error(recorder, last, p))?.first_id);
        for item in &items {
            let page = pages::read_page(item).map_err(|p| page_error(recorder, item, p))?;
            logged.extend(page.entries.iter().map(|e| (e.originator_id, e.originator_version)));
        }
    }
    let next_id = last_page(recorder).await?.map_or(1, |page| page.next_id());
    let mut missing = Vec::new();
    let mut start = None;
    let span = crate::trace::call("Scan", &table, "");
    let mut scanned = 0;
    loop {
        let request = recorder
            .client()
            .scan()
            .table_name(&table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send();
        let output =
            crate::trace::send(&span, request).await.map_err(|e| from_sdk(&table, "Scan", e))?;
        let items = output.items.unwrap_or_default();
        scanned += items.len();
        span.record("items", scanned);
        for item in items {
            let is_event = matches!(item.get(HASH_KEY), Some(AttributeValue::S(key)) if Uuid::parse_str(key).is_ok());
            if !is_event {
                continue;
            }
            let (event, created_at) = recorder.read_event_item(item)?;
            if !logged.contains(&(event.originator_id, event.originator_version)) {
                missing.push(EventImage {
                    originator_id: event.originator_id,
                    originator_version: event.originator_version,
                    topic: event.topic,
                    state: event.state,
                    created_at,
                });
            }
        }
        start = output.last_evaluated_key.filter(|key| !key.is_empty());
        if start.is_none() {
            break;
        }
    }
    tracing::warn!(%table, missing = missing.len(), logged = logged.len(), "logging events the stream no longer holds");
    missing.sort_by_key(|e| (e.created_at, e.originator_id, e.originator_version));
    let checkpoint = Checkpoint { next_id, ..Checkpoint::empty() };
    let now = now_millis();
    let mut sequencer =
        Sequencer::resume(*config, checkpoint, logged.into_iter().map(|key| (key, now)));
    let shard = ShardInfo { id: ShardId("recovery-from-the-table".to_owned()), parent: None };
    sequencer.note_shards(std::slice::from_ref(&shard)).map_err(|e| sequence_error(&table, e))?;
    let records = missing
        .into_iter()
        .enumerate()
        .filter_map(|(index, event)| {
            Some(StreamRecord {
                sequence: SequenceNumber::new(&(index + 1).to_string())?,
                approximate_millis: event.created_at.saturating_mul(1000),
                change: Change::Inserted(event),
            })
        })
        .collect();
    sequencer.offer(&shard, records, ShardEnd::Closed).map_err(|e| sequence_error(&table, e))?;
    if !write_ready(recorder, &mut sequencer, lease, signals).await? {
        return Ok(None);
    }
    Ok(Some(sequencer))
}
