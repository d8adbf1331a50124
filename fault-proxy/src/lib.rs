//! Test support: a loopback HTTP proxy in front of a local DynamoDB server (moto, DynamoDB
//! Local) that injects the failures real DynamoDB produces: latency, throttling, server
//! errors, cancelled transactions, connections reset before a request is applied and
//! responses lost after it was.
//!
//! It is not an emulator: every request it lets through is answered by the real server.
//! Decisions come from one seeded random generator, drawn in the order requests arrive, so
//! a run with one client at a time is reproducible. Retries of one SDK call are recognised
//! by their `amz-sdk-invocation-id` header: once a call's response has been lost, its later
//! attempts are answered from [`FaultConfig::after_loss`], which models what DynamoDB tells
//! a client that retries a write that is still running or already done.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod faults;
mod http;

pub use faults::{parse_rate, Fault, FaultCounts, ParseError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// What to inject, and how often.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    /// Seeds the generator that picks faults and jitter.
    pub seed: u64,
    /// Added to every request before it is forwarded (a region's round trip).
    pub latency: Duration,
    /// Up to this much more, uniformly drawn per request.
    pub jitter: Duration,
    /// Each fault's probability for a request (their sum at most 1). Transaction-only
    /// faults apply to `TransactWriteItems` only.
    pub rates: Vec<(Fault, f64)>,
    /// The same, for the later attempts of a call whose response was lost (when empty,
    /// those get [`FaultConfig::rates`] too).
    pub after_loss: Vec<(Fault, f64)>,
    /// Only requests for these operations (e.g. `PutItem`) get faults; all when empty.
    pub operations: Vec<String>,
    /// At most this many injections in all (then requests pass untouched); no limit when
    /// `None`.
    pub limit: Option<u64>,
}

impl FaultConfig {
    /// No faults, no latency.
    pub fn none() -> Self {
        FaultConfig::default()
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Adds `rate` of `fault` to fresh requests.
    pub fn rate(mut self, fault: Fault, rate: f64) -> Self {
        self.rates.push((fault, rate));
        self
    }

    /// Adds `rate` of `fault` to retries of calls whose response was lost.
    pub fn after_loss(mut self, fault: Fault, rate: f64) -> Self {
        self.after_loss.push((fault, rate));
        self
    }

    /// Limits faults to these operations.
    pub fn only(mut self, operations: &[&str]) -> Self {
        self.operations = operations.iter().map(|op| (*op).to_owned()).collect();
        self
    }

    /// Injects at most `count` faults in all.
    pub fn limit(mut self, count: u64) -> Self {
        self.limit = Some(count);
        self
    }

    /// Sets the added latency.
    pub fn latency(mut self, fixed: Duration, jitter: Duration) -> Self {
        self.latency = fixed;
        self.jitter = jitter;
        self
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The upstream is not `http://HOST:PORT` on a loopback address.
    #[error("upstream {0:?} is not an http:// URL on a loopback address")]
    Upstream(String),
    /// Binding the loopback port failed.
    #[error("cannot listen on a loopback port: {0}")]
    Bind(#[from] std::io::Error),
}

struct Shared {
    upstream: String,
    config: Mutex<FaultConfig>,
    rng: Mutex<fastrand::Rng>,
    /// Invocation ids of calls whose response was lost.
    lost: Mutex<HashSet<String>>,
    requests: AtomicU64,
    forwarded: AtomicU64,
    delayed: AtomicU64,
    injected: [AtomicU64; 10],
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// A running proxy; stopped when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("address", &self.address)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. `http://127.0.0.1:8000`) on a free loopback port.
    pub async fn start(upstream: &str, config: FaultConfig) -> Result<FaultProxy, StartError> {
        FaultProxy::start_on(upstream, config, 0).await
    }

    /// The same on a given port (0: any free one).
    pub async fn start_on(
        upstream: &str,
        config: FaultConfig,
        port: u16,
    ) -> Result<FaultProxy, StartError> {
        let authority = upstream
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|authority| is_loopback(authority))
            .ok_or_else(|| StartError::Upstream(upstream.to_owned()))?;
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: format!("http://{authority}"),
            rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
            config: Mutex::new(config),
            lost: Mutex::new(HashSet::new()),
            requests: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            injected: Default::default(),
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .build_http(),
        });
        let serving = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                let shared = Arc::clone(&serving);
                tokio::spawn(async move {
                    let _ = serve(connection, &shared).await;
                });
            }
        });
        Ok(FaultProxy { address, shared, task })
    }

    /// The URL clients use.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many faults were injected so far.
    pub fn counts(&self) -> FaultCounts {
        let shared = &self.shared;
        FaultCounts {
            requests: shared.requests.load(Ordering::SeqCst),
            forwarded: shared.forwarded.load(Ordering::SeqCst),
            delayed: shared.delayed.load(Ordering::SeqCst),
            injected: std::array::from_fn(|i| shared.injected[i].load(Ordering::SeqCst)),
        }
    }

    /// Replaces the configuration (the generator keeps its state), e.g. no faults while a
    /// test checks what was stored.
    pub fn configure(&self, config: FaultConfig) {
        *lock(&self.shared.config) = config;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data under these locks stays consistent at every step, so a panic elsewhere
    // while holding one leaves nothing half-done.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// What the proxy does with one request.
enum Decision {
    Forward { lose_response: bool },
    Answer(Fault, u16, String),
    Reset(Fault),
}

impl Shared {
    fn decide(&self, request: &http::Request) -> (Duration, Decision) {
        let config = lock(&self.config).clone();
        let mut rng = lock(&self.rng);
        let jitter = match config.jitter.as_micros() {
            0 => Duration::ZERO,
            max => Duration::from_micros(rng.u64(0..=max as u64)),
        };
        let delay = config.latency + jitter;
        let faulted = config.operations.is_empty()
            || config.operations.iter().any(|op| Some(op.as_str()) == request.operation());
        let spent = self.injected.iter().map(|n| n.load(Ordering::SeqCst)).sum::<u64>();
        if !faulted || config.limit.is_some_and(|limit| spent >= limit) {
            return (delay, Decision::Forward { lose_response: false });
        }
        let retry_of_lost =
            request.invocation.as_ref().is_some_and(|id| lock(&self.lost).contains(id));
        let rates = match retry_of_lost && !config.after_loss.is_empty() {
            true => &config.after_loss,
            false => &config.rates,
        };
        let transaction = request.operation() == Some("TransactWriteItems");
        let draw = rng.f64();
        let mut sum = 0.0;
        let mut chosen = None;
        for (fault, rate) in rates {
            if fault.transactions_only() && !transaction {
                continue;
            }
            sum += rate;
            if draw < sum {
                chosen = Some(*fault);
                break;
            }
        }
        let pick = rng.usize(..);
        let decision = match chosen {
            None => Decision::Forward { lose_response: false },
            Some(Fault::LoseResponse) => Decision::Forward { lose_response: true },
            Some(Fault::ResetBefore) => Decision::Reset(Fault::ResetBefore),
            Some(fault) => match fault.answer(request.transact_items(), pick) {
                Some((status, body)) => Decision::Answer(fault, status, body),
                None => Decision::Forward { lose_response: false },
            },
        };
        (delay, decision)
    }

    fn count(&self, fault: Fault) {
        self.injected[fault.index()].fetch_add(1, Ordering::SeqCst);
    }

    async fn forward(&self, request: &http::Request) -> Result<http::Response, ForwardError> {
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(format!("{}{}", self.upstream, request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        let outgoing = builder.body(Full::new(request.body.clone()))?;
        let response = self.client.request(outgoing).await?;
        let status = response.status().as_u16();
        let headers: Vec<(String, Vec<u8>)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(http::Response { status, headers, body })
    }
}

#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error(transparent)]
    Build(#[from] hyper::http::Error),
    #[error(transparent)]
    Client(#[from] hyper_util::client::legacy::Error),
    #[error(transparent)]
    Body(#[from] hyper::Error),
}

/// Serves the requests of one client connection, until it closes or is reset.
async fn serve(mut connection: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = http::RequestReader::default();
    while let Some(request) = reader.next(&mut connection).await? {
        shared.requests.fetch_add(1, Ordering::SeqCst);
        let (delay, decision) = shared.decide(&request);
        if !delay.is_zero() {
            shared.delayed.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
        }
        match decision {
            Decision::Reset(fault) => {
                shared.count(fault);
                return http::reset(connection);
            }
            Decision::Answer(fault, status, body) => {
                shared.count(fault);
                http::write_error(&mut connection, status, &body).await?;
            }
            Decision::Forward { lose_response } => {
                shared.forwarded.fetch_add(1, Ordering::SeqCst);
                let response = match shared.forward(&request).await {
                    Ok(response) => response,
                    // The server is down or hung up: so is this connection.
                    Err(_) => return http::reset(connection),
                };
                if lose_response {
                    shared.count(Fault::LoseResponse);
                    if let Some(id) = &request.invocation {
                        lock(&shared.lost).insert(id.clone());
                    }
                    return http::reset(connection);
                }
                http::write_response(&mut connection, &response).await?;
            }
        }
    }
    Ok(())
}
