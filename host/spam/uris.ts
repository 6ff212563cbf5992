/**
 * URIs in the plain text of a mail (http, https, www., mailto) for the spam tokenizer and
 * the URI rules, and the host part of a URI. Spam's payload is its link, and the link's host
 * is the strongest single token a statistical filter gets from it.
 */

/** Characters kept in one URI: long enough for tracking links with query strings, short
 *  enough that a megabyte without spaces costs one bounded match, not a huge string. */
const MAX_URI_CHARS = 512;

const TEXT_URI = new RegExp(`(?:\\bhttps?://|\\bwww\\.|\\bmailto:)[^\\s<>"'\`{}|\\\\^\\[\\]]{1,${MAX_URI_CHARS}}`, "gi");

/** Hand every URI in `text` to `sink` until it returns false. */
export function findTextUris(text: string, sink: (uri: string) => boolean): void {
  if (!mayHoldUri(text)) return;
  TEXT_URI.lastIndex = 0;
  for (let m = TEXT_URI.exec(text); m !== null; m = TEXT_URI.exec(text)) {
    const uri = m[0].replace(/[.,;:!?)*]+$/, "");
    if (!sink(uri)) return;
  }
}

/** Cheap pre-check: most lines of most mails hold no URI at all. */
function mayHoldUri(text: string): boolean {
  return text.includes("://") || text.includes("www.") || text.includes("WWW.") || /mailto:/i.test(text);
}

/**
 * The lower-case host of a URI ("" when it has none): scheme, user info, port, path dropped;
 * "www.x.com/..." without scheme counts; mailto: gives the address's domain. Percent escapes
 * in the host are decoded (a spam trick to hide the domain from naive matchers).
 */
export function uriHost(uri: string): string {
  let s = uri.trim();
  const lower = s.slice(0, 8).toLowerCase();
  if (lower.startsWith("mailto:")) {
    const at = s.indexOf("@");
    if (at < 0) return "";
    s = s.slice(at + 1);
  } else {
    const scheme = s.indexOf("://");
    if (scheme >= 0 && scheme < 10) s = s.slice(scheme + 3);
    else if (s.startsWith("//")) s = s.slice(2); // scheme-relative link
    else if (!lower.startsWith("www.")) return "";
  }
  let end = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23 || c === 0x5c) {
      end = i;
      break;
    }
  }
  let host = s.slice(0, end);
  const at = host.lastIndexOf("@");
  if (at >= 0) host = host.slice(at + 1);
  const colon = host.indexOf(":");
  if (colon >= 0) host = host.slice(0, colon);
  if (host.includes("%")) {
    try {
      host = decodeURIComponent(host);
    } catch {
      // broken escape: keep it as written
    }
  }
  return host.toLowerCase().replace(/\.+$/, "");
}
