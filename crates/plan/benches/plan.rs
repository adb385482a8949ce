//! How long planning takes for a large organisation: 40 accepted domains,
//! 10 sites and 200 servers, read from TOML and planned.
//!
//! Run with `cargo bench -p mailcert-plan`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mailcert_plan::{plan, Organization};
use time::macros::datetime;

/// An organisation of `domains` accepted domains and `servers` servers in
/// ten sites; `heavy` adds server FQDNs and wildcards to the work.
fn organisation(domains: usize, servers: usize, heavy: bool) -> String {
    let mut t = String::from("[organization]\nname = \"Bench\"\naccepted_domains = [");
    for d in 0..domains {
        let _ = write!(t, "\"domain{d:02}.com\", ");
    }
    t.push_str("]\nissuer = \"public\"\n\n[namespaces]\nclient_access = [\"mail.domain00.com\"]\n");
    t.push_str("internal = [\"mail.corp.local\"]\nlegacy = \"legacy.domain00.com\"\n\n");
    t.push_str("[coexistence]\nolder_version = \"exchange-2010\"\n\n");
    for s in 0..10 {
        let _ = write!(
            t,
            "[[site]]\nname = \"site{s}\"\nclient_access = [\"site{s}.domain00.com\"]\n\n"
        );
    }
    for i in 0..servers {
        let _ = write!(
            t,
            "[[server]]\nname = \"EX{i:03}\"\nfqdn = \"ex{i:03}.domain00.com\"\nsite = \"site{}\"\ninternet_facing = {}\nrole = \"{}\"\n\n",
            i % 10,
            i % 4 != 0,
            if i % 10 == 9 { "backend" } else { "mailbox" },
        );
    }
    let _ = write!(
        t,
        "[policy]\nmax_names = 250\ninclude_server_fqdns = {heavy}\nprefer_wildcard = {heavy}\n"
    );
    t
}

fn bench(c: &mut Criterion) {
    let at = datetime!(2026-06-01 0:00 UTC);
    for (label, heavy) in [
        ("40 domains, 200 servers", false),
        ("40 domains, 200 servers, fqdns + wildcard", true),
    ] {
        let text = organisation(40, 200, heavy);
        let org =
            Organization::from_toml(&text, "bench.toml").expect("the bench organisation is valid");
        let p = plan(&org, at);
        assert!(
            p.certificates[0].names.len() >= 40,
            "{label}: the plan is too small to measure"
        );

        c.bench_function(&format!("parse + plan: {label}"), |b| {
            b.iter(|| {
                let org = Organization::from_toml(black_box(&text), "bench.toml").expect("valid");
                black_box(plan(&org, at))
            })
        });
        c.bench_function(&format!("plan: {label}"), |b| {
            b.iter(|| black_box(plan(black_box(&org), at)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
