/** Where a header block ends (host/unpack/mime-headers.ts headerBlockEnd), shared by the marking
 *  of spam, the spamd HEADERS reply and the network checks. */
import { describe, expect, it } from "vitest";
import { headerBlockEnd } from "../../host/unpack/mime-headers.js";

describe("headerBlockEnd", () => {
  it("is the offset after the blank line, -1 without one, whatever the line ends", () => {
    const cases: Array<[string, number]> = [
      ["A: b\n\nbody", 6],
      ["A: b\r\n\r\nbody", 8],
      ["A: b\r\n\nbody", 7],
      ["A: b\n\r\nbody", 7],
      ["A: b\n\n", 6],
      ["A: b\r\n\r\n", 8],
      ["\nbody", 1],
      ["\r\nbody", 2],
      ["A: b\n", -1],
      ["A: b\r\nC: d", -1],
      ["", -1],
    ];
    for (const [text, want] of cases) expect(headerBlockEnd(Buffer.from(text)), JSON.stringify(text)).toBe(want);
  });
  it("searches only within `end`", () => {
    expect(headerBlockEnd(Buffer.from("A: b\nC: d\n\nbody"), 8)).toBe(-1);
    expect(headerBlockEnd(Buffer.from("A: b\n\nbody"), 6)).toBe(6);
  });
});
