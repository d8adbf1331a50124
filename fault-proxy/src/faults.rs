//! The failure modes DynamoDB shows its clients, and the answers that model them.

use std::fmt;
use std::str::FromStr;

/// One way a DynamoDB request can fail, as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException`; the request is not applied.
    Throttling,
    /// HTTP 400 `ProvisionedThroughputExceededException`; not applied.
    ProvisionedThroughput,
    /// HTTP 500 `InternalServerError`; not applied.
    InternalError,
    /// HTTP 503 `ServiceUnavailable`; not applied.
    Unavailable,
    /// `TransactWriteItems` only: `TransactionCanceledException` with a
    /// `TransactionConflict` reason; not applied.
    CancelConflict,
    /// `TransactWriteItems` only: cancelled with a `ThrottlingError` reason; not applied.
    CancelThrottling,
    /// `TransactWriteItems` only: cancelled with a `ProvisionedThroughputExceeded` reason.
    CancelProvisioned,
    /// `TransactWriteItems` only: `TransactionInProgressException`, DynamoDB's answer to a
    /// retry whose `ClientRequestToken` belongs to a transaction still running; not applied.
    InProgress,
    /// The connection is reset before the request reaches the server: not applied.
    ResetBefore,
    /// The request is served, then the connection is reset: applied, response lost.
    LoseResponse,
}

impl Fault {
    /// Every fault, in a fixed order.
    pub const ALL: [Fault; 10] = [
        Fault::Throttling,
        Fault::ProvisionedThroughput,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::CancelConflict,
        Fault::CancelThrottling,
        Fault::CancelProvisioned,
        Fault::InProgress,
        Fault::ResetBefore,
        Fault::LoseResponse,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttling => "throttling",
            Fault::ProvisionedThroughput => "provisioned",
            Fault::InternalError => "internal-error",
            Fault::Unavailable => "unavailable",
            Fault::CancelConflict => "cancel-conflict",
            Fault::CancelThrottling => "cancel-throttling",
            Fault::CancelProvisioned => "cancel-provisioned",
            Fault::InProgress => "in-progress",
            Fault::ResetBefore => "reset-before",
            Fault::LoseResponse => "lose-response",
        }
    }

    pub(crate) fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }

    /// Whether the fault only makes sense for `TransactWriteItems`.
    pub fn transactions_only(self) -> bool {
        matches!(
            self,
            Fault::CancelConflict
                | Fault::CancelThrottling
                | Fault::CancelProvisioned
                | Fault::InProgress
        )
    }

    /// The HTTP answer for faults that answer instead of the server: status and JSON body.
    /// `items` is the number of actions of the transaction (for cancellation reasons).
    pub(crate) fn answer(self, items: usize, pick: usize) -> Option<(u16, String)> {
        const PREFIX: &str = "com.amazonaws.dynamodb.v20120810#";
        let simple = |status: u16, kind: &str, message: &str| {
            let body =
                serde_json::json!({ "__type": format!("{PREFIX}{kind}"), "message": message });
            Some((status, body.to_string()))
        };
        let cancelled = |code: &str, message: &str| {
            let items = items.max(1);
            let reasons: Vec<serde_json::Value> = (0..items)
                .map(|i| match i == pick % items {
                    true => serde_json::json!({ "Code": code, "Message": message }),
                    false => serde_json::json!({ "Code": "None" }),
                })
                .collect();
            let codes: Vec<&str> =
                (0..items).map(|i| if i == pick % items { code } else { "None" }).collect();
            let body = serde_json::json!({
                "__type": format!("{PREFIX}TransactionCanceledException"),
                "CancellationReasons": reasons,
                "Message": format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    codes.join(", ")
                ),
            });
            Some((400, body.to_string()))
        };
        match self {
            Fault::Throttling => simple(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
            Fault::ProvisionedThroughput => simple(
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            ),
            Fault::InternalError => simple(500, "InternalServerError", "Internal server error"),
            Fault::Unavailable => simple(503, "ServiceUnavailable", "Service unavailable"),
            Fault::CancelConflict => cancelled("TransactionConflict", "Transaction is ongoing for the item"),
            Fault::CancelThrottling => cancelled("ThrottlingError", "Throughput exceeds the current capacity for one or more global secondary indexes."),
            Fault::CancelProvisioned => cancelled(
                "ProvisionedThroughputExceeded",
                "The level of configured provisioned throughput for the table was exceeded.",
            ),
            Fault::InProgress => simple(
                400,
                "TransactionInProgressException",
                "The transaction with the given request token is already in progress.",
            ),
            Fault::ResetBefore | Fault::LoseResponse => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault name that is not one of [`Fault::ALL`], or a rate that is not in 0..=1.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Unknown fault name.
    #[error("unknown fault {0:?} (known: {known})", known = Fault::ALL.map(Fault::name).join(", "))]
    UnknownFault(String),
    /// Not `FAULT=RATE` with a rate from 0 to 1.
    #[error("expected FAULT=RATE with a rate from 0 to 1, got {0:?}")]
    Rate(String),
}

impl FromStr for Fault {
    type Err = ParseError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| ParseError::UnknownFault(name.to_owned()))
    }
}

/// Parses `FAULT=RATE`, e.g. `throttling=0.05`.
pub fn parse_rate(text: &str) -> Result<(Fault, f64), ParseError> {
    let (name, rate) = text.split_once('=').ok_or_else(|| ParseError::Rate(text.to_owned()))?;
    let rate: f64 = rate.parse().map_err(|_| ParseError::Rate(text.to_owned()))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(ParseError::Rate(text.to_owned()));
    }
    Ok((name.parse()?, rate))
}

/// How many times each fault was injected, and how many requests passed through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests received.
    pub requests: u64,
    /// Requests forwarded to the server (applied or not, as the server decided).
    pub forwarded: u64,
    /// Requests held back by the configured latency.
    pub delayed: u64,
    /// Injections per fault, in the order of [`Fault::ALL`].
    pub injected: [u64; 10],
}

impl FaultCounts {
    /// How many times `fault` was injected.
    pub fn of(&self, fault: Fault) -> u64 {
        self.injected[fault.index()]
    }

    /// All injections.
    pub fn total(&self) -> u64 {
        self.injected.iter().sum()
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "requests={} forwarded={}", self.requests, self.forwarded)?;
        if self.delayed > 0 {
            write!(f, " delayed={}", self.delayed)?;
        }
        for fault in Fault::ALL {
            if self.of(fault) > 0 {
                write!(f, " {}={}", fault.name(), self.of(fault))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(fault.name().parse::<Fault>().unwrap(), fault);
            assert_eq!(Fault::ALL[fault.index()], fault);
        }
        assert!(parse_rate("throttling=1.5").is_err());
        assert!(parse_rate("nonsense=0.1").is_err());
        assert_eq!(parse_rate("lose-response=0.25").unwrap(), (Fault::LoseResponse, 0.25));
    }

    #[test]
    fn cancellations_name_one_item_per_action() {
        let (status, body) = Fault::CancelConflict.answer(3, 4).unwrap();
        assert_eq!(status, 400);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let codes: Vec<&str> = json["CancellationReasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["None", "TransactionConflict", "None"]);
        assert!(json["__type"].as_str().unwrap().ends_with("#TransactionCanceledException"));
    }
}
