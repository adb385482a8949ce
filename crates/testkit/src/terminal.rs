//! Running a command on a terminal (a pseudo-terminal made by Python's
//! `pty`), as an administrator at a keyboard would, to test what is
//! asked only there.

use std::process::Command;

const DRIVER: &str = r#"
import os, pty, select, sys
answer, prompt = sys.argv[1].encode(), sys.argv[2].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[3], sys.argv[3:])
seen, sent = b"", False
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
    if not sent and prompt in seen:
        os.write(fd, answer + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// What a run on a terminal showed (stdout and stderr together, as a
/// terminal shows them) and its exit code.
#[derive(Debug)]
pub struct TerminalRun {
    pub code: Option<i32>,
    pub screen: String,
}

/// Runs `command` (its program, arguments and environment) on a
/// pseudo-terminal; when `prompt` appears, types `answer` and Enter.
pub fn on_terminal(command: &Command, prompt: &str, answer: &str) -> TerminalRun {
    let mut args: Vec<String> = vec![
        "-c".into(),
        DRIVER.into(),
        answer.into(),
        prompt.into(),
        command.get_program().to_string_lossy().into_owned(),
    ];
    args.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    let mut python = Command::new("/usr/bin/python3");
    python.args(&args);
    for (key, value) in command.get_envs() {
        match value {
            Some(v) => python.env(key, v),
            None => python.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        python.current_dir(dir);
    }
    let out = python.output().unwrap_or_else(|e| {
        panic!("cannot run /usr/bin/python3: {e} (run scripts/install-peers.sh)")
    });
    TerminalRun {
        code: out.status.code(),
        screen: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
    }
}
