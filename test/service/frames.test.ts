/**
 * The private protocol's frame decoder against a hostile peer: every split of a request gives
 * the same result, a huge declared metadata length is refused before anything is buffered,
 * a stream over the limit is drained (counted, not stored), and garbage is an error, not a
 * crash. Inputs are generated here.
 */
import { describe, expect, it } from "vitest";
import { encodeMessage, FramedMessageDecoder } from "../../host/service/frames.js";
import { MAX_METADATA_FRAME, parseMailRequest } from "../../host/service/protocol.js";

const head = { agent: "pipe", sender: "a@x.test", recipients: ["b@y.test", "c@y.test"] };
const body = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));
/** the request as written, with the body in frames of 64 bytes (several frames) */
const wire = Buffer.concat(encodeMessage(head, body, 64));

const decoder = (maxBody = 1 << 20) => new FramedMessageDecoder({ maxHead: MAX_METADATA_FRAME, maxBody, hasBody: () => true });

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

describe("FramedMessageDecoder", () => {
  it("decodes the same request whatever two pieces it arrives in", () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = decoder();
      d.push(wire.subarray(0, cut));
      expect(d.complete, `cut at ${cut}`).toBe(cut === wire.length);
      d.push(wire.subarray(cut));
      expect(d.error, `cut at ${cut}`).toBeUndefined();
      expect(d.complete).toBe(true);
      expect(d.head).toEqual(head);
      expect(d.body().equals(body), `cut at ${cut}`).toBe(true);
      expect(d.received).toBe(body.length);
    }
  });

  it("decodes it fed one byte at a time", () => {
    const d = decoder();
    for (const b of wire) d.push(Buffer.from([b]));
    expect(d.complete).toBe(true);
    expect(d.body().equals(body)).toBe(true);
  });

  it("refuses a declared metadata length over the limit before its payload arrives", () => {
    const d = decoder();
    d.push(u32(0xffffffff));
    expect(d.error).toMatch(/metadata frame of 4294967295 bytes is over the 65536-byte limit/);
    d.push(Buffer.alloc(1000)); // nothing more is read
    expect(d.complete).toBe(false);
    const exact = decoder();
    exact.push(u32(MAX_METADATA_FRAME + 1));
    expect(exact.error).toMatch(/over the/);
  });

  it("stores at most maxBody stream bytes, drains the rest and reports the overflow", () => {
    const d = decoder(100);
    // one frame declaring far more than the limit, sent in pieces, then a second frame
    const big = Buffer.alloc(5000, 0x41);
    d.push(Buffer.concat(encodeMessage(head)));
    d.push(u32(big.length));
    for (let off = 0; off < big.length; off += 333) d.push(big.subarray(off, off + 333));
    d.push(Buffer.concat([u32(3), Buffer.from("xyz"), u32(0)]));
    expect(d.error).toBeUndefined();
    expect(d.complete).toBe(true);
    expect(d.overflow).toBe(true);
    expect(d.received).toBe(5003);
    expect(d.body().length).toBe(100);
    expect(d.body().equals(big.subarray(0, 100))).toBe(true);
  });

  it("a stream of exactly maxBody bytes is not an overflow", () => {
    const d = decoder(body.length);
    d.push(wire);
    expect(d.overflow).toBe(false);
    expect(d.body().equals(body)).toBe(true);
  });

  it("refuses a missing or non-JSON metadata frame and bytes after the end", () => {
    const zero = decoder();
    zero.push(u32(0));
    expect(zero.error).toMatch(/metadata frame is missing/);
    const garbage = decoder();
    garbage.push(Buffer.concat([u32(5), Buffer.from("{nope")]));
    expect(garbage.error).toMatch(/not JSON/);
    const trailing = decoder();
    trailing.push(Buffer.concat([wire, Buffer.from("more")]));
    expect(trailing.error).toMatch(/4 bytes after the end/);
  });

  it("a message without a stream ends after its metadata (a reply without a rewritten mail)", () => {
    const d = new FramedMessageDecoder({ maxHead: 1000, maxBody: 0, hasBody: (h) => (h as { rewritten: boolean }).rewritten });
    d.push(Buffer.concat(encodeMessage({ rewritten: false })));
    expect(d.complete).toBe(true);
    expect(d.head).toEqual({ rewritten: false });
  });
});

describe("parseMailRequest", () => {
  it("accepts a well-formed request and refuses bad shapes with a reason", () => {
    expect(parseMailRequest(head)).toEqual(head);
    expect(() => parseMailRequest({ agent: "nobody" })).toThrow(/unknown agent/);
    expect(() => parseMailRequest([])).toThrow(/not a JSON object/);
    expect(() => parseMailRequest({ agent: "pipe", recipients: "b@y.test" })).toThrow(/recipients/);
    expect(() => parseMailRequest({ agent: "pipe", recipients: Array(1001).fill("a@b.c") })).toThrow(/at most 1000/);
    expect(() => parseMailRequest({ agent: "pipe", sender: 5 })).toThrow(/sender/);
    expect(() => parseMailRequest({ agent: "pipe", truncated: "yes" })).toThrow(/truncated/);
  });
});
