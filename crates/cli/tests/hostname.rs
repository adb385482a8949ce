//! The secure-by-default certificate is made for the host's name; a name
//! without a domain never matches what clients connect to, and `init`
//! (or any first start) says so with the fix. The host's name is set in a
//! UTS namespace of its own (`unshare --uts`), as the kernel reports it.

use mailcert_testkit::{Cli, Run};

use crate::cli;

/// `mailcert ARGS` on a host named `host`.
fn on_host(env: &Cli, host: &str, args: &[&str]) -> Run {
    let set_name = "printf '%s' \"$0\" > /proc/sys/kernel/hostname && exec \"$@\"";
    let mut cmd = env.wrapped("unshare", &["--uts", "sh", "-c", set_name, host], args);
    Run::from(cmd.output().expect("unshare (util-linux)"))
}

#[test]
fn init_on_a_host_without_a_domain_says_so_with_the_fix() {
    let env = cli();
    let run = on_host(&env, "shorty", &["init"]).ok();
    assert!(
        run.stderr
            .contains("this host's name 'shorty' is not a fully qualified domain name")
            && run.stderr.contains("mailcert new --self-signed --name")
            && run.stderr.contains("mailcert replace")
            && run.stderr.contains("--hostname"),
        "{}",
        run.stderr
    );
    let list = env.list();
    assert_eq!(list[0]["names"], serde_json::json!(["shorty"]));

    // The same on a first start by any command that creates the store.
    let other = cli();
    let run = on_host(
        &other,
        "shorty",
        &["new", "--self-signed", "--name", "mail.contoso.com"],
    )
    .ok();
    assert!(
        run.stderr
            .contains("'shorty' is not a fully qualified domain name"),
        "{}",
        run.stderr
    );

    // A host with its full name: nothing to say, and the short name is
    // on the certificate too.
    let good = cli();
    let run = on_host(&good, "mail.contoso.com", &["init"]).ok();
    assert!(!run.stderr.contains("fully qualified"), "{}", run.stderr);
    assert_eq!(
        good.list()[0]["names"],
        serde_json::json!(["mail.contoso.com", "mail"])
    );

    // --hostname without a domain: said too.
    let given = cli();
    let run = given.run(&["init", "--hostname", "mailhost"]).ok();
    assert!(
        run.stderr
            .contains("'mailhost' (--hostname) is not a fully qualified domain name"),
        "{}",
        run.stderr
    );
}
