//! A racing writer, run as a separate OS process by `tests/reliability.rs`.
//!
//! `race_worker --worker W --dogs ID1,ID2 --commands N [--update]`, with the store configured
//! by the environment (`PERSISTENCE_MODULE`, `DYNAMO_ENDPOINT_URL`, `DYNAMO_TABLE`, …).
//!
//! Opens the application, prints `ready`, waits for a line on stdin (so that all workers
//! start together), then runs N commands on the dogs, each adding the unique trick
//! `w<W>-c<i>`: command i adds it to both dogs in one save when i % 3 == 0, otherwise to
//! dog i % 2. Without `--update` a command loads, records and saves once, and a conflict is
//! counted and skipped; with `--update` it goes through `Application::update` (retrying on
//! conflict), saving one dog per command. Any other error ends the process with status 1.
//! The last line is JSON: `{"committed":[{"dogs":[..],"trick":".."}],"conflicts":n}`.

use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::Pending;
use std::io::BufRead;
use std::time::Duration;

#[aggregate(topic = "race:Dog")]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Dog { name, tricks: Vec::new() }
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn required(args: &[String], name: &str) -> String {
    arg(args, name).unwrap_or_else(|| panic!("{name} is required"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let worker = required(&args, "--worker");
    let dogs: Vec<Uuid> = required(&args, "--dogs")
        .split(',')
        .map(|id| Uuid::parse_str(id).expect("--dogs takes UUIDs"))
        .collect();
    assert_eq!(dogs.len(), 2, "--dogs takes two ids");
    let commands: usize = required(&args, "--commands").parse().expect("--commands takes a number");
    let update = args.iter().any(|a| a == "--update");

    let app = Application::builder("Race")
        .retry(RetryPolicy {
            attempts: 10_000,
            first_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(100),
        })
        .build()
        .await?;
    println!("ready");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).expect("read the start signal");

    let mut committed = Vec::new();
    let mut conflicts = 0;
    for command in 0..commands {
        let trick = format!("w{worker}-c{command}");
        if update {
            let dog = dogs[command % 2];
            app.update::<Dog, _>(dog, |d| d.add_trick(trick.clone())).await?;
            committed.push(serde_json::json!({ "dogs": [dog], "trick": trick }));
            continue;
        }
        let targets: Vec<Uuid> = match command % 3 {
            0 => dogs.clone(),
            _ => vec![dogs[command % 2]],
        };
        let mut loaded = Vec::new();
        for id in &targets {
            let mut dog = app.repository().get::<Dog>(*id).await?;
            dog.add_trick(trick.clone());
            loaded.push(dog);
        }
        let mut pending: Vec<&mut dyn Pending> =
            loaded.iter_mut().map(|d| d as &mut dyn Pending).collect();
        match app.save(&mut pending).await {
            Ok(_) => committed.push(serde_json::json!({ "dogs": targets, "trick": trick })),
            Err(error) if error.is_conflict() => conflicts += 1,
            Err(error) => return Err(error),
        }
    }
    println!("{}", serde_json::json!({ "committed": committed, "conflicts": conflicts }));
    Ok(())
}
