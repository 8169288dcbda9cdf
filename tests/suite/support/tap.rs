//! A recording TCP tap: forwards one connection on 127.0.0.1 to a real server and keeps what
//! the client sent (e.g. the compressed stream, a PROXY header) for the test to check.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;

/// Forwards one connection to `target`; the port to connect to, and a handle that gives the
/// client's address and every byte it sent once both sides are done.
pub fn tap(target: u16) -> (u16, JoinHandle<(SocketAddr, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tap");
    let port = listener.local_addr().expect("the tap's address").port();
    let handle = std::thread::spawn(move || {
        let (client, peer) = listener.accept().expect("accept");
        let server = TcpStream::connect(("127.0.0.1", target)).expect("connect to the server");
        let (mut from_client, mut to_server) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            let (mut seen, mut buf) = (Vec::new(), [0u8; 65536]);
            while let Ok(n @ 1..) = from_client.read(&mut buf) {
                seen.extend_from_slice(&buf[..n]);
                if to_server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown(Shutdown::Write);
            seen
        });
        let (mut from_server, mut to_client, mut buf) = (server, client, [0u8; 65536]);
        while let Ok(n @ 1..) = from_server.read(&mut buf) {
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Write);
        (peer, up.join().unwrap_or_default())
    });
    (port, handle)
}
