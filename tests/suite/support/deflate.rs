//! The server side of COMPRESS=DEFLATE (RFC 4978 style, as the C tool's `-q` expects): raw
//! DEFLATE both ways, every send ending in a sync flush. Written against the system zlib
//! directly, independent of the client's implementation.

use super::server::SecurityLayer;
use libz_sys as z;
use std::mem::MaybeUninit;

const CHUNK: usize = 16 * 1024;

/// A raw-DEFLATE security layer for [`super::server::Session::start_deflate`].
pub struct DeflateLayer {
    deflate: Box<MaybeUninit<z::z_stream>>,
    inflate: Box<MaybeUninit<z::z_stream>>,
}

impl DeflateLayer {
    pub fn new() -> Result<DeflateLayer, String> {
        let mut deflate: Box<MaybeUninit<z::z_stream>> = Box::new(MaybeUninit::zeroed());
        let mut inflate: Box<MaybeUninit<z::z_stream>> = Box::new(MaybeUninit::zeroed());
        let size = std::mem::size_of::<z::z_stream>() as i32;
        // SAFETY: both streams are zeroed (default allocators) and boxed, so the addresses
        // zlib keeps inside them stay valid; the version and size come from the headers.
        let (d, i) = unsafe {
            (
                z::deflateInit2_(
                    deflate.as_mut_ptr(),
                    z::Z_DEFAULT_COMPRESSION,
                    z::Z_DEFLATED,
                    -15,
                    9,
                    z::Z_DEFAULT_STRATEGY,
                    z::zlibVersion(),
                    size,
                ),
                z::inflateInit2_(inflate.as_mut_ptr(), -15, z::zlibVersion(), size),
            )
        };
        if d != z::Z_OK || i != z::Z_OK {
            return Err(format!("zlib init failed: deflate {d}, inflate {i}"));
        }
        Ok(DeflateLayer { deflate, inflate })
    }
}

/// Runs `f` (deflate or inflate with Z_SYNC_FLUSH) over all of `input`.
fn pump(
    stream: &mut z::z_stream,
    input: &[u8],
    f: unsafe extern "C" fn(z::z_streamp, i32) -> i32,
) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    stream.next_in = input.as_ptr() as *mut u8;
    stream.avail_in = input.len() as u32;
    loop {
        let start = out.len();
        out.reserve(CHUNK);
        // SAFETY: `out` has CHUNK bytes of spare capacity at `start`.
        stream.next_out = unsafe { out.as_mut_ptr().add(start) };
        stream.avail_out = CHUNK as u32;
        // SAFETY: next_in/next_out point to live buffers of the stated sizes; the stream was
        // initialised in `DeflateLayer::new`.
        let rc = unsafe { f(stream, z::Z_SYNC_FLUSH) };
        let produced = CHUNK - stream.avail_out as usize;
        // SAFETY: zlib wrote `produced` bytes into the reserved space.
        unsafe { out.set_len(start + produced) };
        match rc {
            z::Z_OK | z::Z_STREAM_END | z::Z_BUF_ERROR => {}
            _ => return Err(format!("zlib error {rc}")),
        }
        if stream.avail_in == 0 && stream.avail_out != 0 {
            return Ok(out);
        }
    }
}

impl SecurityLayer for DeflateLayer {
    fn encode(&mut self, plain: &[u8]) -> Result<Vec<u8>, String> {
        // SAFETY: initialised in `new`.
        pump(unsafe { self.deflate.assume_init_mut() }, plain, z::deflate)
    }

    fn decode(&mut self, wire: &[u8]) -> Result<Vec<u8>, String> {
        // SAFETY: initialised in `new`.
        pump(unsafe { self.inflate.assume_init_mut() }, wire, z::inflate)
            .map_err(|e| format!("inflate: {e}"))
    }
}

impl Drop for DeflateLayer {
    fn drop(&mut self) {
        // SAFETY: both streams were initialised in `new` and are ended exactly once.
        unsafe {
            z::deflateEnd(self.deflate.as_mut_ptr());
            z::inflateEnd(self.inflate.as_mut_ptr());
        }
    }
}
