//! Just enough HTTP/1.1 for the AWS SDK's requests: a head and a `Content-Length` body.

use bytes::Bytes;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most a request may hold (DynamoDB's own limit on a request is 16 MB).
const MAX_REQUEST: usize = 32 * 1024 * 1024;

/// A request as the client sent it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
    /// `amz-sdk-invocation-id`: the same for every attempt of one SDK call.
    pub invocation: Option<String>,
    target: Option<String>,
}

impl Request {
    /// The DynamoDB operation, from `X-Amz-Target: DynamoDB_20120810.PutItem`.
    pub fn operation(&self) -> Option<&str> {
        self.target.as_deref().and_then(|target| target.rsplit('.').next())
    }

    /// How many actions a `TransactWriteItems` request holds (0 otherwise).
    pub fn transact_items(&self) -> usize {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|json| json.get("TransactItems")?.as_array().map(Vec::len))
            .unwrap_or(0)
    }
}

/// A response from the server.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

/// Reads requests one after another from a keep-alive connection.
#[derive(Default)]
pub struct RequestReader {
    pending: Vec<u8>,
}

impl RequestReader {
    /// The next request; `None` when the client closed the connection between requests.
    pub async fn next(&mut self, connection: &mut TcpStream) -> io::Result<Option<Request>> {
        loop {
            if let Some(request) = self.parse()? {
                return Ok(Some(request));
            }
            if self.pending.len() > MAX_REQUEST {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "request too large"));
            }
            let mut buffer = [0u8; 16 * 1024];
            let read = connection.read(&mut buffer).await?;
            if read == 0 {
                return match self.pending.is_empty() {
                    true => Ok(None),
                    false => Err(io::ErrorKind::UnexpectedEof.into()),
                };
            }
            self.pending.extend_from_slice(&buffer[..read]);
        }
    }

    fn parse(&mut self) -> io::Result<Option<Request>> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Request::new(&mut headers);
        let head_length = match head.parse(&self.pending) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        };
        let header = |name: &str| {
            head.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(|v| v.trim().to_owned())
        };
        let length: usize = match header("content-length") {
            Some(value) => value
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?,
            None => 0,
        };
        if self.pending.len() < head_length + length {
            return Ok(None);
        }
        let request = Request {
            method: head.method.unwrap_or("POST").to_owned(),
            path: head.path.unwrap_or("/").to_owned(),
            headers: head
                .headers
                .iter()
                .filter(|h| !h.name.eq_ignore_ascii_case("connection"))
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            invocation: header("amz-sdk-invocation-id"),
            target: header("x-amz-target"),
            body: Bytes::copy_from_slice(&self.pending[head_length..head_length + length]),
        };
        self.pending.drain(..head_length + length);
        Ok(Some(request))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes the server's response, re-framed with `Content-Length`.
pub async fn write_response(connection: &mut TcpStream, response: &Response) -> io::Result<()> {
    let mut out =
        format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status)).into_bytes();
    for (name, value) in &response.headers {
        let framing = ["content-length", "transfer-encoding", "connection", "keep-alive"];
        if framing.iter().any(|f| name.eq_ignore_ascii_case(f)) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", response.body.len()).as_bytes());
    out.extend_from_slice(&response.body);
    connection.write_all(&out).await
}

/// Writes an error answer in DynamoDB's JSON form.
pub async fn write_error(connection: &mut TcpStream, status: u16, body: &str) -> io::Result<()> {
    let id = fastrand::u64(..);
    let out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: FAULTPROXY{id:016X}\r\ncontent-length: {}\r\n\r\n{body}",
        reason(status),
        body.len()
    );
    connection.write_all(out.as_bytes()).await
}

/// Resets the connection (RST, not an orderly close), as a failing network does.
pub fn reset(connection: TcpStream) -> io::Result<()> {
    socket2::SockRef::from(&connection).set_linger(Some(std::time::Duration::ZERO))?;
    drop(connection);
    Ok(())
}
