# Mail clients nobody here wrote: Python's imaplib, poplib and smtplib with
# ssl.create_default_context(cafile=...), verifying chain and host name,
# asking for the certificate's name.
arg = sys.argv[5] if len(sys.argv) > 5 else ""
USER, PASSWORD = "test", "secret"


def imap_session(m):
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX")
    print("messages", data[0].decode())
    typ, data = m.fetch("1", "(BODY[HEADER.FIELDS (SUBJECT)])")
    print(data[0][1].decode().strip())
    m.logout()


def pop_session(p):
    p.user(USER)
    p.pass_(PASSWORD)
    count, size = p.stat()
    print("messages", count)
    for line in p.retr(1)[1]:
        if line.startswith(b"Subject:"):
            print(line.decode())
    p.quit()


def send(s, subject):
    s.sendmail("sender@example.org", ["test@example.test"], "From: sender@example.org\r\nTo: test@example.test\r\nSubject: %s\r\n\r\nhello\r\n" % subject)
    print("sent", subject)
    s.quit()


if mode == "imaps":
    imap_session(IMAPS(name, port, ssl_context=ctx))
elif mode == "imap-starttls":
    m = IMAP(name, port)
    print("pre-tls", " ".join(sorted(m.capabilities)))
    m.starttls(ssl_context=ctx)
    imap_session(m)
elif mode == "pop3s":
    pop_session(POPS(name, port, context=ctx))
elif mode == "pop3-stls":
    p = POP(name, port)
    print("pre-tls", " ".join(sorted(p.capa())))
    p.stls(context=ctx)
    pop_session(p)
elif mode == "smtps":
    send(SMTPS(name, port, context=ctx), arg)
elif mode == "smtp-starttls":
    s = SMTP(name, port)
    s.ehlo("client.example.org")
    print("pre-tls", " ".join(sorted(s.esmtp_features)))
    s.starttls(context=ctx)
    s.ehlo("client.example.org")
    send(s, arg)
elif mode == "ehlo-in-tls":
    # arg: "starttls" (on a STARTTLS listener) or "implicit"
    if arg == "starttls":
        s = SMTP(name, port)
        s.starttls(context=ctx)
    else:
        s = SMTPS(name, port, context=ctx)
    s.ehlo("client.example.org")
    print("in-tls", " ".join(sorted(s.esmtp_features)))
    print("noop", s.noop())
    s.quit()
elif mode == "ehlo":
    s = SMTP(name, port)
    s.ehlo("client.example.org")
    print("pre-tls", " ".join(sorted(s.esmtp_features)))
    s.quit()
elif mode == "smtp-plain":
    s = SMTP(name, port)
    s.ehlo("client.example.org")
    try:
        send(s, arg)
    except smtplib.SMTPException as e:
        print("refused", e)
elif mode == "cert":
    # Which certificate does a handshake without resumption get? (SHA-1, upper-case hex)
    import hashlib
    with ctx.wrap_socket(conn(), server_hostname=name) as t:
        print(hashlib.sha1(t.getpeercert(True)).hexdigest().upper())
else:
    raise SystemExit("unknown mode " + mode)
