import { describe, expect, it } from "vitest";
import { MAX_RAW_FEATURES, isHeaderFeature } from "../../host/spam/feature-hash.js";
import { parseMail } from "../../host/spam/message.js";
import { DEFAULT_TOKENIZER, MAX_BODY_WORDS, features } from "../../host/spam/tokenize.js";
import type { ParsedMail } from "../../host/spam/types.js";
import { Rng } from "../helpers/random-data.js";

const mail = (s: string) => parseMail(Buffer.from(s.replace(/\n/g, "\r\n"), "latin1"));

/** A ParsedMail with only body text (no headers, URIs or meta differences). */
function textOnly(text: string): ParsedMail {
  return { headers: [], subject: "", textParts: [text], htmlParts: [], htmlText: [], uris: [], attachments: [], size: text.length, truncated: false };
}

const unigrams = { ...DEFAULT_TOKENIZER, meta: false };
const has = (big: number[], small: number[]) => small.every((f) => big.includes(f));

describe("features", () => {
  it("are sorted, unique, unsigned integers below 2^53", () => {
    const f = features(mail("From: a@example.com\nSubject: Hello hello HELLO\n\nhello world hello world www.example.com\n"));
    expect(f.length).toBeGreaterThan(5);
    for (let i = 0; i < f.length; i++) {
      expect(Number.isSafeInteger(f[i]) && f[i] >= 0).toBe(true);
      if (i > 0) expect(f[i]).toBeGreaterThan(f[i - 1]);
    }
  });

  it("are deterministic: the same mail gives the same list, on fresh parses too", () => {
    const raw = "From: Sender <s@shop.example.com>\nSubject: Cheap meds\nContent-Type: text/html\n\n<p>Buy <b>now</b> <a href=http://x.shop.example.com/>here</a></p>\n";
    const a = features(mail(raw));
    features(mail("Subject: something else entirely\n\nother words"));
    expect(features(mail(raw))).toEqual(a);
  });

  it("fold case and ignore punctuation around words", () => {
    expect(features(textOnly("Viagra, VIAGRA! viagra."), unigrams)).toEqual(features(textOnly("viagra"), unigrams));
    expect(features(textOnly("viagra"), { ...unigrams, fold: false })).not.toEqual(features(textOnly("Viagra"), { ...unigrams, fold: false }));
  });

  it("key header words by the field name", () => {
    const inSubject = features(mail("Subject: lottery\n\nnothing"), unigrams);
    const inBody = features(mail("Subject: nothing\n\nlottery"), unigrams);
    const body = features(textOnly("lottery"), unigrams);
    expect(has(inBody, body)).toBe(true);
    expect(has(inSubject, body)).toBe(false);
  });

  it("put header features in the header lane and body features outside it", () => {
    const body = features(textOnly("lottery winner"), unigrams);
    expect(body.length).toBe(2);
    expect(body.some(isHeaderFeature)).toBe(false);
    const whole = features(mail("Subject: lottery\nList-Id: <x.example.org>\n\nlottery winner"), unigrams);
    const headerOnes = whole.filter(isHeaderFeature);
    // subject:lottery, the names subject and list-id, the List-Id words
    expect(headerOnes.length).toBeGreaterThanOrEqual(4);
    expect(whole.filter((f) => !isHeaderFeature(f))).toEqual(body);
  });

  it("add word pairs that depend on order and distance", () => {
    const osb = { ...DEFAULT_TOKENIZER, meta: false, osbWindow: 2 };
    const ab = features(textOnly("click here"), osb);
    const ba = features(textOnly("here click"), osb);
    expect(ab).toHaveLength(3); // two words and one pair
    expect(ab.filter((f) => ba.includes(f))).toHaveLength(2); // the words, not the pair
  });

  it("include URI hosts and their parent domains, and sender domains", () => {
    const withLink = features(mail("Content-Type: text/html\n\n<a href='http://a.b.spammer.example/x'>x</a>"));
    const withOther = features(mail("Content-Type: text/html\n\n<a href='http://a.b.other.example/x'>x</a>"));
    const parent = features(mail("Content-Type: text/html\n\n<a href='http://spammer.example/'>x</a>"));
    // the registered-domain feature is shared with the bare domain, not with other.example
    const shared = withLink.filter((f) => parent.includes(f) && !withOther.includes(f));
    expect(shared.length).toBeGreaterThan(0);
  });

  it("stay bounded on huge or hostile text", () => {
    const rng = new Rng(11);
    const words = Array.from({ length: 4 * MAX_BODY_WORDS }, () => "w" + rng.int(0, 1e9).toString(36)).join(" ");
    const f = features(textOnly(words));
    expect(f.length).toBeLessThanOrEqual(MAX_RAW_FEATURES);
    // only the first MAX_BODY_WORDS words count: a longer tail changes nothing
    expect(features(textOnly(words + " tailword"))).toEqual(f);
    const oneHugeWord = features(textOnly("x".repeat(1_000_000)), unigrams);
    expect(oneHugeWord).toHaveLength(1);
  });
});
