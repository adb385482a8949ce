//! The pages in Debian's Chromium, headless, through chromedriver: the
//! administrator's flow from login to logout, and markup in a subject or
//! a file name shown as text. Screenshots of each page are taken; with
//! MAILCERT_UPDATE_SCREENSHOTS=1 they replace the ones in docs/console/
//! (as snapshot tools update their snapshots only when asked).

use std::path::PathBuf;

use mailcert_testkit::{Browser, BrowserOptions, ENTER, TAB};
use serde_json::json;

use super::support::{Console, HOST, PASSWORD, USER};
use mailcert_testkit::openssl;

/// Base64 SHA-256 of the public key of a PEM certificate, as Chromium's
/// --ignore-certificate-errors-spki-list takes it.
fn spki_hash(console: &Console) -> String {
    let dir = console.env.dir();
    let ca = console.curl.ca_file.to_str().unwrap().to_string();
    openssl(
        dir,
        &["x509", "-in", &ca, "-pubkey", "-noout", "-out", "pub.pem"],
    );
    openssl(
        dir,
        &[
            "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
        ],
    );
    openssl(
        dir,
        &["dgst", "-sha256", "-binary", "-out", "pub.sha", "pub.der"],
    );
    openssl(dir, &["base64", "-A", "-in", "pub.sha"])
        .trim()
        .to_string()
}

fn open_browser(console: &Console, width: u32) -> Browser {
    Browser::start(&BrowserOptions {
        trusted_spki: vec![spki_hash(console)],
        hosts: vec![HOST.to_string()],
        width,
        height: 900,
    })
}

/// Where screenshots go: docs/console/ when asked to update them, else
/// the test's own directory.
struct Shots {
    dir: PathBuf,
}

impl Shots {
    fn new(console: &Console) -> Shots {
        let update = std::env::var_os("MAILCERT_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1");
        let dir = if update {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console")
        } else {
            console.env.path("screenshots")
        };
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir }
    }

    fn take(&self, browser: &Browser, name: &str) {
        browser.save_screenshot(&self.dir.join(format!("{name}.png")));
    }
}

#[test]
fn an_administrator_makes_assigns_exports_a_certificate_and_logs_out() {
    let console = Console::start("");
    let browser = open_browser(&console, 1280);
    let shots = Shots::new(&console);
    let base = console.curl.base();

    // Log in with the keyboard only: type, Tab, type, Enter.
    browser.goto(&format!("{base}/"));
    browser.find("#login-form");
    shots.take(&browser, "login");
    browser.send_keys("#login-user", &format!("{USER}{TAB}"));
    browser.wait_for(
        "Tab to move to the password",
        "return document.activeElement && document.activeElement.id === 'login-password'",
    );
    browser.send_keys("#login-password", &format!("{PASSWORD}{ENTER}"));
    browser.find("#certificates");

    // The wizard: names suggested from a plan, the planner's findings
    // shown before anything is made.
    browser.click("nav a[href='#/new']");
    browser.send_keys(
        "#plan-text",
        "[organization]\naccepted_domains = [\"example.test\"]\nissuer = \"public\"\n\n[namespaces]\nclient_access = [\"mail.example.test\"]\n\n[[server]]\nname = \"MX1\"\nfqdn = \"mx1.example.local\"\ninternet_facing = true\n\n[policy]\ninclude_server_fqdns = true\n",
    );
    browser.click("#plan-suggest");
    browser.find("#plan-findings .findings");
    let findings = browser.text("#plan-findings");
    assert!(findings.contains("internal-name"), "{findings}");
    shots.take(&browser, "wizard");
    // This one is for IMAP and SMTP.
    browser.clear("#new-names");
    browser.send_keys("#new-names", "imap.example.test\nsmtp.example.test");
    browser.click("#new-create");
    browser.find("#details");
    let thumb = browser.url().rsplit('/').next().unwrap().to_string();
    assert_eq!(thumb.len(), 40, "{}", browser.url());
    shots.take(&browser, "details");

    // Assign IMAP and SMTP: the pre-flight first, then save.
    browser.click("#svc-imap");
    browser.click("#svc-smtp");
    browser.click("#check-services");
    browser.find("#preflight p, #preflight ul");
    browser.wait_for(
        "Save to be enabled by the pre-flight",
        "return !document.getElementById('save-services').disabled",
    );
    shots.take(&browser, "assign");
    browser.click("#save-services");
    browser.wait_for(
        "the services to be saved",
        "return document.querySelector('#details') && /imap, smtp/.test(document.querySelector('#details').innerText)",
    );

    // The list shows it with its services.
    browser.click("nav a[href='#/']");
    let row = format!("#certificates tr[data-thumbprint='{thumb}'] .services");
    browser.find(&row);
    assert_eq!(browser.text(&row), "imap, smtp");
    shots.take(&browser, "list");
    assert_eq!(
        console.env.show(&thumb)["services"],
        json!(["imap", "smtp"])
    );

    // Export it as a PFX.
    browser.click(&format!(
        "#certificates tr[data-thumbprint='{thumb}'] a.subject"
    ));
    browser.send_keys("#export-password", "export-password-1");
    browser.send_keys("#export-password-again", "export-password-1");
    browser.clear("#export-name");
    browser.send_keys("#export-name", "imap.pfx");
    browser.click("#export button[type=submit]");
    browser.wait_for(
        "the export to be reported",
        "return /Exported imap.pfx/.test(document.getElementById('status').innerText)",
    );
    browser.execute(
        "document.getElementById('export').scrollIntoView()",
        json!([]),
    );
    shots.take(&browser, "export");
    let log = console.env.run(&["log", "--json"]).ok().stdout;
    assert!(log.contains("the console download 'imap.pfx'"), "{log}");

    // The audit log page shows who did what.
    browser.click("nav a[href='#/audit']");
    browser.find("#audit");
    assert!(browser
        .text("#audit")
        .contains("alice (console from 127.0.0.1)"));
    shots.take(&browser, "audit");

    // Readable at 400 px: the list becomes cards, nothing scrolls sideways.
    browser.set_size(400, 900);
    browser.click("nav a[href='#/']");
    browser.find("#certificates");
    browser.wait_for(
        "the page to fit 400 px",
        "return document.documentElement.scrollWidth <= window.innerWidth",
    );
    shots.take(&browser, "list-400px");
    browser.set_size(1280, 900);

    // Log out: back to the login form, and the session is gone.
    browser.click("#logout");
    browser.find("#login-form");
    shots.take(&browser, "logout");
    browser.goto(&format!("{base}/#/audit"));
    browser.find("#login-form");
    let users = console
        .env
        .run(&["console", "user", "list", "--json"])
        .ok()
        .json();
    assert_eq!(users[0]["sessions"], 0, "{users}");
}

#[test]
fn markup_in_a_subject_or_a_file_name_is_shown_as_text() {
    let console = Console::start("");
    let dir = console.env.dir();
    let subject = "<img src=x onerror=document.title='owned'>";
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
            "-days",
            "30",
            "-subj",
            &format!("/CN={subject}"),
            "-addext",
            "subjectAltName=DNS:html.example.test",
        ],
    );
    // A file name cannot hold "/", so the markup stays unclosed.
    let file_name = "<b onmouseover=alert(1)>bold.pem";
    let mut pem = std::fs::read(dir.join("c.pem")).unwrap();
    pem.extend(std::fs::read(dir.join("k.pem")).unwrap());
    let upload = console.env.write(file_name, pem);

    let browser = open_browser(&console, 1280);
    browser.goto(&format!("{}/", console.curl.base()));
    browser.send_keys("#login-user", USER);
    browser.send_keys("#login-password", &format!("{PASSWORD}{ENTER}"));
    browser.find("#certificates");
    browser.click("nav a[href='#/import']");
    browser.send_keys("#import-file", upload.to_str().unwrap());
    browser.click("#import-form button[type=submit]");
    browser.find("#details");
    let status = browser.text("#status");
    assert!(
        status.contains(file_name),
        "the file name is not shown as text: {status}"
    );

    browser.click("nav a[href='#/']");
    browser.find("#certificates");
    let shown = browser.execute(
        "return [...document.querySelectorAll('#certificates a.subject')].map(a => a.textContent)",
        json!([]),
    );
    assert!(
        shown
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains(subject)),
        "{shown}"
    );
    let injected = browser.execute(
        "return document.querySelectorAll('main img, main b, #status b, #status img').length",
        json!([]),
    );
    assert_eq!(injected, json!(0), "markup from the store became elements");
    let title = browser.execute("return document.title", json!([]));
    assert_ne!(title, json!("owned"));
}
