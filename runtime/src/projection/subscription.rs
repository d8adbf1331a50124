//! [`Application::subscribe`]: the notification log as an endless stream.

use crate::application::{Application, NotificationLog};
use crate::error::Result;
use crate::persistence::Notification;
use futures_core::Stream;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;

/// How a [`Subscription`] reads and waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionSettings {
    /// How many notifications one read takes from the log (at least 1).
    pub page: usize,
    /// The longest pause between two reads of a log that has nothing new and that no
    /// writer in this process announced; pauses double from 1 ms up to this.
    pub max_poll: Duration,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        SubscriptionSettings { page: 100, max_poll: Duration::from_millis(100) }
    }
}

/// The notifications of an application after a position, in id order, waiting for new
/// ones when it reaches the end: a [`Stream`] of `Result<Notification>`.
///
/// It delivers exactly `gt + 1`, `gt + 2`, … and never skips an id: a page that starts
/// after the id it needs (a log read by others may lag) is read again later. It reads a
/// page only when the one before has been taken (backpressure), waits without polling
/// when this process writes the log (woken by the application's saves, or by the
/// sequencer that appends to a DynamoDB `sequenced` log), and polls with doubling pauses
/// up to [`SubscriptionSettings::max_poll`] otherwise. Dropping it cancels it.
///
/// A failed read is yielded as an `Err` and does not end the stream: the next poll reads
/// again from the same position.
pub struct Subscription {
    /// `None` while `fetch` has it.
    reader: Option<Reader>,
    /// The read (or wait) in flight, holding the reader.
    fetch: Option<Fetch>,
}

/// A read of the log (or a wait for news) in flight, giving the reader back.
type Fetch = Pin<Box<dyn Future<Output = (Reader, Result<()>)> + Send>>;

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next notification if it has been read already, without reading or waiting
    /// (and without starting a request that would then be left half-sent).
    pub fn next_ready(&mut self) -> Option<Notification> {
        self.reader.as_mut()?.pop()
    }
}

impl Stream for Subscription {
    type Item = Result<Notification>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(notification) = self.next_ready() {
                return Poll::Ready(Some(Ok(notification)));
            }
            if self.fetch.is_none() {
                let Some(mut reader) = self.reader.take() else {
                    return Poll::Ready(None);
                };
                self.fetch = Some(Box::pin(async move {
                    let filled = reader.fill().await;
                    (reader, filled)
                }));
            }
            let Some(fetch) = self.fetch.as_mut() else { continue };
            let (reader, filled) = std::task::ready!(fetch.as_mut().poll(cx));
            self.fetch = None;
            self.reader = Some(reader);
            if let Err(error) = filled {
                return Poll::Ready(Some(Err(error)));
            }
        }
    }
}

impl Application {
    /// The notifications after `gt` (0 for all), then each new one as it is recorded; see
    /// [`Subscription`]. Python eventsourcing's `Application.subscribe(gt=...)`.
    pub fn subscribe(&self, gt: u64) -> Subscription {
        self.subscribe_with(gt, SubscriptionSettings::default())
    }

    /// [`Application::subscribe`] with other page size or polling.
    pub fn subscribe_with(&self, gt: u64, settings: SubscriptionSettings) -> Subscription {
        let reader = Reader {
            log: self.notification_log().clone(),
            saved: self.prompts(),
            appended: self.recorders().events.log_appended(),
            next: gt.saturating_add(1),
            page: settings.page.max(1),
            max_poll: settings.max_poll.max(FIRST_PAUSE),
            buffer: VecDeque::new(),
        };
        Subscription { reader: Some(reader), fetch: None }
    }
}

const FIRST_PAUSE: Duration = Duration::from_millis(1);

struct Reader {
    log: NotificationLog,
    /// Woken by the application's saves in this process.
    saved: Arc<Notify>,
    /// Woken by this process's sequencer when the log is appended after the fact.
    appended: Option<Arc<Notify>>,
    /// The id to deliver next.
    next: u64,
    page: usize,
    max_poll: Duration,
    buffer: VecDeque<Notification>,
}

impl Reader {
    fn pop(&mut self) -> Option<Notification> {
        let notification = self.buffer.pop_front()?;
        self.next = notification.id + 1;
        Some(notification)
    }

    /// Reads until the buffer holds the next notification, waiting when there is none.
    async fn fill(&mut self) -> Result<()> {
        let mut pause = FIRST_PAUSE;
        loop {
            if !self.buffer.is_empty() {
                return Ok(());
            }
            // Created before the read: `notify_waiters` reaches a future from its creation
            // on, so a write between the read and the wait below is not missed.
            let (saved, appended) = (Arc::clone(&self.saved), self.appended.clone());
            let saved = saved.notified();
            let appended = appended.as_ref().map(|notify| notify.notified());
            let page = self.log.select(self.next, self.page, None, &[]).await?;
            self.take_contiguous(page);
            if !self.buffer.is_empty() {
                return Ok(());
            }
            let appended = async {
                match appended {
                    Some(appended) => appended.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = saved => {}
                _ = appended => {}
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(self.max_poll);
        }
    }

    /// Keeps the notifications `next`, `next + 1`, … of `page`, up to the first missing id.
    fn take_contiguous(&mut self, page: Vec<Notification>) {
        let mut expected = self.next;
        for notification in page {
            if notification.id < expected {
                continue;
            }
            if notification.id > expected {
                tracing::debug!(
                    expected,
                    found = notification.id,
                    "notification log not yet complete here; reading again"
                );
                break;
            }
            expected += 1;
            self.buffer.push_back(notification);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::memory::InMemoryRecorder;
    use crate::persistence::StoredEvent;

    fn notification(id: u64) -> Notification {
        let event = StoredEvent {
            originator_id: uuid::Uuid::nil(),
            originator_version: id,
            topic: "t".to_owned(),
            state: Vec::new(),
        };
        Notification { id, event }
    }

    fn reader(next: u64) -> Reader {
        Reader {
            log: NotificationLog::new(Arc::new(InMemoryRecorder::new())),
            saved: Arc::new(Notify::new()),
            appended: None,
            next,
            page: 10,
            max_poll: FIRST_PAUSE,
            buffer: VecDeque::new(),
        }
    }

    fn buffered(reader: &Reader) -> Vec<u64> {
        reader.buffer.iter().map(|n| n.id).collect()
    }

    #[test]
    fn a_page_is_taken_up_to_its_first_missing_id() {
        let mut reader = reader(3);
        reader.take_contiguous([3, 4, 6, 7].map(notification).to_vec());
        assert_eq!(buffered(&reader), [3, 4]);
    }

    #[test]
    fn a_page_that_starts_after_the_next_id_is_not_taken() {
        let mut reader = reader(3);
        reader.take_contiguous([4, 5].map(notification).to_vec());
        assert!(reader.buffer.is_empty());
    }

    #[test]
    fn ids_already_delivered_are_dropped() {
        let mut reader = reader(3);
        reader.take_contiguous([1, 2, 3, 4].map(notification).to_vec());
        assert_eq!(buffered(&reader), [3, 4]);
    }
}
