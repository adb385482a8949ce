#!/usr/bin/env bash
# Installs the real peers the tests talk to (OpenSSL, Python, curl, Dovecot,
# Postfix and its MTA-STS resolver, pebble, nginx, PostgreSQL, testssl, Knot DNS,
# Unbound, Prometheus...) from Debian's packages.
# Does nothing when they are all present; needs root otherwise.
set -euo pipefail

needed=(openssl curl pgrep /usr/bin/python3 dovecot postfix pebble pebble-challtestsrv nginx testssl sslscan swaks faketime hyperfine /usr/bin/chromium /usr/bin/chromedriver knotd knotc kdig knsupdate nsupdate unbound unbound-control mta-sts-query prometheus promtool systemd-analyze)
missing=0
for tool in "${needed[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
    missing=1
  fi
done
[ -d /usr/lib/postgresql ] || missing=1
[ -f /usr/lib/nginx/modules/ngx_mail_module.so ] || missing=1
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing=1
[ "$missing" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-peers: missing test peers and not root; install as root: $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get install -y -qq --no-install-recommends \
  openssl ca-certificates curl python3 pebble dovecot-imapd dovecot-pop3d \
  postfix nginx libnginx-mod-mail libnginx-mod-stream testssl.sh sslscan swaks \
  libnet-ssleay-perl faketime postgresql hyperfine procps \
  chromium chromium-driver knot knot-dnsutils bind9-dnsutils unbound \
  postfix-mta-sts-resolver prometheus systemd >/dev/null
