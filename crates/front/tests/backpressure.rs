//! A client cannot pile up bytes in the front end behind a backend that
//! does not answer: while the relay waits for the backend's answer to
//! `DATA` (and to `AUTH`, a literal, `IDLE`), it keeps at most
//! `HELD_LIMIT` bytes of what the client sent, and the front end stops
//! reading the client; TCP pushes back, so the client's writes stall
//! instead of the front end's memory growing.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use crate::support::*;

/// An SMTP backend that answers everything but `DATA`, which it never
/// answers (a hung or overloaded server).
fn backend_silent_after_data() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    line_backend(listener, "220 backend ESMTP\r\n", |line| {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            Said::Answer("250-backend\r\n250 PIPELINING\r\n".to_string())
        } else if upper == "DATA" {
            Said::Hold
        } else {
            Said::Answer("250 ok\r\n".to_string())
        }
    })
}

#[test]
fn a_client_cannot_pile_up_bytes_behind_a_silent_backend() {
    let env = Env::new();
    let front = env.front(&listener(
        "smtp",
        "smtp",
        "starttls",
        backend_silent_after_data(),
        false,
        "",
    ));
    let mut s = connect(front.addr("smtp").expect("bound").port());
    read_until(&mut s, "\r\n");
    s.write_all(b"EHLO client.example.org\r\n").unwrap();
    read_until(&mut s, "250 ");
    // Port 25 without TLS: the session goes on in plaintext to the backend.
    s.write_all(b"MAIL FROM:<a@example.org>\r\n").unwrap();
    assert!(read_until(&mut s, "\r\n").starts_with("250"));
    s.write_all(b"RCPT TO:<b@example.test>\r\n").unwrap();
    assert!(read_until(&mut s, "\r\n").starts_with("250"));
    s.write_all(b"DATA\r\n").unwrap();

    // The content, sent without waiting for a 354 that never comes. A
    // write that makes no progress for two seconds means the front end
    // stopped reading.
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let chunk = vec![b'x'; 64 * 1024];
    let attempted = 128 * 1024 * 1024;
    let mut written = 0usize;
    while written < attempted {
        match s.write(&chunk) {
            Ok(n) => written += n,
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{e}"
                );
                break;
            }
        }
    }
    // What the kernel buffers on both sides of loopback (up to 32 MiB to
    // receive and 4 MiB to send here) plus what the relay holds: far from
    // everything.
    assert!(
        written < 64 * 1024 * 1024,
        "the front end read {written} bytes that it could not pass on"
    );
}
