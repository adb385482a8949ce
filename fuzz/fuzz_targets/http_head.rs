//! The request head the front end's plain HTTP listener reads (ACME
//! HTTP-01 answers and the redirect to HTTPS): whatever arrives, the
//! answer is one well-formed response, and nothing from the request can
//! add a header or a line to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_config::Redirect;
use mailcert_front::{fuzz_http_head, ChallengeBoard};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, head)) = data.split_first() else {
        return;
    };
    let redirect = Redirect {
        name: "http".into(),
        bind: "127.0.0.1:80".parse().expect("a literal address"),
        https_port: if selector & 1 == 0 { 443 } else { 8443 },
        hostname: (selector & 2 == 2).then(|| "mail.example.com".into()),
    };
    let challenges = ChallengeBoard::new();
    challenges.set_http01("token", Some("token.thumbprint".into()));
    let response = fuzz_http_head(head, &redirect, &challenges);
    let (head_part, body) = response
        .split_once("\r\n\r\n")
        .expect("a response head ends with a blank line");
    let mut lines = head_part.split("\r\n");
    let status = lines.next().expect("a status line");
    assert!(status.starts_with("HTTP/1.1 "), "{status}");
    let mut content_length = None;
    for line in lines {
        assert!(
            !line.contains('\r') && !line.contains('\n') && !line.contains('\0'),
            "{line:?}"
        );
        let (name, value) = line.split_once(": ").expect("a header line");
        assert!(
            matches!(
                name,
                "Location" | "Content-Type" | "Content-Length" | "Connection"
            ),
            "unexpected header {name}"
        );
        if name == "Content-Length" {
            content_length = value.parse::<usize>().ok();
        }
        if name == "Location" {
            assert!(value.starts_with("https://"), "{value}");
        }
    }
    assert_eq!(
        content_length,
        Some(body.len()),
        "Content-Length matches the body"
    );
});
