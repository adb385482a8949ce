//! A mail session after the pre-TLS dialogue: bytes both ways through a
//! command-aware [`Relay`] from the dialect crate, which answers itself
//! the commands that must never reach the backend (a second STARTTLS
//! inside TLS; SMTP `AUTH` without TLS). HTTPS, which has no commands to
//! watch, goes through the plain [`crate::pipe`].

use std::time::Duration;

use mailcert_dialect::relay::Relay;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pipe::PipeEnd;

const BUFFER: usize = 16 * 1024;

/// Carries the session until either side closes (the backend's close ends
/// it; the client's close is passed on and the backend's last answers
/// still delivered), nothing moves for `idle`, or the relay refuses
/// something that ends the session. Returns how it ended and the bytes
/// each way.
pub async fn relay<C>(
    client: C,
    backend: TcpStream,
    mut relay: Box<dyn Relay>,
    idle: Duration,
) -> (PipeEnd, u64, u64, Vec<String>)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut backend_read, mut backend_write) = backend.into_split();
    let mut from_client = vec![0u8; BUFFER];
    let mut from_backend = vec![0u8; BUFFER];
    let (mut up, mut down) = (0u64, 0u64);
    let mut client_open = true;
    let mut deadline = tokio::time::Instant::now() + idle;
    let end = loop {
        let out = relay.take_to_backend();
        if !out.is_empty() {
            up += out.len() as u64;
            if backend_write.write_all(&out).await.is_err() {
                break PipeEnd::Error;
            }
        }
        let out = relay.take_to_client();
        if !out.is_empty() {
            down += out.len() as u64;
            if client_write.write_all(&out).await.is_err() || client_write.flush().await.is_err() {
                break PipeEnd::Error;
            }
        }
        if relay.closing() {
            break PipeEnd::Closed;
        }
        tokio::select! {
            // Not while the relay holds what it may of the client's bytes
            // for an answer the backend has not given yet: the client waits
            // (TCP pushes back), and a silent backend ends in the idle timeout.
            read = client_read.read(&mut from_client), if client_open && relay.wants_client() => match read {
                Ok(n) if n > 0 => relay.receive_from_client(&from_client[..n]),
                // The client is done sending: the backend hears it, and
                // its last answers still reach the client.
                _ => {
                    client_open = false;
                    let _ = backend_write.shutdown().await;
                }
            },
            read = backend_read.read(&mut from_backend) => match read {
                Ok(n) if n > 0 => relay.receive_from_backend(&from_backend[..n]),
                Ok(_) => {
                    let out = relay.take_to_client();
                    down += out.len() as u64;
                    let _ = client_write.write_all(&out).await;
                    break PipeEnd::Closed;
                }
                Err(_) => break PipeEnd::Error,
            },
            _ = tokio::time::sleep_until(deadline) => break PipeEnd::Idle,
        }
        deadline = tokio::time::Instant::now() + idle;
    };
    let _ = client_write.shutdown().await;
    let _ = backend_write.shutdown().await;
    (end, up, down, relay.answered().to_vec())
}
