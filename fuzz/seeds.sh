#!/usr/bin/env bash
# Writes the seed inputs of every fuzz target into corpus/<target>/seed-*:
# a small PKI made with the OpenSSL CLI (the files CAs and other servers
# really send), protocol dialogues as clients and servers speak them, and
# the project's own example configurations. The seeds are committed; run
# this again only to refresh them. libFuzzer adds what it finds beside them
# (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus="$root/corpus"

seed() { # seed TARGET NAME < data
    mkdir -p "$corpus/$1"
    cat > "$corpus/$1/seed-$2"
}

cd "$work"
days=3650
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
    -subj "/CN=Fuzz Root" -days $days -out root.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key \
    -subj "/CN=Fuzz Intermediate" -out int.csr 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > int.ext
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -days $days -extfile int.ext -out int.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
    -subj "/CN=mail.example.com" -addext "subjectAltName=DNS:mail.example.com,DNS:*.example.com,IP:127.0.0.1" \
    -out leaf.csr 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:mail.example.com,DNS:*.example.com,IP:127.0.0.1\nauthorityKeyIdentifier=keyid\nauthorityInfoAccess=caIssuers;URI:http://ca.example.com/int.cer\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -days 200 -extfile leaf.ext -out leaf.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -subj "/CN=rsa.example.com/O=Fuzz" \
    -addext "subjectAltName=DNS:rsa.example.com" -days 30 -out rsa.pem 2>/dev/null
for c in root int leaf rsa; do openssl x509 -in $c.pem -outform DER -out $c.der; done
cat leaf.pem int.pem root.pem > bundle.pem
openssl crl2pkcs7 -nocrl -certfile bundle.pem -outform DER -out chain.p7b
openssl crl2pkcs7 -nocrl -certfile bundle.pem -out chain.p7b.pem

# certificate files
seed cert_files leaf.pem < leaf.pem
seed cert_files bundle.pem < bundle.pem
seed cert_files leaf.der < leaf.der
seed cert_files rsa.pem < rsa.pem
seed cert_files chain.p7b.pem < chain.p7b.pem
seed cert_files chain.p7b < chain.p7b
# PKCS#7, and a BER form of it: indefinite lengths around the SignedData.
seed pkcs7 chain.p7b < chain.p7b
python3 - chain.p7b > chain-ber.p7b <<'PY'
import sys
der = open(sys.argv[1], 'rb').read()
def header(data):
    first = data[1]
    if first < 0x80: return 2, first
    n = first & 0x7f
    return 2 + n, int.from_bytes(data[2:2 + n], 'big')
h, n = header(der)
body = der[h:h + n]
sys.stdout.buffer.write(bytes([der[0], 0x80]) + body + b'\0\0')
PY
seed pkcs7 chain-ber.p7b < chain-ber.p7b
# PKCS#12, password "fuzz": modern, legacy, without MAC, and in clear.
p12() { openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile int.pem -passout pass:fuzz "$@" 2>/dev/null; }
p12 -iter 1 -out modern.pfx
p12 -legacy -iter 1 -out legacy.pfx
p12 -iter 1 -nomac -out nomac.pfx
p12 -keypbe NONE -certpbe NONE -nomac -out plain.pfx
for f in modern legacy nomac plain; do seed pkcs12 $f.pfx < $f.pfx; done
seed ber_to_der chain-ber.p7b < chain-ber.p7b
seed ber_to_der plain.pfx < plain.pfx
seed ber_to_der leaf.der < leaf.der
# Requests: PEM, DER, and the label Windows writes.
seed csr leaf.csr < leaf.csr
openssl req -in leaf.csr -outform DER | seed csr leaf.csr.der
sed 's/CERTIFICATE REQUEST/NEW CERTIFICATE REQUEST/' leaf.csr | seed csr windows.csr
openssl req -new -key rsa.key -subj "/CN=rsa.example.com" -addext "subjectAltName=DNS:rsa.example.com" | seed csr rsa.csr
# Private keys: PKCS#8, SEC1, PKCS#1, DER.
seed private_key ec-pkcs8.pem < leaf.key
openssl ec -in leaf.key 2>/dev/null | seed private_key ec-sec1.pem
openssl rsa -in rsa.key -traditional 2>/dev/null | seed private_key rsa-pkcs1.pem
openssl pkey -in leaf.key -outform DER | seed private_key ec.der
# Encrypted PKCS#8, password "fuzz": PBKDF2 (few iterations) and scrypt (small N).
openssl pkcs8 -topk8 -in leaf.key -v2 aes-256-cbc -iter 1 -passout pass:fuzz | seed encrypted_key pbkdf2.pem
openssl pkcs8 -topk8 -in leaf.key -scrypt -scrypt_N 16 -scrypt_r 8 -scrypt_p 1 -passout pass:fuzz | seed encrypted_key scrypt.pem
openssl pkcs8 -topk8 -in leaf.key -v2 aes-128-cbc -iter 1 -passout pass:fuzz -outform DER | seed encrypted_key pbkdf2.der
# The validation core: chains as servers send them (DER one after the
# other), the first byte choosing trust, name and time.
{ printf '\x25'; cat leaf.der int.der root.der; } | seed validate_chain served-full
{ printf '\x05'; cat leaf.der int.der; } | seed validate_chain served-no-root
{ printf '\x24'; cat leaf.der; } | seed validate_chain leaf-alone
{ printf '\x27'; cat rsa.der; } | seed validate_chain self-signed
{ printf '\x25'; cat int.der leaf.der root.der; } | seed validate_chain out-of-order

# Chains of the x509-limbo suite that break one rule each, trusting their
# root (selector 0x21: no name, a time inside their dates).
python3 - "$root/../crates/check/tests/data/x509-limbo/limbo.json" "$corpus/validate_chain" <<'PY'
import base64, json, re, sys
cases = ['rfc5280::duplicate-extensions', 'rfc5280::aki::critical-aki', 'rfc5280::ca-empty-subject',
         'rfc5280::nc::permitted-dns-mismatch', 'pathlen::intermediate-violates-pathlen-0',
         'rfc5280::validity::expired-root', 'webpki::v1-cert', 'webpki::explicit-curve',
         'webpki::forbidden-weak-rsa-in-leaf', 'rfc5280::ica-ku-keycertsign', 'cve::cve-2024-0567',
         'webpki::san::wildcard-embedded-leftmost-san']
def ders(pems):
    return [base64.b64decode(''.join(m.group(1).split())) for p in pems
            for m in re.finditer(r'-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----', p, re.S)]
for case in json.load(open(sys.argv[1]))['testcases']:
    if case['id'] in cases:
        chain = ders([case['peer_certificate']]) + ders(case['untrusted_intermediates']) + ders(case['trusted_certs'])
        name = 'limbo-' + case['id'].replace('::', '-')
        open(f"{sys.argv[2]}/seed-{name}", 'wb').write(bytes([0x21]) + b''.join(chain))
PY

# The dialects, server side: a selector byte (mode and limits), then what
# clients send.
printf '\xffa1 CAPABILITY\r\na2 NOOP\r\na3 STARTTLS\r\na4 LOGIN user pass\r\n' | seed server_imap starttls
printf '\xfea LOGIN x y\r\nb AUTHENTICATE PLAIN\r\nc LOGOUT\r\n' | seed server_imap login
printf '\xffCAPA\r\nUSER x\r\nSTLS\r\nPASS y\r\n' | seed server_pop3 stls
printf '\xfeNOOP\r\nQUIT\r\n' | seed server_pop3 quit
printf '\xffEHLO client.example.com\r\nSTARTTLS\r\nAUTH PLAIN AHgAeQ==\r\n' | seed server_smtp starttls
printf '\xfeEHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n' | seed server_smtp plaintext
printf '\xfeHELO x\r\nRSET\r\nNOOP\r\nQUIT\r\n' | seed server_smtp helo
# The dialects, client side: what servers (Dovecot, Postfix, others) answer.
printf '\xff* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot ready.\r\na1 OK Begin TLS negotiation now.\r\n' | seed client_imap dovecot
printf '\xff* OK IMAP4rev1 ready\r\n* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\na1 OK done\r\na2 OK Begin TLS\r\n' | seed client_imap capability
printf '\xff* PREAUTH logged in\r\n' | seed client_imap preauth
printf '\xff+OK Dovecot ready.\r\n+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nSTLS\r\nSASL PLAIN\r\n.\r\n+OK Begin TLS negotiation\r\n' | seed client_pop3 dovecot
printf '\xff+OK ready\r\n-ERR unknown command\r\n-ERR no\r\n' | seed client_pop3 no-capa
printf '\xff220 mx.example.com ESMTP Postfix\r\n250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n220 2.0.0 Ready to start TLS\r\n' | seed client_smtp postfix
printf '\xff220-mx.example.com ESMTP\r\n220 welcome\r\n502 EHLO not supported\r\n250 mx.example.com\r\n454 4.7.0 TLS not available\r\n' | seed client_smtp helo-fallback
printf '\x40a line\r\nanother\nlast\r' | seed line_reader lines

# Configuration and plans: the project's own examples.
for f in "$root"/../crates/plan/tests/cases/{idn,per-site,legacy-2010,wildcard-prefer,edge-server}.toml; do
    seed plan_input "$(basename "$f")" < "$f"
done
cat > serve.toml <<'TOML'
[store]
path = "/var/lib/mailcert/store.db"

[limits]
pre_tls_timeout = 30
max_line = 4096

[[listener]]
name = "imaps"
protocol = "imap"
tls = "implicit"
bind = "0.0.0.0:993"
backend = "127.0.0.1:10143"
proxy_protocol = true
hostname = "mail.example.com"
certificate = "9F1C"

[[listener]]
name = "submission"
protocol = "smtp"
tls = "starttls-required"
bind = "0.0.0.0:587"
backend = "127.0.0.1:10587"

[[listener]]
name = "https"
protocol = "https"
tls = "implicit"
bind = "[::]:443"
backend = "127.0.0.1:8080"
alpn = ["h2", "http/1.1"]

[[redirect]]
name = "http"
bind = "0.0.0.0:80"
https_port = 443
TOML
seed front_config serve.toml < serve.toml
printf 'listener = [ { name = "imaps", protocol = "imap", tls = "implicit", bind = "127.0.0.1:993", backend = "127.0.0.1:143" } ]\n' | seed front_config inline.toml
{ printf '\x40\x00'; cat serve.toml; } | seed toml_locate serve.toml
{ printf '\x10\x00'; printf '[organization]\naccepted_domains = ["a.com",\n[namespaces]\n'; } | seed toml_locate open-array.toml

printf '\x00GET /.well-known/acme-challenge/token HTTP/1.1\r\nHost: mail.example.com\r\n\r\n' | seed http_head challenge
printf '\x01GET /owa/?a=b HTTP/1.1\r\nHost: mail.example.com:80\r\nUser-Agent: x\r\n\r\n' | seed http_head redirect
printf '\x02POST /EWS/Exchange.asmx HTTP/1.0\n\n' | seed http_head post
head -c 64 /dev/urandom | seed proxy_header random
printf '*.example.com\nmail.example.com' | seed names wildcard
printf 'B\xc3\xbccher.example.\nxn--bcher-kva.example' | seed names idn
printf 'imaps://[2001:db8::1]:993 smtp://mail.example.com' | seed names endpoints
# The relays after the dialogue: a selector byte (phase, line limit),
# then pieces, each a header byte (length * 2, + 1 when the backend sends
# it) and its bytes.
relay_seed() { # relay_seed TARGET NAME SELECTOR (c|b TEXT)...
    local target=$1 name=$2 selector=$3
    shift 3
    python3 - "$selector" "$@" <<'PY' | seed "$target" "$name"
import sys
out = bytearray([int(sys.argv[1])])
args = sys.argv[2:]
for side, text in zip(args[::2], args[1::2]):
    data = text.encode().decode('unicode_escape').encode('latin-1')
    while data:
        piece, data = data[:127], data[127:]
        out.append(len(piece) * 2 + (1 if side == 'b' else 0))
        out += piece
sys.stdout.buffer.write(bytes(out))
PY
}
relay_seed relay_smtp tls 128 c 'EHLO me\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n' \
    b '250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n250 ok\r\n250 ok\r\n354 go\r\n' \
    c 'Subject: x\r\n\r\nSTARTTLS\r\n.\r\nSTARTTLS\r\nQUIT\r\n' b '250 queued\r\n221 bye\r\n'
relay_seed relay_smtp plaintext 129 c 'EHLO me\r\nAUTH PLAIN AHgAeQ==\r\nBDAT 5 LAST\r\nhello' b '250 mx\r\n250 ok\r\n'
relay_seed relay_smtp sasl 128 c 'AUTH LOGIN\r\n' b '334 VXNlcm5hbWU6\r\n' c 'dXNlcg==\r\n' b '334 UGFzc3dvcmQ6\r\n' c 'cGFzcw==\r\n' b '235 ok\r\n'
relay_seed relay_imap literal 128 c 'a1 CAPABILITY\r\na2 APPEND INBOX {5}\r\n' \
    b '* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n+ go\r\n' c 'hello\r\na3 STARTTLS\r\na4 FETCH 1 BODY[]\r\n' \
    b 'a2 OK appended\r\n* 1 FETCH (BODY[] {3}\r\nabc)\r\na4 OK\r\n'
relay_seed relay_imap idle 128 c 'a1 IDLE\r\n' b '+ idling\r\n* 3 EXISTS\r\n' c 'DONE\r\na2 AUTHENTICATE PLAIN\r\n' b 'a1 OK\r\n+ \r\n' c 'AHgAeQ==\r\n' b 'a2 OK [CAPABILITY IMAP4rev1 STARTTLS] in\r\n'
relay_seed relay_pop3 capa 128 c 'CAPA\r\nSTLS\r\nLIST\r\nRETR 1\r\n' b '+OK\r\nSTLS\r\nUSER\r\n.\r\n+OK 1 msg\r\n1 10\r\n.\r\n+OK\r\nline\r\n..dot\r\n.\r\n'
relay_seed relay_pop3 auth 128 c 'AUTH PLAIN\r\n' b '+ \r\n' c 'AHgAeQ==\r\nSTLS\r\n' b '+OK in\r\n'
# Store locations; after a newline, a password the target puts in.
printf 'postgres://mailcert@db.example.test:5432/mailcert?sslmode=verify-full&connect_timeout=5\nhunter22secret' | seed store_url url
printf '/var/lib/mailcert/store.db' | seed store_url path
printf 'postgresql://%%2Fvar%%2Frun%%2Fpostgresql/mailcert?user=m&passfile=/root/.pgpass\nxx' | seed store_url socket
echo "seeds written under $corpus"
