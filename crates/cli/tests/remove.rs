//! `remove` asks before deleting a private key — only someone at a
//! terminal (a real pseudo-terminal here), never a script, and not with
//! --yes or --force.

use mailcert_testkit::Cli;

use crate::cli;
use mailcert_testkit::on_terminal;

fn listed(env: &Cli, thumb: &str) -> bool {
    env.list().iter().any(|c| c["thumbprint"] == thumb)
}

#[test]
fn remove_asks_on_a_terminal_and_only_there() {
    let env = cli();
    let init = env.init("mail.contoso.com");
    let kept = env.new_self_signed(&["--name", "a.contoso.com"]);

    // "no" (or anything but yes) changes nothing.
    for answer in ["n", "", "maybe"] {
        let before = env.snapshot();
        let run = on_terminal(&env.command(&["remove", &kept]), "[y/N]", answer);
        assert_eq!(run.code, Some(2), "{}", run.screen);
        assert!(
            run.screen
                .contains(&format!("Remove {kept} (CN=a.contoso.com)?"))
                && run
                    .screen
                    .contains(&format!("mailcert export {kept} --out backup.pfx"))
                && run.screen.contains("not confirmed"),
            "{}",
            run.screen
        );
        assert_eq!(env.snapshot(), before);
    }
    let run = on_terminal(&env.command(&["remove", &kept]), "[y/N]", "y");
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert!(!listed(&env, &kept));

    // --yes and --force skip the question; so does a script (no terminal).
    for extra in ["--yes", "-y"] {
        let gone = env.new_self_signed(&["--name", "b.contoso.com"]);
        let run = on_terminal(&env.command(&["remove", &gone, extra]), "[y/N]", "n");
        assert_eq!(run.code, Some(0), "{}", run.screen);
        assert!(!run.screen.contains("[y/N]"), "{}", run.screen);
        assert!(!listed(&env, &gone));
    }
    let scripted = env.new_self_signed(&["--name", "c.contoso.com"]);
    let run = env.run(&["remove", &scripted]).ok();
    assert!(!run.stderr.contains("[y/N]"), "{}", run.stderr);
    assert!(!listed(&env, &scripted));

    // A bound certificate is refused before anything is asked; --force
    // unbinds and removes without asking, as it always did.
    let run = on_terminal(&env.command(&["remove", &init]), "[y/N]", "y");
    assert_eq!(run.code, Some(2), "{}", run.screen);
    assert!(
        !run.screen.contains("[y/N]") && run.screen.contains("is in use"),
        "{}",
        run.screen
    );
    let run = on_terminal(&env.command(&["remove", &init, "--force"]), "[y/N]", "n");
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert!(!listed(&env, &init));

    // A pending request holds a key too.
    let id = env
        .run(&[
            "request",
            "--name",
            "d.contoso.com",
            "--out",
            &env.path("d.csr").display().to_string(),
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    let run = on_terminal(&env.command(&["remove", &id]), "[y/N]", "n");
    assert_eq!(run.code, Some(2), "{}", run.screen);
    assert!(
        run.screen.contains(&format!("Cancel pending request {id}")),
        "{}",
        run.screen
    );
    assert!(env.run(&["show", &id]).code == 0);

    // Nothing to lose, nothing asked: a certificate stored without a key.
    let source = env.new_self_signed(&["--name", "e.contoso.com"]);
    let pem = env.write("e.pem", env.run(&["show", &source, "--pem"]).ok().stdout);
    env.run(&["remove", &source, "--yes"]).ok();
    env.run(&["import", &pem.display().to_string()]).ok();
    assert_eq!(env.show(&source)["has_private_key"], false);
    let run = on_terminal(&env.command(&["remove", &source]), "[y/N]", "n");
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert!(!run.screen.contains("[y/N]"), "{}", run.screen);
    assert!(!listed(&env, &source));
}
