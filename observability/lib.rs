//! Nothing to link: this package holds `examples/prometheus.rs` and the tests of the
//! library's tracing spans and metrics (see `docs/observability.md`).
