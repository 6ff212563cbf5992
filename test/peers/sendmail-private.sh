#!/bin/sh
# Private Sendmail 8.17 daemon for the milter tests, beside the installed Postfix. Adapted from
# the shared recipe (../shared/recipes/sendmail-private.sh, notes/integration.md §0 R3).
# Sendmail is never installed (that would remove Postfix): test/peers/install-sendmail.sh unpacks
# its .debs into SENDMAIL_ROOT once (CI does it in .ci/run). This script never downloads: tests
# do not touch the network, so a missing root fails loudly.
# Usage: sendmail-private.sh BASE_DIR [start|stop]
#   env: SENDMAIL_ROOT (/var/cache/bulwark-peers/sendmail) the unpacked sendmail-bin + sendmail-cf
#        SM_PORT (10026)        listen port on 127.0.0.1
#        SM_MILTER (inet:8891@127.0.0.1)  the milter, Sendmail syntax PORT@HOST or unix:/path;
#                               F=T: the client gets 4xx when the milter is unavailable
#        SM_RELAY_PORT (2525)   every accepted mail is relayed to 127.0.0.1:SM_RELAY_PORT
# Writes only below BASE_DIR (config, queue, pid file, daemon.out).
set -eu
B=${1:?usage: sendmail-private.sh BASE_DIR [start|stop]}; ACTION=${2:-start}
ROOT=${SENDMAIL_ROOT:-/var/cache/bulwark-peers/sendmail}
PORT=${SM_PORT:-10026}

if [ "$ACTION" = stop ]; then
  [ -f "$B/daemon.pid" ] || exit 0
  PID=$(cat "$B/daemon.pid")
  # SIGTERM: the sendmail daemon ends its connection children too, then exits
  kill "$PID" 2>/dev/null || exit 0
  for i in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || { rm -f "$B/daemon.pid"; exit 0; }; sleep 0.1; done
  kill -9 "$PID" 2>/dev/null || true; rm -f "$B/daemon.pid"; exit 0
fi

SM=$ROOT/usr/libexec/sendmail/sendmail
CF=$ROOT/usr/share/sendmail/cf
if [ ! -x "$SM" ] || [ ! -f "$CF/m4/cf.m4" ]; then
  echo "sendmail-private.sh: no unpacked Sendmail in $ROOT; run: test/peers/install-sendmail.sh $ROOT" >&2
  exit 1
fi
command -v m4 >/dev/null || { echo "sendmail-private.sh: m4 is missing (apt-get install m4)" >&2; exit 1; }
command -v unshare >/dev/null || { echo "sendmail-private.sh: unshare is missing (util-linux)" >&2; exit 1; }

mkdir -p "$B/etc" "$B/mqueue"; chmod 700 "$B/mqueue"
cat > "$B/etc/test.mc" <<EOF
divert(0)dnl
OSTYPE(\`linux')dnl
define(\`confSERVICE_SWITCH_FILE', \`$B/etc/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`QUEUE_DIR', \`$B/mqueue')dnl
define(\`STATUS_FILE', \`$B/statistics')dnl
define(\`confPID_FILE', \`$B/sendmail.pid')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`confCW_FILE', \`-o $B/etc/local-host-names')dnl
define(\`confHELP_FILE', \`')dnl
dnl a unix milter socket below /tmp (sticky, world-writable) is refused as "unsafe" without it
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confDOMAIN_NAME', \`sm.test.local')dnl
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h ${SM_RELAY_PORT:-2525}')dnl
define(\`confDELIVERY_MODE', \`background')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA-v4, Port=$PORT, Addr=127.0.0.1')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`promiscuous_relay')dnl
INPUT_MAIL_FILTER(\`bulwark', \`S=${SM_MILTER:-inet:8891@127.0.0.1}, F=T, T=C:10s;S:30s;R:30s;E:5m')dnl
MAILER(\`smtp')dnl
EOF
# m4 warns about promiscuous_relay on stderr (wanted here): keep its words for a failure only
m4 -D_CF_DIR_="$CF/" "$CF/m4/cf.m4" "$B/etc/test.mc" > "$B/etc/sendmail.cf" 2> "$B/etc/m4.err" || { cat "$B/etc/m4.err" >&2; exit 1; }
printf 'hosts\tfiles\naliases\tfiles\n' > "$B/etc/service.switch"; : > "$B/etc/local-host-names"
# Without a resolvable FQDN for the host name sendmail sleeps 60 s at start ("unable to qualify
# my own domain name"): give it one through a private /etc/hosts in its own mount namespace.
printf '127.0.0.1\tlocalhost\n127.0.0.1\t%s.sm.test.local %s\n' "$(hostname)" "$(hostname)" > "$B/etc/hosts"
# libwrap.so.0 comes from the unpacked tree (see install-sendmail.sh)
LIBS=$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu
# unshare and sh exec: the pid recorded is sendmail's own
LD_LIBRARY_PATH=$LIBS unshare --mount sh -c "mount --bind '$B/etc/hosts' /etc/hosts && exec '$SM' -C '$B/etc/sendmail.cf' -bD" > "$B/daemon.out" 2>&1 &
echo $! > "$B/daemon.pid"
for i in $(seq 1 50); do
  ss -ltn | grep -q "127.0.0.1:$PORT " && exit 0
  kill -0 "$(cat "$B/daemon.pid")" 2>/dev/null || break
  sleep 0.2
done
echo "sendmail did not start on 127.0.0.1:$PORT; its output:" >&2; cat "$B/daemon.out" >&2; exit 1
