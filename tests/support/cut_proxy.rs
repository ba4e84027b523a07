//! A TCP proxy on 127.0.0.1 that forwards to a local server and, on its first connections,
//! cuts (or stalls) the server-to-client direction after a given number of bytes, to test a
//! connection lost or a server hanging mid-transfer.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// What happens once the byte budget of a connection is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// Both sockets are shut down: the client sees the connection drop.
    Cut,
    /// Nothing more is forwarded, but the sockets stay open for 30 s: a hung server.
    Stall,
}

pub struct CutProxy {
    pub port: u16,
    /// How many connections were accepted so far.
    pub accepted: Arc<AtomicUsize>,
}

impl CutProxy {
    /// Connections number 0..`cut_first` are cut after `cut_after` bytes from the server.
    /// The accept thread ends with the test process.
    pub fn start(upstream_port: u16, cut_first: usize, cut_after: u64, fail: Fail) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    return;
                };
                let limit = if n < cut_first { cut_after } else { u64::MAX };
                forward(client, server, limit, fail);
            }
        });
        CutProxy { port, accepted }
    }
}

/// A proxy that passes everything, but the client-to-server direction (what an upload
/// writes) at most `chunk` bytes per `pause`: a slow link, so that an upload takes a while.
pub fn start_slow(upstream_port: u16, chunk: usize, pause: Duration) -> CutProxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let port = listener.local_addr().expect("proxy addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                return;
            };
            forward_slow(client, server, chunk, pause);
        }
    });
    CutProxy { port, accepted }
}

fn pump(mut from: TcpStream, mut to: TcpStream, chunk: usize, pause: Duration) {
    let mut buf = vec![0u8; chunk];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        if !pause.is_zero() {
            thread::sleep(pause);
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

fn forward_slow(client: TcpStream, server: TcpStream, chunk: usize, pause: Duration) {
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    thread::spawn(move || pump(client, server, chunk, pause));
    thread::spawn(move || pump(s2, c2, 16 * 1024, Duration::ZERO));
}

fn forward(client: TcpStream, server: TcpStream, limit: u64, fail: Fail) {
    let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = c_read.read(&mut buf) {
            if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(Shutdown::Both);
    });
    thread::spawn(move || {
        let (mut s_read, mut c_write) = (server, client);
        let mut buf = [0u8; 16 * 1024];
        let mut sent: u64 = 0;
        loop {
            let room = usize::try_from(limit - sent)
                .unwrap_or(buf.len())
                .min(buf.len());
            if room == 0 {
                break;
            }
            match s_read.read(&mut buf[..room]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if c_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n as u64;
                }
            }
        }
        if fail == Fail::Stall && sent == limit {
            thread::sleep(Duration::from_secs(30));
        }
        let _ = c_write.shutdown(Shutdown::Both);
        let _ = s_read.shutdown(Shutdown::Both);
    });
}
