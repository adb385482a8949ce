# Commands that must never reach the backend, sent by Python's own mail
# clients: AUTH before TLS on port 25, and a second STARTTLS/STLS inside
# TLS. Prints each answer as "name: code text" for the test to read.
PLAIN = base64.b64encode(b"\0test\0secret").decode()
MESSAGE = "From: a@example.org\r\nTo: test@example.test\r\nSubject: %s\r\n\r\nhello\r\n"


def said(what, reply):
    code, text = reply
    print("%s: %s %s" % (what, code, text.decode() if isinstance(text, bytes) else text))


if mode == "smtp-auth-plaintext":
    s = SMTP(name, port)
    s.ehlo("client.example.org")
    print("offered:", " ".join(sorted(s.esmtp_features)))
    said("auth first", s.docmd("AUTH", "PLAIN " + PLAIN))
    # A command that leaves the dialogue: the session goes on in plaintext.
    said("mail", s.docmd("MAIL", "FROM:<a@example.org>"))
    said("auth later", s.docmd("AUTH", "PLAIN " + PLAIN))
    said("auth login", s.docmd("AUTH", "LOGIN"))
    # Postfix splits commands on any whitespace: a tab is a separator too.
    said("auth tab", s.docmd("AUTH\tPLAIN", PLAIN))
    said("starttls later", s.docmd("STARTTLS"))
    said("rset", s.docmd("RSET"))
    s.ehlo("client.example.org")
    print("offered again:", " ".join(sorted(s.esmtp_features)))
    s.sendmail("a@example.org", ["test@example.test"], MESSAGE % "plaintext after refusals")
    print("sent")
    s.quit()
elif mode == "smtp-starttls-twice":
    s = SMTP(name, port)
    s.ehlo("client.example.org")
    s.starttls(context=ctx)
    s.ehlo("client.example.org")
    said("starttls again", s.docmd("STARTTLS"))
    said("starttls tab", s.docmd("STARTTLS\t"))
    s.sendmail("a@example.org", ["test@example.test"], MESSAGE % "after a second starttls")
    print("sent")
    s.quit()
elif mode == "imap-starttls-twice":
    m = IMAPS(name, port, ssl_context=ctx) if sys.argv[5] == "implicit" else IMAP(name, port)
    if sys.argv[5] != "implicit":
        m.starttls(ssl_context=ctx)
    try:
        typ, data = m._simple_command("STARTTLS")
        print("starttls again:", typ, data)
    except imaplib.IMAP4.error as e:
        print("starttls again: BAD", e)
    m.login("test", "secret")
    typ, data = m.select("INBOX")
    print("select:", typ)
    m.logout()
elif mode == "pop3-stls-twice":
    p = POPS(name, port, context=ctx)
    try:
        print("stls again:", p._shortcmd("STLS").decode())
    except poplib.error_proto as e:
        print("stls again:", e.args[0].decode())
    try:
        print("stls tab:", p._shortcmd("STLS\t").decode())
    except poplib.error_proto as e:
        print("stls tab:", e.args[0].decode())
    p.user("test")
    p.pass_("secret")
    print("stat:", p.stat())
    p.quit()
else:
    raise SystemExit("unknown mode " + mode)
