//! Given/when/then tests of domain code: an aggregate's commands ([`AggregateTest`]) and a
//! process application's [`Policy`] ([`PolicyTest`]), on the in-memory store.
//!
//! Events are compared by what would be stored: their topic and their state encoded at
//! one fixed timestamp. Generated event enums need no `PartialEq`, and two events that
//! compare equal are written identically.
//!
//! The harness checks by panicking, as `assert!` does, with a message that shows the
//! expected and the actual events. The `eventsourcing_dynamodb` crate's `testing` module
//! shows it with real aggregates.

use crate::application::{Application, CommandOutcome};
use crate::domain::{Aggregate, DomainEvent, Event, Root};
use crate::error::Result;
use crate::persistence::{Mapper, Notification, StoredEvent};
use crate::system::{Notified, Policy, ProcessApplication};
use std::convert::Infallible;
use std::fmt::Debug;
use time::OffsetDateTime;
use uuid::Uuid;

/// What a constructor returns: the new aggregate, or `Result` of it for a fallible one.
/// Lets [`AggregateTest::when_created`] take either.
pub trait Constructed<A: Aggregate> {
    /// The constructor's error ([`Infallible`] for one that cannot fail).
    type Error;
    /// The outcome as a `Result`.
    fn into_result(self) -> std::result::Result<Root<A>, Self::Error>;
}

impl<A: Aggregate> Constructed<A> for Root<A> {
    type Error = Infallible;

    fn into_result(self) -> std::result::Result<Root<A>, Infallible> {
        Ok(self)
    }
}

impl<A: Aggregate, E> Constructed<A> for std::result::Result<Root<A>, E> {
    type Error = E;

    fn into_result(self) -> std::result::Result<Root<A>, E> {
        self
    }
}

/// A given/when/then test of one aggregate's commands.
///
/// Given a history (events, or an aggregate as commands left it), when a command runs,
/// then it recorded the expected events ([`Then::then_expect_events`]) or refused with the
/// expected error, recording nothing ([`Then::then_expect_error`]).
pub struct AggregateTest<A: Aggregate> {
    history: Option<Root<A>>,
}

impl<A: Aggregate> Debug for AggregateTest<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateTest").field("history", &self.history).finish()
    }
}

impl<A: Aggregate> AggregateTest<A> {
    /// No history: the command under test is a constructor ([`AggregateTest::when_created`]).
    pub fn given_no_history() -> Self {
        AggregateTest { history: None }
    }

    /// Given these events of one aggregate, the first a created event, as if recorded at
    /// versions 1, 2, … by an aggregate with a random id.
    ///
    /// # Panics
    /// If they do not replay: the first is not a created event, a later one is, or a body
    /// refuses one.
    pub fn given(events: impl IntoIterator<Item = A::Event>) -> Self {
        let id = Uuid::new_v4();
        let timestamp = crate::domain::now();
        let events = events.into_iter().zip(1..).map(|(payload, originator_version)| DomainEvent {
            originator_id: id,
            originator_version,
            timestamp,
            payload,
        });
        match Root::<A>::from_events(events) {
            Ok(Some(history)) => AggregateTest { history: Some(history) },
            Ok(None) => panic!(
                "`given` needs the events of aggregate `{}`, starting with a created event; \
                 use `given_no_history` to test a constructor",
                A::NAME
            ),
            Err(rejected) => panic!(
                "the given events of aggregate `{}` do not replay: {}",
                A::NAME,
                rejected.message()
            ),
        }
    }

    /// Given an aggregate as commands left it (a history built by commands): its pending
    /// events count as saved, so the command under test starts with none.
    pub fn given_aggregate(mut aggregate: Root<A>) -> Self {
        aggregate.collect_events();
        AggregateTest { history: Some(aggregate) }
    }

    /// When `command` runs on the aggregate. It returns `()` or `Result<R, E>`, as the
    /// commands that [`Application::update`] takes do.
    ///
    /// # Panics
    /// Without a history: use [`AggregateTest::when_created`] for a constructor.
    pub fn when<O: CommandOutcome>(
        self,
        command: impl FnOnce(&mut Root<A>) -> O,
    ) -> Then<A, O::Value, O::Error> {
        let Some(mut aggregate) = self.history else {
            panic!(
                "`when` runs a command on an existing `{}`: give a history, or test its \
                 constructor with `when_created`",
                A::NAME
            );
        };
        let outcome = command(&mut aggregate).into_result();
        let recorded = aggregate.collect_events();
        Then { outcome, recorded, aggregate: Some(aggregate) }
    }

    /// When a constructor runs (one returning the aggregate, or `Result` of it).
    ///
    /// # Panics
    /// With a history: a constructor makes a new aggregate, so a history would be ignored.
    pub fn when_created<C: Constructed<A>>(
        self,
        constructor: impl FnOnce() -> C,
    ) -> Then<A, (), C::Error> {
        if self.history.is_some() {
            panic!("`when_created` makes a new `{}`: start from `given_no_history`", A::NAME);
        }
        match constructor().into_result() {
            Ok(mut aggregate) => {
                let recorded = aggregate.collect_events();
                Then { outcome: Ok(()), recorded, aggregate: Some(aggregate) }
            }
            Err(error) => Then { outcome: Err(error), recorded: Vec::new(), aggregate: None },
        }
    }
}

/// What a command did in an [`AggregateTest`]: its outcome and the events it recorded.
pub struct Then<A: Aggregate, R, E> {
    outcome: std::result::Result<R, E>,
    recorded: Vec<DomainEvent<A::Event>>,
    aggregate: Option<Root<A>>,
}

impl<A: Aggregate, R: Debug, E: Debug> Debug for Then<A, R, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Then")
            .field("outcome", &self.outcome)
            .field("recorded", &self.recorded)
            .finish_non_exhaustive()
    }
}

impl<A: Aggregate, R, E: Debug> Then<A, R, E> {
    /// Then the command succeeded and recorded exactly `expected`, in order. Returns the
    /// aggregate after the command, to check its state.
    ///
    /// # Panics
    /// If the command failed, or recorded other events.
    pub fn then_expect_events(self, expected: impl IntoIterator<Item = A::Event>) -> Root<A> {
        if let Err(error) = &self.outcome {
            panic!("expected events of `{}`, but the command failed: {error:?}", A::NAME);
        }
        let recorded: Vec<A::Event> =
            self.recorded.into_iter().map(|event| event.payload).collect();
        assert_same_events(&recorded, &expected.into_iter().collect::<Vec<_>>());
        self.aggregate.unwrap_or_else(|| unreachable!("a command that succeeded has its aggregate"))
    }

    /// Then the command refused with `expected` and recorded nothing.
    ///
    /// # Panics
    /// If it succeeded, failed with another error, or recorded events although it failed.
    pub fn then_expect_error(self, expected: E)
    where
        E: PartialEq,
    {
        match self.outcome {
            Ok(_) => panic!(
                "expected the error {expected:?}, but the command succeeded, recording {:?}",
                self.recorded
            ),
            Err(error) => assert_eq!(error, expected, "the command failed with another error"),
        }
        if !self.recorded.is_empty() {
            panic!("the command failed but recorded {:?}", self.recorded);
        }
    }

    /// The command's outcome, for checks the two `then_expect_*` methods do not make.
    pub fn outcome(&self) -> &std::result::Result<R, E> {
        &self.outcome
    }

    /// The events the command recorded.
    pub fn recorded(&self) -> &[DomainEvent<A::Event>] {
        &self.recorded
    }
}

/// A given/when/then test of a [`Policy`]: given notifications it processed (and whose
/// events it saved), when it processes one more, then it collected the expected events.
///
/// The process application is an in-memory one of its own. Notifications come from an
/// upstream application (named `"Upstream"` unless [`PolicyTest::upstream`] says
/// otherwise), numbered 1, 2, … in the order [`PolicyTest::given`] processes them.
pub struct PolicyTest<P: Policy> {
    process: ProcessApplication<P>,
    upstream: String,
    next_notification: u64,
}

impl<P: Policy> Debug for PolicyTest<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyTest")
            .field("app", &self.process.name())
            .field("upstream", &self.upstream)
            .field("next_notification", &self.next_notification)
            .finish_non_exhaustive()
    }
}

impl<P: Policy> PolicyTest<P> {
    /// `policy` on a new in-memory application called `name`.
    pub async fn new(name: &str, policy: P) -> Result<Self> {
        let app = Application::builder(name).isolated().build().await?;
        Ok(Self::on(app, policy))
    }

    /// `policy` on `app` (to configure it, or to give it aggregates first).
    pub fn on(app: Application, policy: P) -> Self {
        PolicyTest {
            process: ProcessApplication::new(app, policy),
            upstream: "Upstream".to_owned(),
            next_notification: 1,
        }
    }

    /// Names the upstream application the notifications come from.
    pub fn upstream(mut self, name: &str) -> Self {
        self.upstream = name.to_owned();
        self
    }

    /// The process application, to read what the given notifications saved.
    pub fn app(&self) -> &Application {
        self.process.app()
    }

    /// Given these upstream events: the policy processes each, and what it collects is
    /// saved with its tracking record, as a running system would.
    pub async fn given<A: Aggregate>(
        &mut self,
        events: &[DomainEvent<A::Event>],
    ) -> Result<&mut Self> {
        for event in events {
            let notified = self.notify::<A>(event)?;
            self.process.process(&notified).await?;
            self.next_notification += 1;
        }
        Ok(self)
    }

    /// When the policy processes `event` as the next notification: what it collects is
    /// returned and not saved, so the next notification has the same position.
    ///
    /// Fails if the event does not encode or decode with the application's mapper; the
    /// policy's own error is kept in the returned [`PolicyThen`].
    pub async fn when<A: Aggregate>(&self, event: &DomainEvent<A::Event>) -> Result<PolicyThen> {
        let notified = self.notify::<A>(event)?;
        let collected = self.process.collect_without_saving(&notified).await;
        Ok(PolicyThen { collected, mapper: self.process.mapper().clone() })
    }

    /// `event` as the next notification of the upstream log, decoded as a follower does.
    fn notify<A: Aggregate>(&self, event: &DomainEvent<A::Event>) -> Result<Notified> {
        let stored = self.process.mapper().to_stored(event)?;
        let notification = Notification { id: self.next_notification, event: stored };
        Notified::decode(&self.upstream, notification, self.process.mapper())
    }
}

/// What a policy collected for one notification in a [`PolicyTest`].
pub struct PolicyThen {
    collected: Result<Vec<StoredEvent>>,
    mapper: Mapper,
}

impl Debug for PolicyThen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyThen").field("collected", &self.collected).finish_non_exhaustive()
    }
}

impl PolicyThen {
    /// Then the policy succeeded and collected exactly `expected`, all of aggregate `A`, in
    /// order. Returns them with their metadata (ids, versions).
    ///
    /// # Panics
    /// If the policy failed, collected other events, or events of another aggregate.
    pub fn then_expect_events<A: Aggregate>(
        &self,
        expected: impl IntoIterator<Item = A::Event>,
    ) -> Vec<DomainEvent<A::Event>> {
        let stored = match &self.collected {
            Ok(stored) => stored,
            Err(error) => {
                panic!("expected events of `{}`, but the policy failed: {error}", A::NAME)
            }
        };
        let collected: Vec<DomainEvent<A::Event>> = stored
            .iter()
            .map(|stored| match self.mapper.to_domain::<A::Event>(stored, A::NAME) {
                Ok(event) => event,
                Err(error) => panic!("the policy collected {:?}: {error}", stored.topic),
            })
            .collect();
        let payloads: Vec<A::Event> = collected.iter().map(|event| event.payload.clone()).collect();
        assert_same_events(&payloads, &expected.into_iter().collect::<Vec<_>>());
        collected
    }

    /// Then the policy succeeded and collected nothing.
    ///
    /// # Panics
    /// If the policy failed or collected events.
    pub fn then_expect_no_events(&self) {
        match &self.collected {
            Ok(stored) if stored.is_empty() => {}
            Ok(stored) => panic!(
                "expected no events, but the policy collected {:?}",
                stored.iter().map(|event| &event.topic).collect::<Vec<_>>()
            ),
            Err(error) => panic!("expected no events, but the policy failed: {error}"),
        }
    }

    /// Then the policy failed: returns its error, to check.
    ///
    /// # Panics
    /// If the policy succeeded.
    pub fn then_expect_error(self) -> crate::Error {
        match self.collected {
            Ok(stored) => {
                panic!("expected the policy to fail, but it collected {} events", stored.len())
            }
            Err(error) => error,
        }
    }

    /// What the policy collected, as it would be stored (or its error).
    pub fn collected(&self) -> &Result<Vec<StoredEvent>> {
        &self.collected
    }
}

/// Whether two events would be stored alike: the same topic and the same state.
pub fn same_event<E: Event>(left: &E, right: &E) -> bool {
    left.topic() == right.topic() && encoded(left) == encoded(right)
}

/// The event's stored state at one fixed timestamp, or the encoding error's text (so that
/// an event that cannot be encoded still compares, and shows, as different).
fn encoded<E: Event>(event: &E) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    event.encode_state(&OffsetDateTime::UNIX_EPOCH, &mut out).map_err(|error| error.to_string())?;
    Ok(out)
}

fn assert_same_events<E: Event>(actual: &[E], expected: &[E]) {
    let alike = actual.len() == expected.len()
        && actual.iter().zip(expected).all(|(actual, expected)| same_event(actual, expected));
    if !alike {
        panic!("the recorded events differ from the expected ones\n  recorded: {actual:?}\n  expected: {expected:?}");
    }
}
