//! Compression of stored state: Python eventsourcing's `eventsourcing.compressor:ZlibCompressor`.
//!
//! The state is compressed with zlib exactly as Python's `zlib.compress(data)` does it (a
//! zlib stream, level 6, window 15 bits, memory level 8, default strategy), on the same C
//! zlib that Python links, so the same JSON gives the same bytes in both languages.

use super::DecodeProblem;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The topic Python eventsourcing gives its zlib compressor.
pub const ZLIB_COMPRESSOR_TOPIC: &str = "eventsourcing.compressor:ZlibCompressor";

/// Python's `zlib.compress` default level (`Z_DEFAULT_COMPRESSION`).
const LEVEL: u32 = 6;

/// The most a stored state may inflate to. A DynamoDB item holds at most 400 KB, and zlib
/// inflates by at most about 1,000 times, so a damaged or hostile item could otherwise ask
/// for hundreds of megabytes per event; no real event state comes near this.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// A compression of stored state, as `COMPRESSOR_TOPIC` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compressor {
    /// zlib, as Python eventsourcing's `ZlibCompressor` (and the bare module `zlib`).
    Zlib,
}

impl Compressor {
    /// The compressor a `COMPRESSOR_TOPIC` value names: `eventsourcing.compressor:ZlibCompressor`,
    /// or `zlib` (Python resolves that to the `zlib` module, which compresses the same way).
    pub fn from_topic(topic: &str) -> Option<Self> {
        match topic.trim() {
            ZLIB_COMPRESSOR_TOPIC | "zlib" => Some(Compressor::Zlib),
            _ => None,
        }
    }

    /// The Python topic of this compressor.
    pub fn topic(&self) -> &'static str {
        match self {
            Compressor::Zlib => ZLIB_COMPRESSOR_TOPIC,
        }
    }

    /// Compresses `data` (Python's `zlib.compress(data)`).
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Compressor::Zlib => zlib_compress(data),
        }
    }

    /// Decompresses `data` (Python's `zlib.decompress(data)`): anything that is not one
    /// complete zlib stream, or that inflates beyond 64 MiB (`MAX_DECOMPRESSED_BYTES`), is
    /// [`DecodeProblem::Decompress`].
    pub fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, DecodeProblem> {
        match self {
            Compressor::Zlib => {
                zlib_decompress(data, MAX_DECOMPRESSED_BYTES).map_err(DecodeProblem::Decompress)
            }
        }
    }
}

fn zlib_compress(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut deflate = Compress::new(Compression::new(LEVEL), true);
    // zlib's compressBound: one call normally finishes the stream.
    let bound = data.len() + (data.len() >> 12) + (data.len() >> 14) + (data.len() >> 25) + 13;
    let mut out = Vec::with_capacity(bound);
    loop {
        let consumed = deflate.total_in() as usize;
        let status = deflate
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Finish)
            .map_err(|error| format!("zlib compression failed: {error}"))?;
        match status {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
        }
    }
}

fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut inflate = Decompress::new(true);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).clamp(64, 1 << 20).min(limit));
    loop {
        if out.len() == limit {
            // Full: room for one more byte tells a stream that ends here from a bomb.
            out.reserve_exact(1);
        }
        let consumed = inflate.total_in() as usize;
        let produced = inflate.total_out();
        let status = inflate
            .decompress_vec(&data[consumed..], &mut out, FlushDecompress::Finish)
            .map_err(|error| format!("invalid zlib data: {error}"))?;
        match status {
            Status::StreamEnd if out.len() <= limit => return Ok(out),
            _ if out.len() > limit => {
                return Err(format!("zlib data inflates beyond {limit} bytes"));
            }
            _ if out.len() == out.capacity() => {
                out.reserve_exact(out.capacity().min(limit - out.len()).max(1));
            }
            // Room to write and nothing written: the input ended before the stream did.
            _ if inflate.total_out() == produced => {
                return Err("incomplete or truncated zlib stream".to_owned());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let zlib = Compressor::from_topic("zlib").unwrap();
        assert_eq!(Compressor::from_topic(ZLIB_COMPRESSOR_TOPIC), Some(zlib));
        assert_eq!(Compressor::from_topic("gzip"), None);
        for size in [0usize, 1, 100, 70_000, 300_000] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let packed = zlib.compress(&data).unwrap();
            assert_eq!(zlib.decompress(&packed).unwrap(), data);
            for cut in [0, 1, 2, packed.len() / 2, packed.len() - 1] {
                assert!(matches!(
                    zlib.decompress(&packed[..cut]),
                    Err(DecodeProblem::Decompress(_))
                ));
            }
        }
        // Incompressible data bigger than the first guess of the output size.
        let mut noise = Vec::new();
        let mut x = 1u32;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(x as u8);
        }
        assert_eq!(zlib.decompress(&zlib.compress(&noise).unwrap()).unwrap(), noise);
        assert!(zlib.decompress(b"{\"plain\":\"json\"}").is_err());
    }

    #[test]
    fn refuses_to_inflate_beyond_the_limit() {
        let zeros = vec![0u8; 100_000];
        let packed = zlib_compress(&zeros).unwrap();
        assert!(packed.len() < 200, "zeros compress about 1000 times");
        assert_eq!(zlib_decompress(&packed, 100_000).unwrap(), zeros);
        let error = zlib_decompress(&packed, 99_999).unwrap_err();
        assert!(error.contains("inflates beyond 99999 bytes"), "{error}");
        assert!(zlib_decompress(&packed, 1).is_err());
    }
}
