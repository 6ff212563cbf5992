#!/bin/sh
# Copied from the shared recipes (postfix-private.sh) so that a clean clone has it: the SMTP and
# milter agent tests start a private Postfix with it.
# Private Postfix 3.7 instance for integration tests (Debian 12, run as root).
# Usage: postfix-private.sh BASE_DIR [start|stop]
#   env: PF_SMTP_PORT (default 10025)  - "internet-facing" smtpd
#        PF_REINJECT_PORT (2525)       - reinjection smtpd (no content_filter, no milters)
#        PF_FILTER_PORT (2526)         - where the gateway's SMTP proxy listens
#        PF_MILTER (unset)             - e.g. inet:127.0.0.1:8891 or unix:/path/milter.sock
#        PF_CONTENT_FILTER (yes)       - "no" to deliver without the after-queue filter
#        PF_PROXY_PORT (unset)         - also a before-queue smtpd on this port whose
#                                        smtpd_proxy_filter is 127.0.0.1:PF_FILTER_PORT
# Mail for any address @example.test lands in BASE_DIR/mail/inbox/{new,cur}.
# Mail for NAME@local.test goes through local(8) + mailbox_command=$PF_MDA (if set).
set -eu
B=${1:?base dir}; ACTION=${2:-start}
SMTP_PORT=${PF_SMTP_PORT:-10025}; REINJ=${PF_REINJECT_PORT:-2525}; FILT=${PF_FILTER_PORT:-2526}
if [ "$ACTION" = stop ]; then postfix -c "$B/etc" stop || true; exit 0; fi
command -v postfix >/dev/null || {
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null; }
mkdir -p "$B/etc" "$B/spool" "$B/data" "$B/mail"
chown postfix "$B/data"; chown nobody:nogroup "$B/mail"
cat > "$B/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $B/spool
data_directory = $B/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-test
maillog_file = $B/postfix.log
maillog_file_prefixes = $B
myhostname = mx.test.local
mydomain = test.local
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination = local.test
alias_maps =
alias_database =
local_recipient_maps =
recipient_delimiter = +
mailbox_command = ${PF_MDA:-}
smtputf8_enable = yes
virtual_mailbox_domains = example.test
virtual_mailbox_base = $B/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
milter_default_action = tempfail
milter_protocol = 6
EOF
if [ "${PF_CONTENT_FILTER:-yes}" = yes ]; then
  postconf -c "$B/etc" -e "content_filter = scan:[127.0.0.1]:$FILT" "receive_override_options = no_address_mappings"
fi
[ -n "${PF_MILTER:-}" ] && postconf -c "$B/etc" -e "smtpd_milters = $PF_MILTER"
cat > "$B/etc/master.cf" <<EOF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
127.0.0.1:$REINJ inet n - n - 10 smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_helo_restrictions=
  -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
scan      unix  -       -       n       -       10      smtp
  -o smtp_send_xforward_command=yes
  -o disable_mime_output_conversion=yes
  -o smtp_generic_maps=
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
# Before-queue variant (SMTPD_PROXY_README): the client hears the filter's own reply; the mail the
# filter relays to the reinjection port is not filtered again there.
if [ -n "${PF_PROXY_PORT:-}" ]; then cat >> "$B/etc/master.cf" <<EOF
127.0.0.1:$PF_PROXY_PORT inet n - n - 20 smtpd
  -o smtpd_proxy_filter=127.0.0.1:$FILT
  -o smtpd_proxy_options=speed_adjust
  -o content_filter=
EOF
fi
# A config warning logged by every process can deadlock postlogd (seen here): fail fast instead.
if postconf -c "$B/etc" -n 2>&1 >/dev/null | grep -q warning; then echo "main.cf has warnings" >&2; exit 1; fi
postfix -c "$B/etc" check
postfix -c "$B/etc" start
for i in 1 2 3 4 5 6 7 8 9 10; do ss -ltn | grep -q "127.0.0.1:$SMTP_PORT " && exit 0; sleep 0.3; done
echo "postfix did not start; see $B/postfix.log" >&2; exit 1
