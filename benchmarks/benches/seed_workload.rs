//! Hot paths of the seed workload in memory: the command path (load, command, save),
//! event encoding and decoding, and replay of a long aggregate.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use eventsourcing_dynamodb::domain::Event;
use eventsourcing_dynamodb::prelude::*;

#[aggregate]
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

    pub fn create_id(name: &str) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/dogs/{name}").as_bytes())
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

fn command_path(c: &mut Criterion) {
    let rt = runtime();
    let app = rt.block_on(Application::builder("Bench").isolated().build()).expect("app");
    let mut dog = Dog::register("Fido".into());
    rt.block_on(app.save(&mut dog)).expect("save");
    let id = dog.id();
    let mut group = c.benchmark_group("in_memory");
    group.throughput(Throughput::Elements(1));
    group.bench_function("register", |b| {
        b.iter(|| {
            let mut dog = Dog::register(Uuid::new_v4().to_string());
            rt.block_on(app.save(&mut dog)).expect("save");
        })
    });
    group.bench_function("add_trick_to_10_trick_dog", |b| {
        let mut fresh = Dog::register(Uuid::new_v4().to_string());
        for t in 0..10 {
            fresh.add_trick(format!("trick-{t}"));
        }
        rt.block_on(app.save(&mut fresh)).expect("save");
        let id = fresh.id();
        b.iter(|| {
            // Each iteration loads the dog as it was, so the aggregate does not grow.
            let mut dog = rt.block_on(app.repository().get_at::<Dog>(id, 11)).expect("get");
            dog.add_trick("sit".into());
            std::hint::black_box(dog.pending_events().len());
        })
    });
    group.bench_function("get_tricks", |b| {
        b.iter(|| rt.block_on(app.repository().get::<Dog>(id)).expect("get").tricks.len())
    });
    group.finish();
}

fn encoding(c: &mut Criterion) {
    let mut dog = Dog::register("Fido".into());
    dog.add_trick("roll over".into());
    let events = dog.collect_events();
    let event = &events[1];
    let mapper = eventsourcing_dynamodb::persistence::Mapper::new();
    let stored = mapper.to_stored(event).expect("encode");
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| b.iter(|| mapper.to_stored(event).expect("encode")));
    group.bench_function("decode", |b| {
        b.iter(|| mapper.to_domain::<DogEvent>(&stored, "Dog").expect("decode"))
    });
    group.finish();
    assert_eq!(event.payload.name(), "TrickAdded");
}

fn replay(c: &mut Criterion) {
    let rt = runtime();
    let app = rt.block_on(Application::builder("Bench").isolated().build()).expect("app");
    let mut dog = Dog::register("Long".into());
    for t in 0..100_000 {
        dog.add_trick(format!("trick-{t}"));
        if dog.pending_events().len() == 1000 {
            rt.block_on(app.save(&mut dog)).expect("save");
        }
    }
    rt.block_on(app.save(&mut dog)).expect("save");
    let id = dog.id();
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_001));
    group.bench_function("100k_events", |b| {
        b.iter_batched(
            || (),
            |_| rt.block_on(app.repository().get::<Dog>(id)).expect("get").version(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, command_path, encoding, replay);
criterion_main!(benches);
