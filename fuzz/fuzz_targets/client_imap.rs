//! The checker's side of IMAP before TLS: whatever a server (or a man in
//! the middle) answers, in any pieces. The client writes only its own
//! well-formed commands, reads a bounded number of lines, and reports
//! what followed a positive STARTTLS answer instead of reading it.
#![no_main]

#[path = "common/dialect.rs"]
mod common;
#[path = "common/replies.rs"]
mod replies;

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::{
    ClientConfig, ClientStep, PlainClient, Protocol, StartTlsResult, MAX_LINES,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut config = ClientConfig::new(Protocol::Imap);
    config.limits = common::limits(selector);
    config.attempt_unadvertised = selector & 1 == 1;
    let mut client = PlainClient::new(config);
    let mut reads = common::reads(rest).into_iter();
    let mut sent = 0usize;
    loop {
        match client.step() {
            Ok(ClientStep::Send(bytes)) => {
                common::assert_lines(&bytes, "the client");
                sent += 1;
                assert!(sent <= 8, "the client keeps sending");
            }
            Ok(ClientStep::NeedInput) => match reads.next() {
                Some(read) => client.receive(read),
                None => break,
            },
            Ok(ClientStep::Finished) => {
                let result = client.finish().expect("finish after Finished");
                let report = match &result {
                    StartTlsResult::Success(ready) => &ready.report,
                    StartTlsResult::Unavailable(report) => report,
                    StartTlsResult::Refused { report, .. }
                    | StartTlsResult::Rejected { report, .. } => report,
                };
                assert!(report.transcript.len() <= MAX_LINES + 8);
                break;
            }
            Err(_) => break,
        }
    }
    // The parsers the checker and the front end use after TLS, on the
    // same lines.
    replies::parse_all(rest);
});
