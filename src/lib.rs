//! Event sourcing in Rust in the style of Python's `eventsourcing`, on DynamoDB.
//!
//! ```
//! use eventsourcing_dynamodb::prelude::*;
//!
//! #[aggregate]
//! pub struct Dog {
//!     name: String,
//!     tricks: Vec<String>,
//! }
//!
//! #[aggregate]
//! impl Dog {
//!     #[event("Registered")]
//!     pub fn register(name: String) -> Self {
//!         Dog { name, tricks: Vec::new() }
//!     }
//!
//!     #[event("TrickAdded")]
//!     pub fn add_trick(&mut self, trick: String) {
//!         self.tricks.push(trick);
//!     }
//!
//!     /// A command that may refuse (after recording an event).
//!     pub fn learn(&mut self, trick: &str) -> Result<(), TooMany> {
//!         self.add_trick(trick.to_string());
//!         match self.tricks.len() > 2 {
//!             true => Err(TooMany),
//!             false => Ok(()),
//!         }
//!     }
//! }
//!
//! #[derive(Debug, PartialEq)]
//! pub struct TooMany;
//!
//! impl std::fmt::Display for TooMany {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str("a dog learns two tricks at most")
//!     }
//! }
//!
//! impl std::error::Error for TooMany {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let app = Application::builder("Kennel").isolated().build().await?;
//! let mut dog = Dog::register("Fido".to_string());
//! dog.add_trick("roll over".to_string());
//! app.save(&mut dog).await?;
//!
//! let dog = app.repository().get::<Dog>(dog.id()).await?;
//! assert_eq!(dog.tricks, ["roll over"]);
//! assert_eq!(dog.version(), 2);
//!
//! // `update` saves only when the command returns `Ok`, and keeps its error apart from
//! // the store's: no `.await??` (`?` makes the command's error an `Error::Command`).
//! app.update::<Dog, _>(dog.id(), |dog| dog.learn("sit")).await?;
//! match app.update::<Dog, _>(dog.id(), |dog| dog.learn("beg")).await {
//!     Err(UpdateError::Command(TooMany)) => {} // nothing was saved
//!     Err(UpdateError::Store(error)) => return Err(error),
//!     Ok(()) => unreachable!("a third trick is refused"),
//! }
//! let dog = app.repository().get::<Dog>(dog.id()).await?;
//! assert_eq!((dog.tricks.len(), dog.version()), (2, 3));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use eventsourcing_macros::{aggregate, event};
pub use eventsourcing_runtime::*;

#[cfg(feature = "dynamodb")]
pub use eventsourcing_dynamo as dynamodb;

/// Everything an application needs: `use eventsourcing_dynamodb::prelude::*;`.
pub mod prelude {
    pub use eventsourcing_macros::{aggregate, event};
    pub use eventsourcing_runtime::projection::{
        InMemoryViewStore, Projection, ProjectionRunner, ViewChanges, ViewStore,
    };
    pub use eventsourcing_runtime::system::{
        Notified, OnFailure, Policy, ProcessApplication, Processing, System, SystemBuilder,
    };
    pub use eventsourcing_runtime::{
        Aggregate, Application, ApplicationBuilder, AsApplication, Decimal, DomainEvent, Error,
        OffsetDateTime, Result, RetryPolicy, Root, UpdateError, Uuid,
    };
}
