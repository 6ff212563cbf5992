/**
 * The INSTREAM receive path's buffers (host/clamd/framing.ts): FrameDecoder gives the same
 * chunks whatever reads the bytes arrive in (every split point, two splits, one byte at a
 * time: chunk headers split across reads included), and StreamBuffer collects them into one
 * buffer that grows by doubling, never past its limit, and is handed over whole (a view at
 * offset 0 of a buffer nothing else uses, so the scanner may transfer it). Inputs made here.
 */
import { describe, expect, it } from "vitest";
import { FrameDecoder, StreamBuffer } from "../../host/clamd/framing.js";

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
const payload = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 31 + 7) & 0xff));
/** zINSTREAM, the payload as chunks of 1, 299 and 400 bytes, the zero chunk, then a PING */
const wire = Buffer.concat([
  Buffer.from("zINSTREAM\0"),
  u32(1), payload.subarray(0, 1),
  u32(299), payload.subarray(1, 300),
  u32(400), payload.subarray(300),
  u32(0),
  Buffer.from("zPING\0"),
]);

/** Feed `reads` to a decoder as a connection does; returns the commands, the stream, and whether it ended. */
function decode(reads: Buffer[], limit = 1 << 20) {
  const dec = new FrameDecoder(4096);
  const commands: string[] = [];
  let state: "command" | "instream" = "command";
  let data: StreamBuffer | null = null;
  let stream: Buffer | null = null;
  for (const r of reads) {
    dec.push(r);
    for (;;) {
      if (state === "command") {
        const c = dec.readCommand();
        if (c === "need-more" || c === "too-long") break;
        commands.push(c.text);
        if (c.text === "INSTREAM") {
          state = "instream";
          data = new StreamBuffer(limit);
        }
        continue;
      }
      const ch = dec.readChunk(limit - data!.size);
      if (ch.kind === "need-more") break;
      if (ch.kind === "too-big") throw new Error(`too big: ${ch.length}`);
      if (ch.kind === "data") data!.append(ch.bytes);
      else {
        stream = data!.take();
        state = "command";
      }
    }
  }
  return { commands, stream, buffered: dec.buffered };
}

describe("FrameDecoder (INSTREAM chunks)", () => {
  const expectWhole = (r: ReturnType<typeof decode>, label: string) => {
    expect(r.commands, label).toEqual(["INSTREAM", "PING"]);
    expect(r.stream?.equals(payload), label).toBe(true);
    expect(r.buffered, label).toBe(0);
  };

  it("decodes the same stream whatever offset the bytes are split at", () => {
    for (let cut = 0; cut <= wire.length; cut++) expectWhole(decode([wire.subarray(0, cut), wire.subarray(cut)]), `cut ${cut}`);
  });

  it("decodes it split in three reads: every second cut for first cuts 11 bytes apart", () => {
    for (let a = 0; a <= wire.length; a += 11) {
      for (let b = a; b <= wire.length; b++) {
        expectWhole(decode([wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]), `cuts ${a},${b}`);
      }
    }
  });

  it("decodes it one byte at a time", () => {
    expectWhole(decode([...wire].map((x) => Buffer.of(x))), "bytewise");
  });

  it("refuses a chunk over the room left before its payload arrives, even when its header is split", () => {
    const dec = new FrameDecoder(4096);
    dec.push(Buffer.from([0xff, 0xff]));
    expect(dec.readChunk(100)).toEqual({ kind: "need-more" });
    dec.push(Buffer.from([0xff, 0xff]));
    expect(dec.readChunk(100)).toEqual({ kind: "too-big", length: 0xffffffff });
  });

  it("hands out payload as views of the reads (no copy) and holds only unconsumed bytes", () => {
    const dec = new FrameDecoder(4096);
    const read = Buffer.concat([u32(5), Buffer.from("hello"), u32(3)]);
    dec.push(read);
    const r = dec.readChunk(100);
    expect(r.kind).toBe("data");
    if (r.kind === "data") expect(r.bytes.buffer).toBe(read.buffer);
    expect(dec.readChunk(100)).toEqual({ kind: "need-more" }); // header read, payload pending
    expect(dec.buffered).toBe(0);
  });
});

describe("StreamBuffer", () => {
  it("grows by doubling, never past its limit, and keeps every byte in order", () => {
    const limit = 300_000;
    const sb = new StreamBuffer(limit);
    const expected = Buffer.alloc(limit);
    let off = 0;
    let n = 1;
    while (off < limit) {
      const piece = Buffer.alloc(Math.min(n, limit - off), off & 0xff);
      piece[0] = (off * 13) & 0xff;
      sb.append(piece);
      piece.copy(expected, off);
      off += piece.length;
      n = n * 3 + 1;
    }
    expect(sb.size).toBe(limit);
    const out = sb.take();
    expect(out.equals(expected)).toBe(true);
    expect(out.buffer.byteLength).toBe(limit); // capped at the limit, not the next power of two
    expect(() => new StreamBuffer(10).append(Buffer.alloc(11))).toThrow(RangeError);
  });

  it("take() hands over a view at offset 0 of its own buffer and starts empty again", () => {
    const sb = new StreamBuffer(1 << 20);
    const big = Buffer.alloc(200_000, 7);
    sb.append(big.subarray(0, 100_000));
    sb.append(big.subarray(100_000));
    const out = sb.take();
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBeLessThanOrEqual(2 * out.length); // at most doubled
    expect(out.buffer).not.toBe(big.buffer);
    expect(sb.size).toBe(0);
    expect(sb.take().length).toBe(0);
    // what was appended after take() goes into a new buffer: the handed-over one never changes
    sb.append(Buffer.from("next"));
    expect(out.equals(big)).toBe(true);
  });

  it("a small stream is returned in a buffer of its own size, not pinning the first block", () => {
    const sb = new StreamBuffer(1 << 20);
    sb.append(Buffer.from("tiny"));
    const out = sb.take();
    expect(out.toString()).toBe("tiny");
    expect(out.buffer.byteLength).toBe(4);
  });
});
