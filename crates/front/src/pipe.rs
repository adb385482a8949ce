//! Piping bytes both ways between the client and the backend, with an
//! idle timeout (no bytes in either direction) and half-close handling.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of each direction's buffer once traffic flows.
const BUFFER: usize = 16 * 1024;
/// What an idle connection holds per direction: the buffer only grows
/// when a read fills it, so 10,000 idle IMAP sessions stay small.
const FIRST_BUFFER: usize = 1024;

/// How a pipe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeEnd {
    /// Both sides closed.
    Closed,
    /// No bytes moved for the idle timeout.
    Idle,
    /// A read or write failed (reset, broken pipe).
    Error,
}

/// Copies `a` ⇄ `b` until both directions end or nothing moves for `idle`.
pub async fn pipe<A, B>(a: A, b: B, idle: Duration) -> (PipeEnd, u64, u64)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let last = AtomicU64::new(0);
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = tokio::io::split(b);
    let up = copy(&mut ar, &mut bw, &last, start);
    let down = copy(&mut br, &mut aw, &last, start);
    let watchdog = async {
        let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
        loop {
            tokio::time::sleep(tick).await;
            let quiet = start
                .elapsed()
                .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
            if quiet >= idle {
                return;
            }
        }
    };
    let both = async {
        tokio::pin!(up);
        tokio::pin!(down);
        let (mut up_done, mut down_done) = (None, None);
        loop {
            tokio::select! {
                r = &mut up, if up_done.is_none() => {
                    if !r.0 { return (PipeEnd::Error, r.1, 0) }
                    up_done = Some(r.1);
                }
                r = &mut down, if down_done.is_none() => {
                    if !r.0 { return (PipeEnd::Error, 0, r.1) }
                    down_done = Some(r.1);
                }
            }
            if let (Some(u), Some(d)) = (up_done, down_done) {
                return (PipeEnd::Closed, u, d);
            }
        }
    };
    tokio::select! {
        end = both => end,
        _ = watchdog => (PipeEnd::Idle, 0, 0),
    }
}

/// One direction; on EOF it shuts the other side's write half down so the
/// peer sees the close (TLS: close_notify).
async fn copy<R, W>(reader: &mut R, writer: &mut W, last: &AtomicU64, start: Instant) -> (bool, u64)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; FIRST_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            // A peer that closes without TLS close_notify: a normal end here.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(_) => {
                let _ = writer.shutdown().await;
                return (false, total);
            }
        };
        last.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
        let full = n == buf.len();
        if writer.write_all(&buf[..n]).await.is_err() || writer.flush().await.is_err() {
            return (false, total);
        }
        total += n as u64;
        if full && buf.len() < BUFFER {
            buf.resize(BUFFER, 0);
        }
    }
    let _ = writer.shutdown().await;
    (true, total)
}
