//! A small HTTP backend: answers every request with 200 and a body that
//! says whether a PROXY v2 header came first; keeps the headers it saw.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROXY_V2: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// The backend; stops when dropped.
pub struct HttpBackend {
    pub port: u16,
    /// The raw PROXY v2 headers received, one per connection.
    pub proxy_headers: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl HttpBackend {
    pub fn start() -> HttpBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind http backend");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let headers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (headers.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let h = h.clone();
                        std::thread::spawn(move || serve(stream, h));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        HttpBackend {
            port,
            proxy_headers: headers,
            stop,
        }
    }
}

fn serve(mut stream: std::net::TcpStream, headers: Arc<Mutex<Vec<Vec<u8>>>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let mut proxied = false;
    if data.starts_with(PROXY_V2) && data.len() >= 16 {
        let len = u16::from_be_bytes([data[14], data[15]]) as usize;
        if let Ok(mut h) = headers.lock() {
            h.push(data[..(16 + len).min(data.len())].to_vec());
        }
        proxied = true;
    }
    let body = format!("hello from the backend; proxy={proxied}\n");
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
