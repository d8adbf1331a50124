//! The seed workload (register D dogs, add T tricks to each, then read every dog's tricks)
//! on the store the environment selects, for `training_school_bench` and
//! `training_school_bench_malloc`.
//!
//! Written as this library recommends for one writer process: the aggregate cache on, without
//! fast-forward (`AGGREGATE_CACHE_MAXSIZE=0`, `AGGREGATE_CACHE_FASTFORWARD=false`), unless the
//! environment sets them. Saves stay conditional, so a stale cache could never lose an update.

use crate::bench_support::{flag, Dog, DogCommands};
use eventsourcing_dynamodb::prelude::*;
use std::time::Instant;

pub struct TrainingSchool(Application);

impl TrainingSchool {
    pub async fn register(&self, name: &str) -> Result<()> {
        let mut dog = Dog::register(name.to_string());
        self.save(&mut dog).await?;
        Ok(())
    }

    pub async fn add_trick(&self, name: &str, trick: &str) -> Result<()> {
        let mut dog = self.repository().get::<Dog>(Dog::create_id(name)).await?;
        dog.add_trick(trick.to_string());
        self.save(&mut dog).await?;
        Ok(())
    }

    pub async fn get_tricks(&self, name: &str) -> Result<Vec<String>> {
        let dog = self.repository().get::<Dog>(Dog::create_id(name)).await?;
        Ok(dog.tricks.clone())
    }
}

impl AsApplication for TrainingSchool {
    fn application(&self) -> &Application {
        &self.0
    }
}

/// Runs the workload with the flags on the command line and prints the figures.
pub async fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dogs = flag(&args, "--dogs", 1000);
    let tricks = flag(&args, "--tricks", 10);
    let run = Uuid::new_v4().simple().to_string();
    let names: Vec<String> = (0..dogs).map(|d| format!("dog-{d}-{run}")).collect();
    let mut builder = Application::builder("TrainingSchool");
    for (key, value) in [("AGGREGATE_CACHE_MAXSIZE", "0"), ("AGGREGATE_CACHE_FASTFORWARD", "false")]
    {
        if std::env::var_os(key).is_none() {
            builder = builder.env(key, value);
        }
    }
    let school = TrainingSchool(builder.build().await?);
    let requests_before = school.application().recorders().events.request_count();
    let started = Instant::now();
    for name in &names {
        school.register(name).await?;
    }
    for trick in 0..tricks {
        for name in &names {
            school.add_trick(name, &format!("trick-{trick}")).await?;
        }
    }
    let expected: Vec<String> = (0..tricks).map(|t| format!("trick-{t}")).collect();
    for name in &names {
        let got = school.get_tricks(name).await?;
        assert_eq!(got, expected, "tricks of {name}");
    }
    let seconds = started.elapsed().as_secs_f64();
    let commands = dogs * (tricks + 2);
    // A sequenced log writes its pages after the saves: wait for them, so that the requests
    // and capacity metered include the log's share.
    let synced = Instant::now();
    school.application().recorders().events.sync_log().await?;
    let end = school.application().notification_log().max_notification_id().await.unwrap_or(0);
    println!("log_end={end} log_sync_seconds={:.3}", synced.elapsed().as_secs_f64());
    if let (Some(before), Some(after)) =
        (requests_before, school.application().recorders().events.request_count())
    {
        let requests = after - before;
        println!(
            "requests={requests} requests_per_command={:.3}",
            requests as f64 / commands as f64
        );
    }
    println!("commands={commands} seconds={seconds:.6}");
    Ok(())
}
