//! Checking, and on request creating, the table.

use crate::errors::{create_table_hint, from_sdk};
use crate::items::{HASH_KEY, RANGE_KEY};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus,
};
use aws_sdk_dynamodb::Client;
use eventsourcing_runtime::persistence::PersistenceError;
use std::time::{Duration, Instant};

/// Makes sure `table` exists, is active and has the Python package's key schema.
pub async fn ensure(
    client: &Client,
    table: &str,
    create: bool,
    timeout: Duration,
) -> Result<(), PersistenceError> {
    // `None` (no deadline) when the configured timeout is too large to add to an instant.
    let deadline = Instant::now().checked_add(timeout.max(Duration::from_secs(60)));
    loop {
        let span = crate::trace::call("DescribeTable", table, "");
        match crate::trace::send(&span, client.describe_table().table_name(table).send()).await {
            Ok(output) => {
                let description = output.table.unwrap_or_else(|| {
                    aws_sdk_dynamodb::types::TableDescription::builder().build()
                });
                check_schema(table, &description)?;
                match description.table_status {
                    Some(TableStatus::Active) | None => return Ok(()),
                    Some(status) if deadline.is_none_or(|d| Instant::now() < d) => {
                        tracing::debug!(table, ?status, "waiting for table to become active");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Some(status) => {
                        return Err(PersistenceError::Programming(format!(
                            "table {table} is still {status:?}, not ACTIVE"
                        )))
                    }
                }
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                if !create {
                    return Err(PersistenceError::Programming(format!(
                        "table {table} does not exist: {}",
                        create_table_hint(table)
                    )));
                }
                create_table(client, table).await?;
            }
            Err(error) => return Err(from_sdk(table, "DescribeTable", error)),
        }
    }
}

fn check_schema(
    table: &str,
    description: &aws_sdk_dynamodb::types::TableDescription,
) -> Result<(), PersistenceError> {
    let key_of = |kind: KeyType| {
        description
            .key_schema()
            .iter()
            .find(|k| k.key_type == kind)
            .map(|k| k.attribute_name.clone())
    };
    let type_of = |name: &str| {
        description
            .attribute_definitions()
            .iter()
            .find(|d| d.attribute_name == name)
            .map(|d| d.attribute_type.clone())
    };
    let hash = key_of(KeyType::Hash);
    let range = key_of(KeyType::Range);
    let ok = hash.as_deref() == Some(HASH_KEY)
        && range.as_deref() == Some(RANGE_KEY)
        && type_of(HASH_KEY) == Some(ScalarAttributeType::S)
        && type_of(RANGE_KEY) == Some(ScalarAttributeType::N);
    if ok {
        return Ok(());
    }
    let describe = |kind: &str, name: Option<&str>| match name {
        Some(name) => format!("{kind} key {name} ({})", type_name(type_of(name).as_ref())),
        None => format!("no {kind} key"),
    };
    Err(PersistenceError::Programming(format!(
        "table {table} has the wrong key schema: it has {} and {}, but events need hash key \
         {HASH_KEY} (string) and range key {RANGE_KEY} (number). The keys of an existing table \
         cannot be changed: set DYNAMO_TABLE to another table that has these keys, or to a new \
         name (CREATE_TABLE=true creates a missing table)",
        describe("hash", hash.as_deref()),
        describe("range", range.as_deref()),
    )))
}

/// A key attribute type in words.
fn type_name(kind: Option<&ScalarAttributeType>) -> &'static str {
    match kind {
        Some(ScalarAttributeType::S) => "string",
        Some(ScalarAttributeType::N) => "number",
        Some(ScalarAttributeType::B) => "binary",
        _ => "of unknown type",
    }
}

async fn create_table(client: &Client, table: &str) -> Result<(), PersistenceError> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| PersistenceError::Programming(e.to_string()))
    };
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .map_err(|e| PersistenceError::Programming(e.to_string()))
    };
    let span = crate::trace::call("CreateTable", table, "");
    let request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(HASH_KEY, KeyType::Hash)?)
        .key_schema(key(RANGE_KEY, KeyType::Range)?)
        .attribute_definitions(attribute(HASH_KEY, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(RANGE_KEY, ScalarAttributeType::N)?)
        // The sequenced notification log reads the table's stream.
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(|e| PersistenceError::Programming(e.to_string()))?,
        )
        .send();
    match crate::trace::send(&span, request).await {
        Ok(_) => {
            tracing::info!(table, "created table");
            Ok(())
        }
        // Another process created it first: fine, the caller checks it again.
        Err(error)
            if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(error) => Err(from_sdk(table, "CreateTable", error)),
    }
}

/// The ARN of the table's stream, which the sequenced notification log reads; a typed error
/// naming the table and how to turn the stream on when it has none with new images.
pub async fn stream_arn(client: &Client, table: &str) -> Result<String, PersistenceError> {
    let span = crate::trace::call("DescribeTable", table, "");
    let output = crate::trace::send(&span, client.describe_table().table_name(table).send())
        .await
        .map_err(|e| from_sdk(table, "DescribeTable", e))?;
    let description = output
        .table
        .unwrap_or_else(|| aws_sdk_dynamodb::types::TableDescription::builder().build());
    let specification = description.stream_specification();
    let enabled = specification.is_some_and(|s| s.stream_enabled());
    let images = specification.and_then(|s| s.stream_view_type()).is_some_and(|view| {
        matches!(view, StreamViewType::NewImage | StreamViewType::NewAndOldImages)
    });
    match (enabled && images, description.latest_stream_arn) {
        (true, Some(arn)) => Ok(arn),
        _ => Err(PersistenceError::Programming(format!(
            "table {table} has no stream with new images, which the sequenced notification log \
             (DYNAMO_NOTIFICATION_LOG=sequenced) reads: turn it on with `aws dynamodb update-table \
             --table-name {table} --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE`, \
             or choose DYNAMO_NOTIFICATION_LOG=transactional"
        ))),
    }
}
