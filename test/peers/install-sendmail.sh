#!/bin/sh
# Unpacks Debian's Sendmail 8.17 (sendmail-bin, sendmail-cf) into DEST without installing it:
# `apt-get install sendmail` would remove Postfix (both provide mail-transport-agent).
# libwrap0 is unpacked beside it: sendmail links libwrap.so.0, which nothing else here installs
# (test/peers/sendmail-private.sh puts DEST's library directories on LD_LIBRARY_PATH).
# Usage: install-sendmail.sh DEST     (e.g. /var/cache/bulwark-peers/sendmail)
# Idempotent: does nothing when DEST/usr/libexec/sendmail/sendmail exists. Called by .ci/run; the
# tests themselves never download (sendmail-private.sh only reads DEST).
set -eu
DEST=${1:?usage: install-sendmail.sh DEST}
SM=$DEST/usr/libexec/sendmail/sendmail
if [ -x "$SM" ]; then exit 0; fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# apt-get download writes into the current directory; as root it drops to the _apt user, which
# must be able to write there
chmod 777 "$TMP"
(cd "$TMP" && apt-get download -q sendmail-bin sendmail-cf libwrap0)
rm -rf "$DEST.partial"; mkdir -p "$DEST.partial"
for deb in "$TMP"/*.deb; do dpkg-deb -x "$deb" "$DEST.partial"; done
# The .deb's sendmail is setgid mail; a set-id program ignores LD_LIBRARY_PATH and so would not
# find the unpacked libwrap. The tests run it as root, so the bit buys nothing here: drop it.
chmod g-s "$DEST.partial/usr/libexec/sendmail/sendmail"
# every shared library sendmail needs must resolve, or the first test run fails obscurely
LIBS=$DEST.partial/lib/x86_64-linux-gnu:$DEST.partial/usr/lib/x86_64-linux-gnu
MISSING=$(LD_LIBRARY_PATH=$LIBS ldd "$DEST.partial/usr/libexec/sendmail/sendmail" | grep 'not found' || true)
if [ -n "$MISSING" ]; then
  echo "install-sendmail.sh: sendmail needs libraries that are not installed:" >&2
  echo "$MISSING" >&2
  exit 1
fi
# only a complete tree gets the final name, so an interrupted run is simply repeated
rm -rf "$DEST"; mv "$DEST.partial" "$DEST"
echo "sendmail unpacked into $DEST"
