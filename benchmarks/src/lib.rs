//! The benchmarks of `eventsourcing-dynamodb`, apart from the library so that its first
//! build compiles none of their dependencies.
//!
//! The programs are this package's examples (`cargo run --release -p
//! eventsourcing-benchmarks --example training_school_bench`), run and tabulated by
//! `scripts/bench.sh` and `scripts/fleet.sh`; the criterion benches are in `benches/`
//! (`cargo bench -p eventsourcing-benchmarks`). `bench/results.md` has the figures.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
