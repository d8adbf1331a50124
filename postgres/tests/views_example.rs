//! `examples/training_school_views.rs`, run as a user would, on each view store.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::*;

/// What `training_school_views` prints once its runner has caught up, on any view store.
const SCHOOL_VIEWS: &str = r#"Fido: ["roll over","play dead"]
Buster: ["roll over","sit"]
Rex: ["sit","roll over"]
roll over: ["Fido","Buster","Rex"]
play dead: ["Fido"]
sit: ["Buster","Rex"]"#;

#[test]
fn training_school_views_run_in_memory() {
    let stdout = check(example("training_school_views").output().unwrap());
    assert_eq!(stdout.trim(), SCHOOL_VIEWS);
}

#[test]
fn training_school_views_run_on_dynamodb() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("school");
    let output = example("training_school_views")
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", &table)
        .env("CREATE_TABLE", "true")
        .env("VIEW_STORE", "dynamodb")
        .env("VIEW_TABLE", format!("{table}-views"))
        .output()
        .unwrap();
    assert_eq!(check(output).trim(), SCHOOL_VIEWS);
}

#[test]
fn training_school_views_run_on_postgres() {
    let url = match std::env::var("POSTGRES_TEST_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let required = std::env::var("REQUIRE_DYNAMODB").is_ok_and(|v| v == "1");
            assert!(!required, "POSTGRES_TEST_URL is not set: run the tests with scripts/test.sh");
            eprintln!("SKIPPED: PostgreSQL test needs POSTGRES_TEST_URL (run scripts/test.sh)");
            return;
        }
    };
    let output = example("training_school_views")
        .env("VIEW_STORE", "postgres")
        .env("POSTGRES_URL", url)
        .env("VIEW_TABLE", format!("school{}", eventsourcing_dynamodb::Uuid::new_v4().simple()))
        .output()
        .unwrap();
    assert_eq!(check(output).trim(), SCHOOL_VIEWS);
}
