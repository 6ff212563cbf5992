/** clamscan-style size and count parsing for `bulwark scan` options. */
import { describe, expect, it } from "vitest";
import { CliUsageError, parseCount, parseSize } from "../../host/cli/sizes.js";

describe("parseSize", () => {
  it("reads plain bytes and binary K/M/G suffixes in either case", () => {
    expect(parseSize("--x", "4096")).toBe(4096);
    expect(parseSize("--x", "25K")).toBe(25 * 1024);
    expect(parseSize("--x", "25k")).toBe(25 * 1024);
    expect(parseSize("--x", "100M")).toBe(100 * 1024 * 1024);
    expect(parseSize("--x", "4000m")).toBe(4000 * 1024 * 1024);
    expect(parseSize("--x", "2G")).toBe(2 * 1024 ** 3);
    expect(parseSize("--x", "0")).toBe(0);
  });

  it("rejects anything else with a message naming the option", () => {
    for (const bad of ["", "M", "1.5M", "-1", "10MB", "12Q", "1 M", "0x10"]) {
      expect(() => parseSize("--max-filesize", bad)).toThrow(CliUsageError);
      expect(() => parseSize("--max-filesize", bad)).toThrow(/--max-filesize/);
    }
  });

  it("rejects sizes a JS number cannot hold exactly", () => {
    expect(() => parseSize("--x", "99999999999999999999")).toThrow(CliUsageError);
    expect(() => parseSize("--x", "9999999999999G")).toThrow(CliUsageError);
  });
});

describe("parseCount", () => {
  it("accepts non-negative integers only", () => {
    expect(parseCount("--max-files", "10000")).toBe(10000);
    expect(parseCount("--max-files", "0")).toBe(0);
    for (const bad of ["-1", "1K", "1.0", "", "ten"]) expect(() => parseCount("--max-files", bad)).toThrow(/--max-files/);
  });
});
