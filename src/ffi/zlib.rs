//! Raw DEFLATE streams (no zlib header, window 15, memLevel 9) through the system zlib, as
//! COMPRESS=DEFLATE needs; outgoing data ends every flush with a sync flush
//! (docs/behaviour.md §7.5).

use libz_sys as z;
use std::mem::MaybeUninit;

/// zlib's failure; the caller turns it into `Error compressing/decompressing data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZlibError(pub i32);

const CHUNK: usize = 16 * 1024;

fn new_stream() -> Box<MaybeUninit<z::z_stream>> {
    // zalloc/zfree/opaque must be zero ("use the defaults") before the init call.
    Box::new(MaybeUninit::zeroed())
}

/// The compressing half.
pub struct Deflate {
    stream: Box<MaybeUninit<z::z_stream>>,
}

impl Deflate {
    pub fn new() -> Result<Deflate, ZlibError> {
        let mut stream = new_stream();
        // SAFETY: the stream is zeroed (default allocators) and boxed so its address is
        // stable for zlib's internal back-pointer; version/size come from the headers.
        let rc = unsafe {
            z::deflateInit2_(
                stream.as_mut_ptr(),
                z::Z_DEFAULT_COMPRESSION,
                z::Z_DEFLATED,
                -15,
                9,
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as i32,
            )
        };
        if rc != z::Z_OK {
            return Err(ZlibError(rc));
        }
        Ok(Deflate { stream })
    }

    /// Compresses `input` and sync-flushes, appending the output to `out`.
    pub fn compress_sync(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ZlibError> {
        // SAFETY: initialised by deflateInit2_ in `new`.
        let stream = unsafe { self.stream.assume_init_mut() };
        stream.next_in = input.as_ptr() as *mut u8;
        stream.avail_in = input.len() as u32;
        loop {
            let start = out.len();
            out.reserve(CHUNK);
            // SAFETY: `out` has at least CHUNK bytes of spare capacity at `start`.
            stream.next_out = unsafe { out.as_mut_ptr().add(start) };
            stream.avail_out = CHUNK as u32;
            // SAFETY: next_in/next_out point to live buffers of the stated sizes.
            let rc = unsafe { z::deflate(stream, z::Z_SYNC_FLUSH) };
            let produced = CHUNK - stream.avail_out as usize;
            // SAFETY: zlib wrote `produced` bytes into the reserved space.
            unsafe { out.set_len(start + produced) };
            if rc != z::Z_OK && rc != z::Z_BUF_ERROR {
                return Err(ZlibError(rc));
            }
            if stream.avail_out != 0 {
                return Ok(());
            }
        }
    }
}

impl Drop for Deflate {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised in `new` and is ended exactly once.
        unsafe { z::deflateEnd(self.stream.as_mut_ptr()) };
    }
}

/// The decompressing half.
pub struct Inflate {
    stream: Box<MaybeUninit<z::z_stream>>,
}

impl Inflate {
    pub fn new() -> Result<Inflate, ZlibError> {
        let mut stream = new_stream();
        // SAFETY: as for Deflate::new.
        let rc = unsafe {
            z::inflateInit2_(
                stream.as_mut_ptr(),
                -15,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as i32,
            )
        };
        if rc != z::Z_OK {
            return Err(ZlibError(rc));
        }
        Ok(Inflate { stream })
    }

    /// Inflates all of `input`, appending what comes out to `out`.
    pub fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ZlibError> {
        // SAFETY: initialised by inflateInit2_ in `new`.
        let stream = unsafe { self.stream.assume_init_mut() };
        stream.next_in = input.as_ptr() as *mut u8;
        stream.avail_in = input.len() as u32;
        loop {
            let start = out.len();
            out.reserve(CHUNK);
            // SAFETY: `out` has at least CHUNK bytes of spare capacity at `start`.
            stream.next_out = unsafe { out.as_mut_ptr().add(start) };
            stream.avail_out = CHUNK as u32;
            // SAFETY: buffers as stated above.
            let rc = unsafe { z::inflate(stream, z::Z_SYNC_FLUSH) };
            let produced = CHUNK - stream.avail_out as usize;
            // SAFETY: zlib wrote `produced` bytes.
            unsafe { out.set_len(start + produced) };
            match rc {
                z::Z_OK | z::Z_STREAM_END => {}
                z::Z_BUF_ERROR if produced == 0 => return Ok(()),
                z::Z_BUF_ERROR => {}
                _ => return Err(ZlibError(rc)),
            }
            if stream.avail_in == 0 && stream.avail_out != 0 {
                return Ok(());
            }
        }
    }
}

impl Drop for Inflate {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, ended exactly once.
        unsafe { z::inflateEnd(self.stream.as_mut_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_several_flushes() {
        let mut d = Deflate::new().unwrap();
        let mut i = Inflate::new().unwrap();
        let mut wire = Vec::new();
        d.compress_sync(b"a1 NOOP\r\n", &mut wire).unwrap();
        assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "sync flush marker");
        let mut plain = Vec::new();
        i.decompress(&wire, &mut plain).unwrap();
        assert_eq!(plain, b"a1 NOOP\r\n");
        let big: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        let mut wire2 = Vec::new();
        d.compress_sync(&big, &mut wire2).unwrap();
        let mut plain2 = Vec::new();
        for piece in wire2.chunks(777) {
            i.decompress(piece, &mut plain2).unwrap();
        }
        assert_eq!(plain2, big);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut i = Inflate::new().unwrap();
        let mut out = Vec::new();
        assert!(i.decompress(&[0xff; 16], &mut out).is_err());
    }
}
