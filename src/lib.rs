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
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let app = Application::builder("Kennel").isolated().build().await?;
//! let mut dog = Dog::register("Fido".to_string());
//! dog.add_trick("roll over".to_string());
//! app.save(&mut [&mut dog]).await?;
//!
//! let dog = app.repository().get::<Dog>(dog.id()).await?;
//! assert_eq!(dog.tricks, ["roll over"]);
//! assert_eq!(dog.version(), 2);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub use eventsourcing_macros::{aggregate, event};
pub use eventsourcing_runtime::*;

#[cfg(feature = "dynamodb")]
pub use eventsourcing_dynamo as dynamodb;

/// Everything an application needs: `use eventsourcing_dynamodb::prelude::*;`.
pub mod prelude {
    pub use eventsourcing_macros::{aggregate, event};
    pub use eventsourcing_runtime::system::{
        Notified, Policy, ProcessApplication, Processing, System,
    };
    pub use eventsourcing_runtime::{
        Aggregate, Application, DomainEvent, Error, Result, RetryPolicy, Root, Uuid,
    };
}
