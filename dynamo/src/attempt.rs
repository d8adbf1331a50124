//! What one write request's answer says about the write: committed, refused by a condition,
//! worth trying again (its own fate, or an earlier attempt's, maybe unknown), or refused for
//! good.

use crate::errors::from_sdk;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use eventsourcing_runtime::persistence::PersistenceError;

/// The answer to one write request (after the SDK's own retries).
#[derive(Debug)]
pub enum Attempt {
    /// DynamoDB applied the write.
    Committed,
    /// The condition of the item at this index failed: that item exists. It may be this very
    /// write's, from an earlier attempt whose response was lost.
    ConditionFailed(usize),
    /// Not applied, or not known to be: throttling, a conflicting or still-running
    /// transaction, a server error, a lost connection or a timeout. An earlier attempt of
    /// the same call may have committed.
    Retry(PersistenceError),
    /// Refused for a reason that trying again cannot change.
    Refused(PersistenceError),
}

/// Service error codes after which trying again may succeed.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
];

/// Cancellation reasons after which trying again may succeed.
const RETRYABLE_REASONS: &[&str] =
    &["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"];

/// Classifies the answer to a `PutItem`.
pub fn put_item<R>(table: &str, result: Result<R, SdkError<PutItemError>>) -> Attempt {
    match result {
        Ok(_) => Attempt::Committed,
        Err(error) => match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(_)) => Attempt::ConditionFailed(0),
            _ => other(table, "PutItem", error),
        },
    }
}

/// Classifies the answer to a `TransactWriteItems`; `describe(i)` names the item at index i.
pub fn transact_write_items<R>(
    table: &str,
    result: Result<R, SdkError<TransactWriteItemsError>>,
    describe: impl Fn(usize) -> String,
) -> Attempt {
    let error = match result {
        Ok(_) => return Attempt::Committed,
        Err(error) => error,
    };
    let reasons = match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons()
        }
        // DynamoDB's answer to a retry whose token belongs to a transaction still running.
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
            return Attempt::Retry(from_sdk(table, "TransactWriteItems", error))
        }
        _ => return other(table, "TransactWriteItems", error),
    };
    match cancellation(reasons) {
        Cancellation::Condition(index) => Attempt::ConditionFailed(index),
        Cancellation::Retryable(_) => Attempt::Retry(from_sdk(table, "TransactWriteItems", error)),
        Cancellation::Refused(index, reason) => Attempt::Refused(PersistenceError::Rejected {
            operation: format!("TransactWriteItems on table {table}"),
            reason,
            item: index.map_or_else(|| "the transaction".to_owned(), describe),
        }),
    }
}

/// What a transaction's cancellation reasons say.
#[derive(Debug, PartialEq, Eq)]
pub enum Cancellation {
    /// The condition of this item failed (whatever else happened: it decides).
    Condition(usize),
    /// Every reason given is one that trying again may clear.
    Retryable(String),
    /// A reason that trying again cannot clear, with the item it names.
    Refused(Option<usize>, String),
}

/// Reads the reasons of a `TransactionCanceledException`, one per action of the transaction.
pub fn cancellation(reasons: &[CancellationReason]) -> Cancellation {
    let given: Vec<(usize, &str)> = reasons
        .iter()
        .enumerate()
        .filter_map(|(index, reason)| reason.code().map(|code| (index, code)))
        .filter(|(_, code)| *code != "None")
        .collect();
    if let Some((index, _)) = given.iter().find(|(_, code)| *code == "ConditionalCheckFailed") {
        return Cancellation::Condition(*index);
    }
    match given.iter().find(|(_, code)| !RETRYABLE_REASONS.contains(code)) {
        Some((index, code)) => Cancellation::Refused(Some(*index), (*code).to_owned()),
        None => match given.first() {
            Some((_, code)) => Cancellation::Retryable((*code).to_owned()),
            // Cancelled without a reason: DynamoDB documents none such; treat as transient.
            None => Cancellation::Retryable("no reason given".to_owned()),
        },
    }
}

fn other<E>(table: &str, operation: &str, error: SdkError<E>) -> Attempt
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retry = match &error {
        SdkError::ServiceError(service) => {
            service.err().code().is_some_and(|code| RETRYABLE_CODES.contains(&code))
                || service.raw().status().as_u16() >= 500
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    };
    match retry {
        true => Attempt::Retry(from_sdk(table, operation, error)),
        false => Attempt::Refused(from_sdk(table, operation, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes.iter().map(|code| CancellationReason::builder().code(*code).build()).collect()
    }

    #[test]
    fn a_failed_condition_decides_whatever_else_is_given() {
        let given = reasons(&["None", "TransactionConflict", "ConditionalCheckFailed"]);
        assert_eq!(cancellation(&given), Cancellation::Condition(2));
    }

    #[test]
    fn transaction_conflict_is_retried() {
        let given = reasons(&["None", "TransactionConflict"]);
        assert_eq!(cancellation(&given), Cancellation::Retryable("TransactionConflict".into()));
    }

    #[test]
    fn throttling_error_is_retried() {
        let given = reasons(&["ThrottlingError", "None"]);
        assert_eq!(cancellation(&given), Cancellation::Retryable("ThrottlingError".into()));
    }

    #[test]
    fn provisioned_throughput_exceeded_is_retried() {
        let given = reasons(&["None", "ProvisionedThroughputExceeded"]);
        let expected = Cancellation::Retryable("ProvisionedThroughputExceeded".into());
        assert_eq!(cancellation(&given), expected);
    }

    #[test]
    fn validation_error_is_refused_naming_the_item() {
        let given = reasons(&["None", "ValidationError"]);
        assert_eq!(cancellation(&given), Cancellation::Refused(Some(1), "ValidationError".into()));
    }

    #[test]
    fn item_collection_size_limit_is_refused() {
        let given = reasons(&["ItemCollectionSizeLimitExceeded", "TransactionConflict"]);
        let expected = Cancellation::Refused(Some(0), "ItemCollectionSizeLimitExceeded".into());
        assert_eq!(cancellation(&given), expected);
    }

    #[test]
    fn a_cancellation_without_reasons_is_retried() {
        assert!(matches!(cancellation(&reasons(&["None"])), Cancellation::Retryable(_)));
        assert!(matches!(cancellation(&[]), Cancellation::Retryable(_)));
    }

    #[test]
    fn refused_transactions_name_the_item() {
        use aws_sdk_dynamodb::types::error::TransactionCanceledException;
        let cancelled = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(reasons(&["None", "ValidationError"])))
            .build();
        let response = aws_sdk_dynamodb::config::http::HttpResponse::new(
            400.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        let error = SdkError::service_error(
            TransactWriteItemsError::TransactionCanceledException(cancelled),
            response,
        );
        let attempt =
            transact_write_items::<()>("events", Err(error), |i| format!("item number {i}"));
        match attempt {
            Attempt::Refused(PersistenceError::Rejected { reason, item, operation }) => {
                assert_eq!(reason, "ValidationError");
                assert_eq!(item, "item number 1");
                assert!(operation.contains("events"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn in_progress_and_throttling_and_server_errors_are_retried() {
        use aws_sdk_dynamodb::types::error::TransactionInProgressException;
        let response = |status: u16| {
            aws_sdk_dynamodb::config::http::HttpResponse::new(
                status.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            )
        };
        let in_progress = TransactWriteItemsError::TransactionInProgressException(
            TransactionInProgressException::builder().build(),
        );
        let error = SdkError::service_error(in_progress, response(400));
        assert!(matches!(
            transact_write_items::<()>("t", Err(error), |i| i.to_string()),
            Attempt::Retry(_)
        ));
        let throttled = PutItemError::generic(
            aws_sdk_dynamodb::error::ErrorMetadata::builder().code("ThrottlingException").build(),
        );
        let error = SdkError::service_error(throttled, response(400));
        assert!(matches!(put_item::<()>("t", Err(error)), Attempt::Retry(_)));
        let internal = PutItemError::generic(
            aws_sdk_dynamodb::error::ErrorMetadata::builder().code("Whatever").build(),
        );
        let error = SdkError::service_error(internal, response(500));
        assert!(matches!(put_item::<()>("t", Err(error)), Attempt::Retry(_)));
        let invalid = PutItemError::generic(
            aws_sdk_dynamodb::error::ErrorMetadata::builder().code("ValidationException").build(),
        );
        let error = SdkError::service_error(invalid, response(400));
        assert!(matches!(put_item::<()>("t", Err(error)), Attempt::Refused(_)));
    }
}
