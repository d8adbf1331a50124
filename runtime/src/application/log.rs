use crate::error::Result;
use crate::persistence::{ApplicationRecorder, Notification, NotificationQuery};
use std::sync::Arc;

/// An application's notification log: every event it recorded, in commit order, numbered
/// 1, 2, 3, … without gaps.
#[derive(Clone)]
pub struct NotificationLog {
    recorder: Arc<dyn ApplicationRecorder>,
}

impl std::fmt::Debug for NotificationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationLog").finish_non_exhaustive()
    }
}

impl NotificationLog {
    pub(crate) fn new(recorder: Arc<dyn ApplicationRecorder>) -> Self {
        NotificationLog { recorder }
    }

    /// Up to `limit` notifications from `start` (inclusive; 0 means 1) to `stop` (inclusive),
    /// only of `topics` if any are given.
    pub async fn select(
        &self,
        start: u64,
        limit: usize,
        stop: Option<u64>,
        topics: &[&str],
    ) -> Result<Vec<Notification>> {
        let query = NotificationQuery {
            start,
            limit,
            stop,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        };
        Ok(self.recorder.select_notifications(query).await?)
    }

    /// The highest notification id, 0 when nothing was recorded.
    pub async fn max_notification_id(&self) -> Result<u64> {
        Ok(self.recorder.max_notification_id().await?)
    }
}
