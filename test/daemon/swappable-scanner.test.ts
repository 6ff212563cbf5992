/**
 * SwappableScanner (host/daemon/swappable-scanner.ts) on real scanners: a reload while scans
 * run answers every one of them correctly and closes the old scanner only after its last scan;
 * a signature added to the database directory is found after a reload; a bad .ndb line is
 * skipped; a corrupt .cvd or a failing build refuses the reload and keeps the old signatures;
 * overlapping reload requests share builds.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { createScanner } from "../../host/scanner.js";
import { rejectedFiles, SwappableScanner } from "../../host/daemon/swappable-scanner.js";
import { EICAR, tempDir, until } from "./daemon-process.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sigDir(): string {
  const d = tempDir("bulwark-swap-");
  dirs.push(d);
  mkdirSync(join(d, "lib"));
  return join(d, "lib");
}

/** A marker string and the .ndb line that detects it. */
function signature(name: string): { marker: Buffer; line: string } {
  const marker = Buffer.from(`bulwark reload test marker ${name} ${Math.random().toString(36).slice(2)}`);
  return { marker, line: `${name}:0:*:${marker.toString("hex")}` };
}

const build = (lib: string) => () => createScanner({ databases: [lib], workers: 1, cacheDir: null });

/** A real scanner whose scans and close are recorded in one event list, in order. */
function recorded(inner: Scanner, events: string[], tag: string): Scanner {
  return {
    get signatureCount() { return inner.signatureCount; },
    get loadErrors() { return inner.loadErrors; },
    get loadMs() { return inner.loadMs; },
    async scan(input, opts) {
      const v = await inner.scan(input, opts);
      events.push(`${tag}:scan-done`);
      return v;
    },
    async close() {
      events.push(`${tag}:close`);
      await inner.close();
    },
  };
}

describe("SwappableScanner", () => {
  it("answers every scan running during a reload correctly, and closes the old scanner after its last scan", async () => {
    const lib = sigDir();
    const events: string[] = [];
    let n = 0;
    const swap = new SwappableScanner(recorded(await build(lib)(), events, "old"), async () => recorded(await build(lib)(), events, `new${++n}`), () => {});
    try {
      // Streams the test ends only after the swap: these scans are certainly in flight on the
      // old scanner while the new one is built and swapped in.
      const contents = Array.from({ length: 9 }, (_, i) => (i % 3 === 0 ? EICAR : i % 3 === 1 ? Buffer.alloc(1 << 20, 0x41) : Buffer.from(`clean ${i}\n`)));
      const streams = contents.map(() => new PassThrough());
      const scans = streams.map((s) => swap.scan(s));
      expect(swap.inFlight).toBe(contents.length);
      expect(await swap.reload()).toEqual({ ok: true, signatureCount: 1 });
      expect(swap.retiringCount).toBe(1); // swapped, but the old one still has scans
      expect(events).not.toContain("old:close");
      const during = contents.map((c) => swap.scan(c)); // these run on the new scanner
      contents.forEach((c, i) => streams[i].end(c));
      const verdicts = await Promise.all([...scans, ...during]);
      verdicts.forEach((v, i) => {
        const isEicar = i % contents.length % 3 === 0;
        expect(v.status).toBe(isEicar ? "infected" : "clean");
        if (isEicar) expect(v.names).toEqual(["Eicar-Test-Signature"]);
      });
      expect(events.filter((e) => e === "old:scan-done").length).toBe(contents.length);
      expect(events.filter((e) => e === "new1:scan-done").length).toBe(contents.length);
      await until(() => swap.retiringCount === 0, "the old scanner's close");
      // closed once, after its last scan
      expect(events.filter((e) => e === "old:close").length).toBe(1);
      expect(events.lastIndexOf("old:scan-done")).toBeLessThan(events.indexOf("old:close"));
    } finally {
      await swap.close();
    }
  });

  it("finds a signature added to the database directory after a reload; a bad line is skipped and logged", async () => {
    const lib = sigDir();
    const a = signature("Bulwark.Test.Added");
    const logs: string[] = [];
    const swap = new SwappableScanner(await build(lib)(), build(lib), (m) => logs.push(m));
    try {
      expect((await swap.scan(a.marker)).status).toBe("clean");
      writeFileSync(join(lib, "local.ndb"), `${a.line}\nthis line is not a signature\n`);
      const r = await swap.reload();
      expect(r.ok).toBe(true);
      const v = await swap.scan(a.marker);
      expect(v.status).toBe("infected");
      expect(v.names).toEqual(["Bulwark.Test.Added.UNOFFICIAL"]);
      expect(logs.join("\n")).toMatch(/warning: signatures: .*local\.ndb:2: .*\(skipped\)/);
    } finally {
      await swap.close();
    }
  });

  it("refuses a reload when a .cvd is corrupt (the loader rejects the whole file): the old signatures stay", async () => {
    const lib = sigDir();
    const a = signature("Bulwark.Test.Old");
    const b = signature("Bulwark.Test.New");
    writeFileSync(join(lib, "old.ndb"), `${a.line}\n`);
    const logs: string[] = [];
    const swap = new SwappableScanner(await build(lib)(), build(lib), (m) => logs.push(m));
    try {
      expect((await swap.scan(a.marker)).status).toBe("infected");
      // a truncated download: the header's MD5 does not match what follows
      writeFileSync(join(lib, "daily.cvd"), Buffer.concat([Buffer.from("ClamAV-VDB:01 Jan 2026 00-00 +0000:27000:100:90:0123456789abcdef0123456789abcdef:sig:builder:1700000000".padEnd(512, " ")), Buffer.from("truncated")]));
      writeFileSync(join(lib, "new.ndb"), `${b.line}\n`);
      const r = await swap.reload();
      expect(r.ok).toBe(false);
      expect(logs.join("\n")).toMatch(/error: signature reload refused, keeping the loaded signatures: .*daily\.cvd: bad container: MD5 mismatch/);
      expect((await swap.scan(a.marker)).status).toBe("infected");
      expect((await swap.scan(b.marker)).status).toBe("clean"); // the refused database is not in use
      rmSync(join(lib, "daily.cvd"));
      expect((await swap.reload()).ok).toBe(true);
      expect((await swap.scan(b.marker)).names).toEqual(["Bulwark.Test.New.UNOFFICIAL"]);
    } finally {
      await swap.close();
    }
  });

  it("keeps the old scanner when the build fails", async () => {
    const lib = sigDir();
    const logs: string[] = [];
    const swap = new SwappableScanner(await build(lib)(), () => Promise.reject(new Error("out of memory while compiling")), (m) => logs.push(m));
    try {
      expect(await swap.reload()).toEqual({ ok: false, reason: "out of memory while compiling" });
      expect(logs).toContain("error: signature reload failed, keeping the loaded signatures: out of memory while compiling");
      expect((await swap.scan(EICAR)).status).toBe("infected");
    } finally {
      await swap.close();
    }
  });

  it("coalesces overlapping reload requests: one build running, one more for everyone who asked meanwhile", async () => {
    const lib = sigDir();
    let builds = 0;
    const swap = new SwappableScanner(await build(lib)(), () => (builds++, build(lib)()), () => {});
    try {
      const results = await Promise.all([swap.reload(), swap.reload(), swap.reload(), swap.reload(), swap.reload()]);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(builds).toBe(2);
      expect((await swap.scan(EICAR)).status).toBe("infected");
    } finally {
      await swap.close();
    }
  });

  it("counts only whole-file rejections as refusals, not skipped lines", () => {
    expect(rejectedFiles([
      { file: "a.ndb", line: 3, reason: "bad hex" },
      { file: "main.cvd", line: 0, reason: "members of unsupported types skipped: main.cdb" },
      { file: "daily.cvd", line: 0, reason: "bad container: MD5 mismatch" },
    ])).toEqual([{ file: "daily.cvd", line: 0, reason: "bad container: MD5 mismatch" }]);
  });
});
