//! One span per DynamoDB request, with the fields an operator asks about first: the
//! operation, the table, the item's key, which try of the call this is, how many items it
//! carried or returned, and how it ended.
//!
//! The spans are at debug level. Their fields are formatted only by a subscriber that
//! records them: without one, a span costs a check of a static flag.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use std::fmt::Display;
use std::future::Future;
use tracing::field::Empty;
use tracing::{Instrument, Span};

/// The span of one call of `operation` on `table` about `key` (`""` for none); the caller
/// records `attempt` and `items` on it, [`send`] records `outcome`.
pub(crate) fn call(operation: &'static str, table: &str, key: impl Display) -> Span {
    tracing::debug_span!(
        "dynamodb",
        operation,
        table,
        key = %key,
        attempt = Empty,
        items = Empty,
        outcome = Empty,
    )
}

/// An item's key as `partition/position`, formatted only when a span records it.
pub(crate) struct Key<'a>(pub &'a str, pub u64);

impl Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

/// Sends `request` inside `span` and records its outcome: `ok`, the service's error code,
/// or what kept the answer from arriving.
pub(crate) async fn send<T, E, R>(
    span: &Span,
    request: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
{
    let result = request.instrument(span.clone()).await;
    if !span.is_disabled() {
        match &result {
            Ok(_) => span.record("outcome", "ok"),
            Err(error) => span.record("outcome", outcome(error)),
        };
    }
    result
}

fn outcome<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> &str {
    match error {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("service error"),
        SdkError::TimeoutError(_) => "timeout",
        SdkError::DispatchFailure(_) => "dispatch failure",
        SdkError::ResponseError(_) => "response error",
        SdkError::ConstructionFailure(_) => "construction failure",
        _ => "failed",
    }
}
