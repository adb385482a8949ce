# Helpers for bench/front.sh (Debian's /usr/bin/python3, standard library only).
#
#   helpers.py backend PORT SIZE      IMAP-ish backend: greets "* OK", answers
#                                     "x FETCH" with a SIZE-byte literal, echoes
#                                     nothing else, keeps idle connections open
#   helpers.py starttls PORT SECONDS  IMAP STARTTLS sessions (no resumption)
#                                     until SECONDS pass; prints the count
#   helpers.py fetch PORT SIZE ROUNDS implicit-TLS IMAP: FETCH a SIZE-byte
#                                     literal ROUNDS times; prints MB/s
#   helpers.py resume PORT SECONDS    implicit-TLS IMAP sessions resuming the
#                                     previous session (TLS 1.3 tickets); prints
#                                     the count of resumed handshakes
#   helpers.py idle PORT COUNT        opens COUNT idle TLS connections, prints
#                                     "ready N", holds them until stdin closes
#   helpers.py propagation PORT ROUNDS MAILCERT THUMB_A THUMB_B
#                                     ROUNDS times: `mailcert enable` the other
#                                     of A and B for https (the store from the
#                                     environment), then handshake with PORT
#                                     (fresh sessions) until it serves it;
#                                     prints the median, p99 and max in ms of
#                                     "enable started" -> "client saw it", and
#                                     the median of the enable command alone
import asyncio, hashlib, socket, ssl, subprocess, sys, time


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def backend(port, size):
    payload = b"* 1 FETCH (BODY[] {%d}\r\n" % size + b"x" * size + b")\r\n"

    async def serve(reader, writer):
        try:
            writer.write(b"* OK bench backend ready\r\n")
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    break
                parts = line.split()
                if len(parts) >= 2 and parts[1].upper() == b"FETCH":
                    writer.write(payload + parts[0] + b" OK FETCH done\r\n")
                    await writer.drain()
                elif len(parts) >= 2 and parts[1].upper() == b"LOGOUT":
                    writer.write(b"* BYE\r\n" + parts[0] + b" OK\r\n")
                    await writer.drain()
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def readline(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def starttls(port, seconds):
    ctx = client_ctx()
    count, end = 0, time.time() + seconds
    while time.time() < end:
        with socket.create_connection(("127.0.0.1", port)) as s:
            readline(s)
            s.sendall(b"a STARTTLS\r\n")
            line = readline(s)
            if not line.startswith(b"a OK"):
                raise SystemExit("STARTTLS refused: %r" % line)
            t = ctx.wrap_socket(s, server_hostname="bench.example.test")
            t.close()
        count += 1
    print(count)


def resume(port, seconds):
    ctx = client_ctx()
    session, resumed, end = None, 0, time.time() + seconds
    while time.time() < end:
        with socket.create_connection(("127.0.0.1", port)) as s:
            t = ctx.wrap_socket(s, server_hostname="bench.example.test", session=session)
            readline(t)  # the greeting; the tickets arrive before it
            if t.session_reused:
                resumed += 1
            session = t.session
            t.close()
    print(resumed)


def fetch(port, size, rounds):
    ctx = client_ctx()
    with socket.create_connection(("127.0.0.1", port)) as s:
        t = ctx.wrap_socket(s, server_hostname="bench.example.test")
        f = t.makefile("rb", buffering=1 << 20)
        f.readline()
        start = time.time()
        total = 0
        for i in range(rounds):
            t.sendall(b"f%d FETCH 1 BODY[]\r\n" % i)
            head = f.readline()
            want = int(head[head.rindex(b"{") + 1:head.rindex(b"}")])
            got = 0
            while got < want:
                chunk = f.read(min(1 << 20, want - got))
                if not chunk:
                    raise SystemExit("connection closed during FETCH")
                got += len(chunk)
            total += got
            f.readline()
            f.readline()
        elapsed = time.time() - start
    print("%.1f" % (total / elapsed / 1e6))


def served_sha1(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_ctx().wrap_socket(raw, server_hostname="bench.example.test") as tls:
            return hashlib.sha1(tls.getpeercert(binary_form=True)).hexdigest().upper()


def percentile(values, p):
    # Nearest rank: with 50 samples p99 is the largest.
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def propagation(port, rounds, mailcert, a, b):
    seen, commands = [], []
    for i in range(rounds):
        target = a if i % 2 == 0 else b
        start = time.monotonic()
        subprocess.run([mailcert, "enable", target, "--services", "https"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        commands.append(time.monotonic() - start)
        while True:
            try:
                if served_sha1(port) == target:
                    break
            except OSError:
                pass
            if time.monotonic() - start > 60:
                sys.exit(f"round {i}: {target} not served after 60 s")
        seen.append(time.monotonic() - start)
    ms = lambda v: "%.0f" % (v * 1000)
    print(ms(percentile(seen, 50)), ms(percentile(seen, 99)), ms(max(seen)),
          ms(percentile(commands, 50)))


def idle(port, count):
    ctx = client_ctx()

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="bench.example.test")
        await reader.readline()
        return writer

    async def main():
        writers, batch = [], 200
        for i in range(0, count, batch):
            writers += await asyncio.gather(*(one() for _ in range(min(batch, count - i))))
        print("ready", len(writers), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for w in writers:
            w.close()

    asyncio.run(main())


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "backend":
        backend(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "starttls":
        starttls(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "resume":
        resume(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "fetch":
        fetch(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "propagation":
        propagation(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
    else:
        raise SystemExit("unknown command " + cmd)
