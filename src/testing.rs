//! Given/when/then tests of domain code, on the in-memory store.
//!
//! [`AggregateTest`] tests an aggregate's commands: given a history, when a command runs,
//! then it recorded the expected events or refused with the expected error (recording
//! nothing). [`PolicyTest`] tests a process application's [`Policy`](crate::system::Policy):
//! given the upstream events it processed, when it processes one more, then it collected
//! the expected events.
//!
//! Events compare by what would be stored (topic and state), so the generated event enums
//! need no `PartialEq`. A failed check panics, as `assert!` does, showing both sides.
//!
//! # An aggregate
//!
//! ```
//! use eventsourcing_dynamodb::prelude::*;
//! use eventsourcing_dynamodb::testing::AggregateTest;
//!
//! #[aggregate]
//! pub struct Account {
//!     balance: i64,
//! }
//!
//! #[aggregate]
//! impl Account {
//!     #[event("Opened")]
//!     pub fn open() -> Self {
//!         Account { balance: 0 }
//!     }
//!
//!     #[event("Deposited")]
//!     pub fn deposit(&mut self, amount: i64) {
//!         self.balance += amount;
//!     }
//!
//!     /// A command that refuses: the body's error comes back, and nothing is recorded.
//!     #[event("Withdrawn")]
//!     pub fn withdraw(&mut self, amount: i64) -> Result<(), Overdrawn> {
//!         if amount > self.balance {
//!             return Err(Overdrawn { balance: self.balance });
//!         }
//!         self.balance -= amount;
//!         Ok(())
//!     }
//! }
//!
//! #[derive(Debug, PartialEq)]
//! pub struct Overdrawn {
//!     balance: i64,
//! }
//!
//! # fn main() {
//! // Given events, when a command, then events (and the state after them).
//! let account = AggregateTest::<Account>::given([
//!     AccountEvent::Opened {},
//!     AccountEvent::Deposited { amount: 10 },
//! ])
//! .when(|account| account.withdraw(4))
//! .then_expect_events([AccountEvent::Withdrawn { amount: 4 }]);
//! assert_eq!((account.balance, account.version()), (6, 3));
//!
//! // Given a history built by commands, then the expected error.
//! let mut account = Account::open();
//! account.deposit(3);
//! AggregateTest::given_aggregate(account)
//!     .when(|account| account.withdraw(5))
//!     .then_expect_error(Overdrawn { balance: 3 });
//!
//! // A constructor.
//! AggregateTest::<Account>::given_no_history()
//!     .when_created(Account::open)
//!     .then_expect_events([AccountEvent::Opened {}]);
//! # }
//! ```
//!
//! # A policy
//!
//! A policy that keeps a count per trick, loading the count or creating it:
//!
//! ```
//! use eventsourcing_dynamodb::prelude::*;
//! use eventsourcing_dynamodb::testing::PolicyTest;
//!
//! #[aggregate]
//! pub struct Dog {
//!     tricks: Vec<String>,
//! }
//!
//! #[aggregate]
//! impl Dog {
//!     #[event("Registered")]
//!     pub fn register() -> Self {
//!         Dog { tricks: Vec::new() }
//!     }
//!
//!     #[event("TrickAdded")]
//!     pub fn add_trick(&mut self, trick: String) {
//!         self.tricks.push(trick);
//!     }
//! }
//!
//! #[aggregate]
//! pub struct TrickCount {
//!     dogs: u32,
//! }
//!
//! #[aggregate]
//! impl TrickCount {
//!     #[event("Started")]
//!     pub fn start(trick: String) -> Self {
//!         let _ = trick;
//!         TrickCount { dogs: 0 }
//!     }
//!
//!     pub fn create_id(trick: &str) -> Uuid {
//!         Uuid::new_v5(&Uuid::NAMESPACE_URL, trick.as_bytes())
//!     }
//!
//!     #[event("Counted")]
//!     pub fn count(&mut self) {
//!         self.dogs += 1;
//!     }
//! }
//!
//! pub struct CountTricks;
//!
//! impl Policy for CountTricks {
//!     async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
//!         let Some(event) = notified.event::<Dog>() else { return Ok(()) };
//!         if let DogEvent::TrickAdded { trick } = &event.payload {
//!             let mut count = processing
//!                 .app()
//!                 .repository()
//!                 .find::<TrickCount>(TrickCount::create_id(trick))
//!                 .await?
//!                 .unwrap_or_else(|| TrickCount::start(trick.clone()));
//!             count.count();
//!             processing.collect(&mut count)?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let mut fido = Dog::register();
//! fido.add_trick("sit".to_string());
//! let mut rex = Dog::register();
//! rex.add_trick("sit".to_string());
//! let (fido, rex) = (fido.collect_events(), rex.collect_events());
//!
//! let mut test = PolicyTest::new("TrickCounter", CountTricks).await?;
//! // The first trick creates the count ...
//! test.when::<Dog>(&fido[1])
//!     .await?
//!     .then_expect_events::<TrickCount>([
//!         TrickCountEvent::Started { trick: "sit".to_string() },
//!         TrickCountEvent::Counted {},
//!     ]);
//! // ... and once it is saved, the next one loads it.
//! test.given::<Dog>(&fido).await?;
//! let then = test.when::<Dog>(&rex[1]).await?;
//! let counted = then.then_expect_events::<TrickCount>([TrickCountEvent::Counted {}]);
//! assert_eq!(counted[0].originator_version, 3);
//! // Registrations count nothing.
//! test.when::<Dog>(&rex[0]).await?.then_expect_no_events();
//! # Ok(())
//! # }
//! ```
pub use eventsourcing_runtime::testing::*;
