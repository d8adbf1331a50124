//! The sequencer's lease: item `#sequencer`/`0` with `owner`, `epoch` and `expires_at`
//! (epoch ms). Whoever holds it writes pages, each page write checking `owner` and
//! `epoch` in the same transaction, so a deposed sequencer can never write one.

use crate::errors::from_sdk;
use crate::items::{HASH_KEY, RANGE_KEY};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, ReturnValue};
use aws_sdk_dynamodb::Client;
use eventsourcing_runtime::persistence::PersistenceError;

/// The partition of the lease item.
pub const LEASE_PARTITION: &str = "#sequencer";

/// A lease held: this owner, at this epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub epoch: u64,
}

fn key() -> [(String, AttributeValue); 2] {
    [
        (HASH_KEY.to_owned(), AttributeValue::S(LEASE_PARTITION.to_owned())),
        (RANGE_KEY.to_owned(), AttributeValue::N("0".to_owned())),
    ]
}

fn failed_condition<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(error: &E) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Takes the lease if it is free or expired (a new epoch), or returns `None` while another
/// owner holds it.
#[tracing::instrument(
    name = "lease",
    level = "debug",
    skip_all,
    fields(table = table, outcome = tracing::field::Empty, epoch = tracing::field::Empty)
)]
pub async fn acquire(
    client: &Client,
    table: &str,
    owner: &str,
    now: i64,
    length: i64,
) -> Result<Option<Lease>, PersistenceError> {
    let [hash, range] = key();
    let span = crate::trace::call("UpdateItem", table, crate::trace::Key(LEASE_PARTITION, 0));
    let request = client
        .update_item()
        .table_name(table)
        .key(hash.0, hash.1)
        .key(range.0, range.1)
        .update_expression("SET #owner = :me, #expires = :expires ADD #epoch :one")
        .condition_expression("attribute_not_exists(#owner) OR #expires < :now OR #owner = :me")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_names("#expires", "expires_at")
        .expression_attribute_names("#epoch", "epoch")
        .expression_attribute_values(":me", AttributeValue::S(owner.to_owned()))
        .expression_attribute_values(":expires", AttributeValue::N((now + length).to_string()))
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
        .return_values(ReturnValue::UpdatedNew)
        .send();
    let lease = tracing::Span::current();
    match crate::trace::send(&span, request).await {
        Ok(output) => {
            let epoch = output
                .attributes
                .as_ref()
                .and_then(|a| a.get("epoch"))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| PersistenceError::Data {
                    location: format!("in table {table} at {HASH_KEY}={LEASE_PARTITION}"),
                    problem: "the lease has no epoch".to_owned(),
                })?;
            lease.record("outcome", "acquired");
            lease.record("epoch", epoch);
            Ok(Some(Lease { owner: owner.to_owned(), epoch }))
        }
        Err(error) if error.as_service_error().is_some_and(failed_condition) => {
            lease.record("outcome", "held by another");
            Ok(None)
        }
        Err(error) => Err(from_sdk(table, "UpdateItem (sequencer lease)", error)),
    }
}

/// Extends a lease held, recording the sequencer's progress for other processes;
/// `false` when it was lost (another owner or a newer epoch).
pub async fn renew(
    client: &Client,
    table: &str,
    lease: &Lease,
    now: i64,
    length: i64,
    progress: &super::Progress,
) -> Result<bool, PersistenceError> {
    set_held(client, table, lease, now + length, progress).await
}

/// Hands a lease back, so that another sequencer may take it at once, recording the
/// progress made (which [`progress`] goes on reporting). `false` when it had been lost
/// already.
pub async fn release(
    client: &Client,
    table: &str,
    lease: &Lease,
    now: i64,
    progress: &super::Progress,
) -> Result<bool, PersistenceError> {
    // The owner stays, so that a later call of the same owner retakes it like a renewal.
    set_held(client, table, lease, now - 1, progress).await
}

/// Sets a held lease's expiry and recorded progress; `false` when it was not held.
async fn set_held(
    client: &Client,
    table: &str,
    lease: &Lease,
    expires_at: i64,
    progress: &super::Progress,
) -> Result<bool, PersistenceError> {
    let [hash, range] = key();
    let oldest = progress.oldest_waiting.unwrap_or(i64::MAX);
    let span = crate::trace::call("UpdateItem", table, crate::trace::Key(LEASE_PARTITION, 0));
    let request = client
        .update_item()
        .table_name(table)
        .key(hash.0, hash.1)
        .key(range.0, range.1)
        .update_expression("SET #expires = :expires, #horizon = :horizon, #oldest = :oldest")
        .condition_expression("#owner = :me AND #epoch = :epoch")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_names("#epoch", "epoch")
        .expression_attribute_names("#expires", "expires_at")
        .expression_attribute_names("#horizon", "horizon")
        .expression_attribute_names("#oldest", "oldest_waiting")
        .expression_attribute_values(":me", AttributeValue::S(lease.owner.clone()))
        .expression_attribute_values(":epoch", AttributeValue::N(lease.epoch.to_string()))
        .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
        .expression_attribute_values(":horizon", AttributeValue::N(progress.horizon.to_string()))
        .expression_attribute_values(":oldest", AttributeValue::N(oldest.to_string()))
        .send();
    match crate::trace::send(&span, request).await {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().is_some_and(failed_condition) => Ok(false),
        Err(error) => Err(from_sdk(table, "UpdateItem (sequencer lease)", error)),
    }
}

/// The check that fences a page write: the lease is still this owner's, at this epoch.
pub fn fence(table: &str, lease: &Lease) -> Result<ConditionCheck, PersistenceError> {
    let [hash, range] = key();
    ConditionCheck::builder()
        .table_name(table)
        .key(hash.0, hash.1)
        .key(range.0, range.1)
        .condition_expression("#owner = :me AND #epoch = :epoch")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_names("#epoch", "epoch")
        .expression_attribute_values(":me", AttributeValue::S(lease.owner.clone()))
        .expression_attribute_values(":epoch", AttributeValue::N(lease.epoch.to_string()))
        .build()
        .map_err(|e| PersistenceError::Programming(e.to_string()))
}

/// The progress the lease's last holder recorded (at its last renewal, or when it handed
/// the lease back); `None` when no sequencer ever recorded any. It stays true after the
/// lease expires: every event committed before its horizon had been consumed then.
pub async fn progress(
    client: &Client,
    table: &str,
) -> Result<Option<super::Progress>, PersistenceError> {
    let [hash, range] = key();
    let span = crate::trace::call("GetItem", table, crate::trace::Key(LEASE_PARTITION, 0));
    let request = client
        .get_item()
        .table_name(table)
        .consistent_read(true)
        .key(hash.0, hash.1)
        .key(range.0, range.1)
        .send();
    let output = crate::trace::send(&span, request)
        .await
        .map_err(|e| from_sdk(table, "GetItem (sequencer lease)", e))?;
    let Some(item) = output.item else { return Ok(None) };
    let number =
        |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
    Ok(number("horizon").map(|horizon| super::Progress {
        leading: false,
        horizon,
        oldest_waiting: number("oldest_waiting").filter(|t| *t != i64::MAX),
    }))
}
