//! Thin safe wrappers over the few libc calls std does not offer: getaddrinfo with the
//! canonical name, gai_strerror/strerror texts, poll, a SIGINT self-pipe, memchr and raw
//! writes.

use std::ffi::{CStr, CString};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

pub use super::process::strerror;

/// The errno text of an I/O error (falls back to the error's own text).
pub fn io_error_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => strerror(code),
        None => err.to_string(),
    }
}

/// What getaddrinfo gave back.
pub struct Resolved {
    pub addresses: Vec<SocketAddr>,
    pub canonical_name: Option<String>,
}

/// Which addresses [`resolve`] asks for (`-4`/`-6`; the C tool always asks for any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    Any,
    Inet,
    Inet6,
}

/// getaddrinfo(host, service) with SOCK_STREAM and AI_CANONNAME (docs/behaviour.md §3.1), for the
/// given family (AF_UNSPEC, AF_INET or AF_INET6). The error is gai_strerror's text.
pub fn resolve(host: &[u8], service: &[u8], family: AddressFamily) -> Result<Resolved, String> {
    let host = CString::new(host.to_vec()).map_err(|_| "Name or service not known".to_string())?;
    let service = CString::new(service.to_vec())
        .map_err(|_| "Servname not supported for ai_socktype".to_string())?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value; we then set the fields we use.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = match family {
        AddressFamily::Any => libc::AF_UNSPEC,
        AddressFamily::Inet => libc::AF_INET,
        AddressFamily::Inet6 => libc::AF_INET6,
    };
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_CANONNAME;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: host/service are valid C strings, hints is initialised, list is an out-pointer.
    let rc = unsafe { libc::getaddrinfo(host.as_ptr(), service.as_ptr(), &hints, &mut list) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(text.to_string_lossy().into_owned());
    }
    let mut resolved = Resolved {
        addresses: Vec::new(),
        canonical_name: None,
    };
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: cursor walks the list getaddrinfo returned; it is freed only below.
        let info = unsafe { &*cursor };
        if resolved.canonical_name.is_none() && !info.ai_canonname.is_null() {
            // SAFETY: ai_canonname is a NUL-terminated string inside the list.
            let name = unsafe { CStr::from_ptr(info.ai_canonname) };
            resolved.canonical_name = Some(name.to_string_lossy().into_owned());
        }
        // SAFETY: ai_addr points to ai_addrlen bytes of the family's sockaddr type.
        if let Some(addr) = unsafe { sockaddr_to_std(info.ai_addr, info.ai_addrlen) } {
            resolved.addresses.push(addr);
        }
        cursor = info.ai_next;
    }
    // SAFETY: list came from getaddrinfo and is freed exactly once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(resolved)
}

/// # Safety
/// `addr` must point to `len` readable bytes holding a sockaddr of its family.
unsafe fn sockaddr_to_std(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: non-NULL and readable (contract above); every sockaddr starts with its family.
    let family = unsafe { (*addr).sa_family };
    match i32::from(family) {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: `len` covers a sockaddr_in and the family says it is one.
            let v4 = unsafe { &*(addr as *const libc::sockaddr_in) };
            let ip = u32::from_be(v4.sin_addr.s_addr).into();
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: `len` covers a sockaddr_in6 and the family says it is one.
            let v6 = unsafe { &*(addr as *const libc::sockaddr_in6) };
            let ip = v6.sin6_addr.s6_addr.into();
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Readiness of the descriptors given to [`poll`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Ready {
    pub readable: bool,
}

/// poll(2) for readability; `timeout_ms` < 0 blocks. `Err(EINTR)` comes back as an error.
pub fn poll_read(fds: &[RawFd], timeout_ms: i32) -> std::io::Result<Vec<Ready>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: pollfds is a valid array of pollfd of the given length.
    let rc = unsafe {
        libc::poll(
            pollfds.as_mut_ptr(),
            pollfds.len() as libc::nfds_t,
            timeout_ms,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pollfds
        .iter()
        .map(|p| Ready {
            readable: p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL)
                != 0,
        })
        .collect())
}

/// True when `fd` has something to read right now (zero-timeout poll).
pub fn readable_now(fd: RawFd) -> bool {
    matches!(poll_read(&[fd], 0).as_deref(), Ok([ready]) if ready.readable)
}

static SIGINT_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigint(_: libc::c_int) {
    let fd = SIGINT_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking so a full pipe
        // just drops the byte (one pending byte is enough).
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// Installs a SIGINT handler that makes the returned descriptor readable (self-pipe), so
/// the relay can notice Ctrl-C in its poll. Called once, when the relay starts.
pub fn sigint_pipe() -> std::io::Result<RawFd> {
    let mut fds = [0; 2];
    // SAFETY: fds is a two-element array as pipe2 requires.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    SIGINT_PIPE_WRITE.store(fds[1], Ordering::Relaxed);
    // SAFETY: a zeroed sigaction with a valid handler and empty mask is well-formed.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigint as *const () as usize;
    action.sa_flags = 0;
    // SAFETY: installing a handler that only calls async-signal-safe functions.
    let rc = unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fds[0])
}

/// Reads up to `buf.len()` bytes from a raw descriptor (stdin, the self-pipe).
pub fn read_fd(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() writable bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The first position of `needle` in `haystack`: libc's memchr, which looks at many bytes
/// per step.
pub fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    if haystack.is_empty() {
        return None;
    }
    // SAFETY: the pointer and length describe the live slice `haystack`.
    let found = unsafe {
        libc::memchr(
            haystack.as_ptr().cast(),
            libc::c_int::from(needle),
            haystack.len(),
        )
    };
    if found.is_null() {
        None
    } else {
        Some(found as usize - haystack.as_ptr() as usize)
    }
}

/// Writes all of `bytes` to a raw descriptor in as few write(2) calls as the kernel takes,
/// retrying on EINTR; any other failure (a closed stdout, say) ends the write quietly.
pub fn write_all_fd(fd: RawFd, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: writes from the live slice `rest`; the descriptor is the caller's.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n > 0 {
            rest = &rest[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_numeric_address_and_port() {
        let r = resolve(b"127.0.0.1", b"143", AddressFamily::Any).unwrap();
        assert_eq!(r.addresses[0], "127.0.0.1:143".parse().unwrap());
    }

    #[test]
    fn family_restricts_the_answer() {
        let r = resolve(b"127.0.0.1", b"143", AddressFamily::Inet).unwrap();
        assert_eq!(r.addresses, ["127.0.0.1:143".parse().unwrap()]);
        let r = resolve(b"::1", b"143", AddressFamily::Inet6).unwrap();
        assert_eq!(r.addresses, ["[::1]:143".parse().unwrap()]);
        let err = resolve(b"127.0.0.1", b"143", AddressFamily::Inet6).err();
        assert_eq!(
            err.as_deref(),
            Some("Address family for hostname not supported")
        );
    }

    #[test]
    fn unknown_service_gives_gai_text() {
        let err = resolve(b"127.0.0.1", b"no-such-service-x", AddressFamily::Any)
            .err()
            .unwrap();
        assert_eq!(err, "Servname not supported for ai_socktype");
    }

    #[test]
    fn io_error_text_has_no_rust_suffix() {
        let err = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(io_error_text(&err), "Connection refused");
    }
}
