//! `es-sequencer-lambda`: the sequencer of a table's sequenced notification log as an AWS
//! Lambda function whose trigger is the table's stream (see the `eventsourcing-lambda`
//! crate's documentation). Configured like applications: `DYNAMO_TABLE`,
//! `DYNAMO_ENDPOINT_URL`, `DYNAMO_SEQUENCER_LEASE_SECONDS`, the AWS settings
//! (`SEQUENCER_`-prefixed variables win).

use eventsourcing_dynamo::{DynamoConfig, OnDemandSequencer};
use eventsourcing_runtime::environment::Environment;
use lambda_runtime::{service_fn, LambdaEvent};
use std::collections::HashMap;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let env = Environment::new("Sequencer", HashMap::new());
    let config = DynamoConfig::from_env(&env)?;
    // Made once per container: a warm container's invocations share its clients and owner id.
    let sequencer = OnDemandSequencer::connect(config).await?;
    let sequencer = &sequencer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        eventsourcing_lambda::handle(sequencer, event).await
    }))
    .await
}
