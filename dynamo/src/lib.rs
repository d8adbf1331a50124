//! DynamoDB persistence module for eventsourcing-dynamodb (see README).
