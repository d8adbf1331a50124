//! SDK errors as typed persistence errors: a short sentence in the message, the SDK's full
//! error (with its request details) as the `source()`.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use eventsourcing_runtime::persistence::PersistenceError;

/// How to create the table, for error messages and the README.
pub fn create_table_hint(table: &str) -> String {
    format!(
        "create table {table} with hash key originator_id (S) and range key originator_version (N), \
         or set CREATE_TABLE=true to let the application create it"
    )
}

/// DynamoDB could not be reached at all (no connection, or no answer in time): the source of
/// such an operational error, so that callers can tell it from a failed request.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB could not be reached ({what})")]
pub struct Unreachable {
    /// "no connection" or "no answer in time".
    pub what: &'static str,
    /// The SDK's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Maps an SDK error of `operation` on `table` to a persistence error.
pub fn from_sdk<E, R>(table: &str, operation: &str, error: SdkError<E, R>) -> PersistenceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if error.code() == Some("ResourceNotFoundException") {
        return PersistenceError::Programming(format!(
            "{operation}: table {table} does not exist: {}",
            create_table_hint(table)
        ));
    }
    let operation = format!("{operation} on table {table}");
    let unreachable = match &error {
        SdkError::DispatchFailure(_) => Some("no connection"),
        SdkError::TimeoutError(_) => Some("no answer in time"),
        _ => None,
    };
    if let Some(what) = unreachable {
        let source = Unreachable { what, source: Box::new(error) };
        return PersistenceError::Operational {
            operation,
            message: source.to_string(),
            source: Some(Box::new(source)),
        };
    }
    let message = match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => match &error {
            SdkError::ResponseError(_) => "the response could not be read".to_owned(),
            SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
            _ => "the request failed".to_owned(),
        },
    };
    PersistenceError::Operational { operation, message, source: Some(Box::new(error)) }
}

/// Whether `error` is [`from_sdk`]'s "could not be reached".
pub fn is_unreachable(error: &PersistenceError) -> bool {
    match error {
        PersistenceError::Operational { source: Some(source), .. } => source.is::<Unreachable>(),
        _ => false,
    }
}
