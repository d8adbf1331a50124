//! Which notification log a DynamoDB recorder writes (kept apart from the write path).

use super::DynamoRecorder;
use eventsourcing_runtime::persistence::StoreIdentity;

impl StoreIdentity for DynamoRecorder {
    /// `dynamodb:<region>/<table>` when the notification log is on, else `None`. The SDK
    /// client does not expose its endpoint URL, so two tables of the same name and region
    /// on different endpoints also count as one log: a system refuses that too (give each
    /// application its own table, `<APPNAME>_DYNAMO_TABLE`).
    fn store_identity(&self) -> Option<String> {
        if !self.log || !self.prefix.is_empty() {
            return None;
        }
        let region = self.inner.client.config().region().map_or("(no region)", |r| r.as_ref());
        Some(format!("dynamodb:{region}/{}", self.inner.table))
    }
}
