//! The decision logic of the notification-log sequencer: DynamoDB Streams records in, log
//! pages out. No I/O happens here; the code that reads the stream, looks items up and
//! writes pages is a thin loop around [`Sequencer`].
//!
//! What it guarantees, given the stream's own promise (every change of an item appears
//! once, in order *for that item*; nothing about order across items, even of one
//! transaction or one aggregate):
//!
//! - every event item inserted into the table is logged exactly once, also across restarts
//!   from a page's [`Checkpoint`] and repeated records;
//! - notification ids are 1, 2, 3, … without gaps, page after page;
//! - an aggregate's events are logged in version order: version v only after v − 1 (unless
//!   v − 1 does not exist in the table, or was logged before the sequencer's memory begins);
//! - a child shard is read only after its parent is read to its end.
//!
//! What it relies on: the creation time that writers store in each event item (`created_at`,
//! epoch seconds) is within [`Config::slack_millis`] of the stream's approximate creation time of
//! its record. It uses that to tell, for an aggregate it has no memory of, whether the
//! preceding version was logged long ago or has yet to arrive (see [`Predecessor`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod model;
mod position;
mod sequencer;

pub use model::{
    Change, Checkpoint, EventImage, Page, PageEntry, ShardEnd, ShardInfo, StreamRecord,
};
pub use position::{SequenceNumber, ShardId};
pub use sequencer::{Config, Predecessor, SequenceError, Sequencer};
