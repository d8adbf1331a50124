//! Checking, and on request creating, the table.

use crate::errors::{create_table_hint, from_sdk};
use crate::items::{HASH_KEY, RANGE_KEY};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
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
        match client.describe_table().table_name(table).send().await {
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
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(HASH_KEY, KeyType::Hash)?)
        .key_schema(key(RANGE_KEY, KeyType::Range)?)
        .attribute_definitions(attribute(HASH_KEY, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(RANGE_KEY, ScalarAttributeType::N)?)
        .send()
        .await;
    match result {
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
