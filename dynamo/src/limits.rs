//! DynamoDB's limits on one write, checked before anything is sent.

use crate::items::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use eventsourcing_runtime::persistence::PersistenceError;

/// Actions in one TransactWriteItems call.
pub const MAX_ACTIONS: usize = 100;
/// Bytes of all items in one transaction.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
/// Bytes of one item.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it: attribute names plus values. Numbers are counted
/// at their largest (21 bytes), so the estimate never falls short.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    AttributeValue::N(_) => 21,
                    _ => 1,
                }
        })
        .sum()
}

/// Rejects a write of these items if DynamoDB would.
pub fn check(items: &[(Item, String)]) -> Result<(), PersistenceError> {
    if items.len() > MAX_ACTIONS {
        return Err(PersistenceError::LimitExceeded {
            limit: "actions per transaction",
            actual: items.len(),
            maximum: MAX_ACTIONS,
            detail: format!(
                "this save needs {} items (each event is written with its notification log entry)",
                items.len()
            ),
        });
    }
    let mut total = 0;
    for (item, what) in items {
        let size = item_size(item);
        if size > MAX_ITEM_BYTES {
            return Err(PersistenceError::LimitExceeded {
                limit: "bytes per item",
                actual: size,
                maximum: MAX_ITEM_BYTES,
                detail: format!("{what} is too large"),
            });
        }
        total += size;
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(PersistenceError::LimitExceeded {
            limit: "bytes per transaction",
            actual: total,
            maximum: MAX_TRANSACTION_BYTES,
            detail: format!("the {} items of this save are too large together", items.len()),
        });
    }
    Ok(())
}
