//! The system layer: process applications that follow other applications' notification
//! logs exactly once, systems that wire them together, and runners that drive them.
//!
//! A follower reads each upstream log from its last tracked position, decodes every
//! notification (any `#[aggregate]`'s events decode, through a registry the macro fills),
//! runs its [`Policy`], and records the policy's new events together with the tracking
//! record (upstream name, notification id) in one atomic write. A tracking record that
//! exists already means "processed before": the write is skipped, so every notification
//! has its effect exactly once — also when the follower crashed between policy and write,
//! or two copies of it race.

mod decoders;
mod process;
mod runner;

pub use decoders::{check_topics, decode_any, DuplicateTopic, EventDecoder, Notified};
pub(crate) use process::is_transient;
pub use process::{Policy, ProcessApplication, Processing};
pub use runner::{OnFailure, Skipped, System, SystemBuilder, TokioRunner};
