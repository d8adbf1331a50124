//! SDK errors as typed persistence errors.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use eventsourcing_runtime::persistence::PersistenceError;

/// How to create the table, for error messages and the README.
pub fn create_table_hint(table: &str) -> String {
    format!(
        "create table {table} with hash key originator_id (S) and range key originator_version (N), \
         or set CREATE_TABLE=true to let the application create it"
    )
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
    PersistenceError::Operational {
        operation: format!("{operation} on table {table}"),
        message: DisplayErrorContext(&error).to_string(),
        source: Some(Box::new(error)),
    }
}
