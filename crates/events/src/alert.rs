//! `[alerts] command`: a program run for each new event, one at a time
//! in a thread of its own so that nothing waits for it, with the event in
//! environment variables (`MAILCERT_EVENT`, `MAILCERT_THUMBPRINT`, …,
//! and the whole event as `MAILCERT_EVENT_JSON`), its own arguments
//! as configured, never a shell. A program that outlives its timeout is
//! killed with its process group; one that fails is logged with what it
//! printed. Either way the front end carries on.

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::log::plain;
use crate::Event;

/// The program to run, from `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCommand {
    pub program: PathBuf,
    pub arguments: Vec<String>,
    pub timeout: Duration,
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertOutcome {
    Succeeded,
    Failed { status: String, output: String },
    TimedOut,
    NotStarted(String),
}

/// Events waiting for the program at most; more are logged and dropped
/// (each is in the log anyway).
const QUEUE_LIMIT: usize = 1000;
/// What is kept of the program's output for the log.
const OUTPUT_LIMIT: usize = 2048;
/// Variables of `serve`'s own environment the program does not get.
const WITHHELD: &[&str] = &["PGPASSWORD", "MAILCERT_PASSWORD"];

struct Queue {
    jobs: VecDeque<Vec<(String, String)>>,
    /// Queued or running.
    pending: usize,
}

pub(crate) struct AlertRunner {
    command: AlertCommand,
    queue: Arc<(Mutex<Queue>, Condvar)>,
}

impl AlertRunner {
    pub(crate) fn start(command: AlertCommand) -> AlertRunner {
        let queue = Arc::new((
            Mutex::new(Queue {
                jobs: VecDeque::new(),
                pending: 0,
            }),
            Condvar::new(),
        ));
        let worker_queue = queue.clone();
        let worker_command = command.clone();
        let started = std::thread::Builder::new()
            .name("mailcert-alerts".into())
            .spawn(move || work(&worker_command, &worker_queue));
        if let Err(e) = started {
            tracing::error!("[alerts] command: cannot start its thread: {e}");
        }
        AlertRunner { command, queue }
    }

    /// Queues a run for `event`; `false` when the queue is full.
    pub(crate) fn queue(&self, event: &Event, node: &str) -> bool {
        let environment = environment(event, node);
        let (lock, signal) = &*self.queue;
        let Ok(mut queue) = lock.lock() else {
            return false;
        };
        if queue.jobs.len() >= QUEUE_LIMIT {
            tracing::warn!(
                "[alerts] command {}: {QUEUE_LIMIT} events already wait for it; {} of {} is only in the log",
                self.command.program.display(),
                event.name,
                event.about
            );
            return false;
        }
        queue.jobs.push_back(environment);
        queue.pending += 1;
        signal.notify_all();
        true
    }

    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, signal) = &*self.queue;
        let Ok(mut queue) = lock.lock() else {
            return false;
        };
        while queue.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            queue = match signal.wait_timeout(queue, left) {
                Ok((queue, _)) => queue,
                Err(_) => return false,
            };
        }
        true
    }
}

fn work(command: &AlertCommand, queue: &(Mutex<Queue>, Condvar)) {
    let (lock, signal) = queue;
    loop {
        let job = {
            let Ok(mut queue) = lock.lock() else { return };
            loop {
                if let Some(job) = queue.jobs.pop_front() {
                    break job;
                }
                queue = match signal.wait(queue) {
                    Ok(queue) => queue,
                    Err(_) => return,
                };
            }
        };
        let event = job
            .iter()
            .find(|(k, _)| k == "MAILCERT_EVENT")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        match run(command, &job) {
            AlertOutcome::Succeeded => {
                tracing::debug!("[alerts] command {} ran for {event}", command.program.display())
            }
            AlertOutcome::Failed { status, output } => tracing::warn!(
                "[alerts] command {} failed for {event} ({status}){}",
                command.program.display(),
                if output.is_empty() {
                    String::new()
                } else {
                    format!(": {output}")
                }
            ),
            AlertOutcome::TimedOut => tracing::warn!(
                "[alerts] command {} did not finish within {} s for {event}: killed (raise [alerts] timeout, or make it return sooner)",
                command.program.display(),
                command.timeout.as_secs()
            ),
            AlertOutcome::NotStarted(why) => tracing::warn!(
                "[alerts] command {} could not be started for {event}: {why}",
                command.program.display()
            ),
        }
        if let Ok(mut queue) = lock.lock() {
            queue.pending = queue.pending.saturating_sub(1);
            signal.notify_all();
        }
    }
}

/// The variables for one event: `MAILCERT_EVENT`, `MAILCERT_SEVERITY`,
/// `MAILCERT_MESSAGE`, `MAILCERT_NODE`, one `MAILCERT_<FIELD>` per field
/// (lists comma-joined), and `MAILCERT_EVENT_JSON`.
pub fn environment(event: &Event, node: &str) -> Vec<(String, String)> {
    let mut vars = vec![
        ("MAILCERT_EVENT".to_string(), event.name.to_string()),
        (
            "MAILCERT_SEVERITY".to_string(),
            event.severity.as_str().to_string(),
        ),
        ("MAILCERT_MESSAGE".to_string(), event.message.clone()),
        ("MAILCERT_NODE".to_string(), node.to_string()),
    ];
    for (name, value) in &event.fields {
        vars.push((
            format!("MAILCERT_{}", name.to_ascii_uppercase().replace('-', "_")),
            plain(value),
        ));
    }
    let mut json = event.to_json();
    json.insert("node".into(), serde_json::Value::from(node));
    vars.push((
        "MAILCERT_EVENT_JSON".to_string(),
        serde_json::Value::Object(json).to_string(),
    ));
    vars
}

/// How long the output of a program that has exited is still read.
const READER_GRACE: Duration = Duration::from_secs(1);

/// Runs the program once and waits for it, at most its timeout.
pub(crate) fn run(command: &AlertCommand, environment: &[(String, String)]) -> AlertOutcome {
    use std::os::unix::process::CommandExt;
    let mut process = Command::new(&command.program);
    process
        .args(&command.arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a timeout kills whatever it started too.
        .process_group(0);
    for name in WITHHELD {
        process.env_remove(name);
    }
    for (name, value) in environment {
        process.env(name, value);
    }
    let mut child = match process.spawn() {
        Ok(child) => child,
        Err(e) => return AlertOutcome::NotStarted(e.to_string()),
    };
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let output = output.clone();
        std::thread::spawn(move || collect(stream, &output))
    })
    .collect();
    let deadline = Instant::now() + command.timeout;
    let status: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => break None,
        }
    };
    let Some(status) = status else {
        kill_group(child.id());
        let _ = child.kill();
        let _ = child.wait();
        return AlertOutcome::TimedOut;
    };
    // The readers end with the pipes, usually a moment after the program
    // exits: give them that moment so that its last words are kept, but a
    // grandchild that keeps the pipes open is not waited for.
    let grace = Instant::now() + READER_GRACE;
    while readers.iter().any(|r| !r.is_finished()) && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(5));
    }
    for reader in readers {
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
    if status.success() {
        return AlertOutcome::Succeeded;
    }
    let text = output
        .lock()
        .map(|o| String::from_utf8_lossy(&o).trim().replace('\n', " | "))
        .unwrap_or_default();
    AlertOutcome::Failed {
        status: status.to_string(),
        output: text,
    }
}

/// Keeps the first [`OUTPUT_LIMIT`] bytes, reads (and drops) the rest so
/// that the program never blocks on a full pipe.
fn collect(mut stream: Box<dyn Read + Send>, output: &Mutex<Vec<u8>>) {
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        if let Ok(mut kept) = output.lock() {
            let room = OUTPUT_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(&buffer[..n.min(room)]);
        }
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn event() -> Event {
        Event::new(
            "certificate-expiring",
            Severity::Warning,
            "9F1C",
            "expires in 9 days",
        )
        .field("thumbprint", "9F1C")
        .field(
            "names",
            serde_json::json!(["mail.contoso.com", "autodiscover.contoso.com"]),
        )
        .field("days_left", 9)
    }

    #[test]
    fn the_program_gets_the_event_in_its_environment_not_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let vars = environment(&event(), "ex1");
        let printer = AlertCommand {
            program: "/bin/sh".into(),
            arguments: vec!["-c".into(), format!("env > {}", out.display())],
            timeout: Duration::from_secs(10),
        };
        assert_eq!(run(&printer, &vars), AlertOutcome::Succeeded);
        let seen = std::fs::read_to_string(&out).unwrap();
        for line in [
            "MAILCERT_EVENT=certificate-expiring",
            "MAILCERT_THUMBPRINT=9F1C",
            "MAILCERT_NAMES=mail.contoso.com,autodiscover.contoso.com",
            "MAILCERT_DAYS_LEFT=9",
            "MAILCERT_NODE=ex1",
            "MAILCERT_SEVERITY=warning",
        ] {
            assert!(seen.lines().any(|l| l == line), "{line} not in\n{seen}");
        }
        let json_line = seen
            .lines()
            .find_map(|l| l.strip_prefix("MAILCERT_EVENT_JSON="))
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(json_line).unwrap();
        assert_eq!(json["days_left"], 9);
        assert_eq!(json["names"][1], "autodiscover.contoso.com");
    }

    #[test]
    fn a_program_that_hangs_is_killed_and_one_that_fails_is_told() {
        let hang = AlertCommand {
            program: "/bin/sleep".into(),
            arguments: vec!["30".into()],
            timeout: Duration::from_millis(300),
        };
        assert_eq!(run(&hang, &[]), AlertOutcome::TimedOut);
        let fail = AlertCommand {
            program: "/bin/sh".into(),
            arguments: vec!["-c".into(), "echo no route to pager >&2; exit 3".into()],
            timeout: Duration::from_secs(10),
        };
        match run(&fail, &[]) {
            AlertOutcome::Failed { status, output } => {
                assert!(status.contains('3'), "{status}");
                assert_eq!(output, "no route to pager");
            }
            other => panic!("{other:?}"),
        }
        let missing = AlertCommand {
            program: "/nonexistent/notify".into(),
            arguments: Vec::new(),
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(run(&missing, &[]), AlertOutcome::NotStarted(_)));
    }
}
