use crate::items::MalformedItem;
use eventsourcing_runtime::environment::ConfigError;
use eventsourcing_runtime::persistence::DecodeProblem;
use uuid::Uuid;

/// Why the inspector could not do what it was asked (problems *in* the table found by
/// [`verify`](crate::Inspector::verify) are a [`Report`](crate::check::Report), not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The configuration (table, endpoint, compression or cipher settings) is unusable.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// A DynamoDB request failed.
    #[error("{operation} on table {table} failed: {message}")]
    Request {
        /// The table.
        table: String,
        /// The operation, e.g. `Query #notifications`.
        operation: String,
        /// What the SDK reported, with its causes.
        message: String,
    },
    /// An item the command needs cannot be read.
    #[error("in table {table}: {source}")]
    Malformed {
        /// The table.
        table: String,
        /// The item and what is wrong with it.
        #[source]
        source: MalformedItem,
    },
    /// An event's state cannot be opened (decrypted, decompressed) or is not JSON.
    #[error(
        "cannot decode the state of {originator_id} v{originator_version} in table {table}: {problem}"
    )]
    Decode {
        /// The table.
        table: String,
        /// The aggregate.
        originator_id: Uuid,
        /// The version.
        originator_version: u64,
        /// What went wrong.
        problem: DecodeFailure,
    },
    /// The output could not be written.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// How a state failed to decode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeFailure {
    /// Decryption or decompression failed (wrong `CIPHER_KEY`, or `COMPRESSOR_TOPIC` unlike the
    /// writer's).
    #[error("{0} (check COMPRESSOR_TOPIC, CIPHER_TOPIC and CIPHER_KEY)")]
    Open(DecodeProblem),
    /// The opened bytes are not JSON.
    #[error("state is not JSON ({0}); is it compressed or encrypted? set COMPRESSOR_TOPIC / CIPHER_KEY as the writer did")]
    Json(serde_json::Error),
}
