/**
 * HTML to the text a reader sees, for the spam tokenizer and rules: tags, comments, scripts
 * and styles dropped, character references decoded, block elements turned into spaces (so
 * "<td>cheap</td><td>meds</td>" stays two words) and inline ones into nothing (so the old
 * "V<b></b>iagra" and "V<!-- x -->iagra" tricks give back the word). Link targets (href,
 * src, action, background) are handed to a URI sink, as they are invisible in the text.
 * One forward pass with indexOf; no regex runs over unbounded input.
 */
import { decodeEntities } from "./text-decode.js";

/** Receives URIs found in attributes; returns false once it wants no more. */
export type UriSink = (uri: string) => boolean;

/** A tag longer than this is not a tag a browser would render usefully; spam pads tags
 *  with junk attributes, real ones stay under a few hundred bytes. The rest is skipped as
 *  text-less so a 10 MB "<a" cannot make the attribute regex work on megabytes. */
const MAX_TAG_BYTES = 4096;

/** Elements whose start or end breaks words apart when rendered. */
const BLOCK_TAGS = new Set([
  "br", "p", "div", "td", "th", "tr", "li", "ul", "ol", "table", "tbody", "thead", "h1", "h2", "h3",
  "h4", "h5", "h6", "hr", "blockquote", "pre", "option", "select", "center", "title", "dd", "dt",
  "dl", "form", "body", "html", "head", "img", "input", "textarea", "button", "address", "frame",
]);

/** Elements whose content is never shown. */
const HIDDEN_CONTENT = new Set(["script", "style"]);

const URI_ATTR = /\b(?:href|src|action|background)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))/gi;

/** Attribute values that lead somewhere off the mail: not anchors, cid: images or
 *  javascript:, which say nothing about where the sender wants the reader to go. */
const LINK_URI = /^(?:https?:|ftp:|mailto:|www\.|\/\/)/i;

/** Visible text of `html`; URI attributes go to `sink`. */
export function htmlToText(html: string, sink: UriSink): string {
  const out: string[] = [];
  let pos = 0;
  let wantUris = true;
  const len = html.length;
  while (pos < len) {
    const lt = html.indexOf("<", pos);
    if (lt < 0) {
      out.push(html.slice(pos));
      break;
    }
    if (lt > pos) out.push(html.slice(pos, lt));
    const next = html.charCodeAt(lt + 1);
    if (next === 0x21 /* ! */ && html.startsWith("!--", lt + 1)) {
      const close = html.indexOf("-->", lt + 4);
      pos = close < 0 ? len : close + 3;
      continue;
    }
    const isEnd = next === 0x2f; /* / */
    const nameStart = isEnd ? lt + 2 : lt + 1;
    let nameEnd = nameStart;
    while (nameEnd < len && nameEnd - nameStart < 16 && isTagNameChar(html.charCodeAt(nameEnd))) nameEnd++;
    if (nameEnd === nameStart && next !== 0x21 && next !== 0x3f /* ? */) {
      // "<" not starting a tag ("a < b", "<3"): browsers show it as text
      out.push("<");
      pos = lt + 1;
      continue;
    }
    const gt = html.indexOf(">", nameEnd);
    const tagEnd = gt < 0 ? len : gt;
    const name = html.slice(nameStart, nameEnd).toLowerCase();
    if (BLOCK_TAGS.has(name)) out.push(" ");
    if (!isEnd && wantUris && tagEnd - lt <= MAX_TAG_BYTES && tagHasUriAttr(name)) {
      const tag = html.slice(nameEnd, tagEnd);
      URI_ATTR.lastIndex = 0;
      for (let m = URI_ATTR.exec(tag); m !== null && wantUris; m = URI_ATTR.exec(tag)) {
        const v = decodeEntities((m[1] ?? m[2] ?? m[3]).trim());
        if (LINK_URI.test(v)) wantUris = sink(v);
      }
    }
    pos = tagEnd + 1;
    if (!isEnd && HIDDEN_CONTENT.has(name)) {
      pos = skipPast(html, pos, `</${name}`);
    }
  }
  return decodeEntities(out.join(""));
}

function isTagNameChar(c: number): boolean {
  const l = c | 0x20;
  return (l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

function tagHasUriAttr(name: string): boolean {
  return name === "a" || name === "img" || name === "form" || name === "area" || name === "iframe" ||
    name === "frame" || name === "body" || name === "table" || name === "td" || name === "link" ||
    name === "base" || name === "input" || name === "embed" || name === "script";
}

/** Position after the '>' of the first `close` tag (any case) at or after pos, else the end. */
function skipPast(html: string, pos: number, close: string): number {
  const len = html.length;
  let at = pos;
  while (at < len) {
    const lt = html.indexOf("</", at);
    if (lt < 0) return len;
    if (html.slice(lt, lt + close.length).toLowerCase() === close) {
      const gt = html.indexOf(">", lt);
      return gt < 0 ? len : gt + 1;
    }
    at = lt + 2;
  }
  return len;
}
