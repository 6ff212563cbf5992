/**
 * Drives the real built CLI (./bin/bulwark → dist/host/cli/main.js) as a child process:
 * exit codes, line formats, the summary block, --json, -r, stdin, filters and limits.
 * Inputs are generated per test run (EICAR from an XOR-encoded constant, random files
 * with their own hash/body signatures); clamscan (required) scans the same inputs and
 * databases are scanned by it too and the FOUND lines must agree.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "bulwark");

/** EICAR, each byte XOR 0x5a, so this file itself is not flagged by other scanners. */
const EICAR = Buffer.from(
  "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b0877090e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270",
  "hex",
).map((b) => b ^ 0x5a);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

function bulwark(args: string[], input?: Uint8Array): Run {
  // A private compiled-database cache: no writes to the real home, no state between runs.
  const env = { ...process.env, XDG_CACHE_HOME: join(dir, "cache") };
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split("\n").filter((l) => l !== "") };
}

function hasClamscan(): boolean {
  return spawnSync("clamscan", ["--version"], { encoding: "utf8" }).status === 0;
}

/** Parse the clamscan-style summary block into a map of its fields. */
function summaryOf(stdout: string): Map<string, string> {
  const at = stdout.indexOf("----------- SCAN SUMMARY -----------");
  expect(at).toBeGreaterThanOrEqual(0);
  const fields = new Map<string, string>();
  for (const line of stdout.slice(at).split("\n").slice(1)) {
    const m = /^([A-Za-z ]+):\s+(.*)$/.exec(line);
    if (m) fields.set(m[1], m[2]);
  }
  return fields;
}

let dir: string;
// A random "malware" sample with an MD5 signature and a body signature cut from its middle.
const sample = randomBytes(4096);
const sampleMd5 = createHash("md5").update(sample).digest("hex");
const bodyHex = sample.subarray(1000, 1024).toString("hex");

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-cli-"));
  mkdirSync(join(dir, "tree", "sub"), { recursive: true });
  writeFileSync(join(dir, "tree", "a-clean.txt"), "nothing to see here\n");
  writeFileSync(join(dir, "tree", "b-eicar.com"), EICAR);
  writeFileSync(join(dir, "tree", "sub", "c-eicar.com"), EICAR);
  writeFileSync(join(dir, "tree", "sub", "d-clean.bin"), randomBytes(3000));
  symlinkSync("a-clean.txt", join(dir, "tree", "e-link"));
  mkdirSync(join(dir, "clean"));
  writeFileSync(join(dir, "clean", "one.txt"), "one\n");
  writeFileSync(join(dir, "clean", "two.bin"), randomBytes(1024 * 1024)); // exactly 1 MiB
  writeFileSync(join(dir, "sample.bin"), sample);
  writeFileSync(join(dir, "sigs.hdb"), `${sampleMd5}:${sample.length}:Test.Sample.MD5\n`);
  writeFileSync(join(dir, "sigs.ndb"), `Test.Sample.Body:0:*:${bodyHex}\n`);
  writeFileSync(join(dir, "mixed.ndb"), `this is not a signature\nTest.Sample.Body:0:*:${bodyHex}\n`);
  writeFileSync(join(dir, "allbad.ndb"), "garbage line one\ngarbage:line:two\n");
  mkdirSync(join(dir, "many"));
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, "many", `f${String(i).padStart(2, "0")}.bin`), i % 7 === 3 ? sample : randomBytes(2000 + i));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("bulwark scan: verdict lines and exit codes", () => {
  it("finds EICAR with the built-in signature and exits 1", () => {
    const r = bulwark(["scan", "tree/b-eicar.com", "tree/a-clean.txt"]);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/^tree\/b-eicar\.com: \S*eicar\S* FOUND$/i);
    expect(r.lines[1]).toBe("tree/a-clean.txt: OK");
    const s = summaryOf(r.stdout);
    expect(s.get("Scanned files")).toBe("2");
    expect(s.get("Infected files")).toBe("1");
    expect(Number(s.get("Known viruses"))).toBeGreaterThanOrEqual(1);
    expect(s.get("Engine version")).toBe("bulwark 0.1.0");
  });

  it("exits 0 on clean input and prints the summary in clamscan's shape", () => {
    const r = bulwark(["scan", "clean"]);
    expect(r.code).toBe(0);
    expect(r.lines.slice(0, 2)).toEqual(["clean/one.txt: OK", "clean/two.bin: OK"]);
    const block = r.stdout.slice(r.stdout.indexOf("\n\n") + 2).split("\n");
    expect(block[0]).toBe("----------- SCAN SUMMARY -----------");
    expect(block.slice(1, 11).map((l) => l.split(":")[0])).toEqual([
      "Known viruses",
      "Engine version",
      "Scanned directories",
      "Scanned files",
      "Infected files",
      "Data scanned",
      "Data read",
      "Time",
      "Start Date",
      "End Date",
    ]);
    const s = summaryOf(r.stdout);
    expect(s.get("Scanned directories")).toBe("1");
    expect(s.get("Scanned files")).toBe("2");
    expect(s.get("Infected files")).toBe("0");
    expect(s.get("Data read")).toMatch(/^1\.00 MB \(ratio \d+\.\d\d:1\)$/);
    expect(s.get("Data scanned")).toMatch(/^\d+\.\d\d MB$/);
    expect(s.get("Time")).toMatch(/^\d+\.\d{3} sec \(\d+ m \d+ s\)$/);
    expect(s.get("Start Date")).toMatch(/^\d{4}:\d\d:\d\d \d\d:\d\d:\d\d$/);
    expect(r.stdout).toMatch(/\nEnd Date: {3}\d{4}:\d\d:\d\d \d\d:\d\d:\d\d\n$/);
  });

  it("reports an unreadable path as ERROR and exits 2", () => {
    const r = bulwark(["scan", "--no-summary", "does-not-exist", "clean/one.txt"]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual(["does-not-exist: No such file or directory ERROR", "clean/one.txt: OK"]);
  });

  it("lets a detection win over an error for the exit code, like clamscan", () => {
    const r = bulwark(["scan", "--no-summary", "does-not-exist", "tree/b-eicar.com"]);
    expect(r.code).toBe(1);
  });

  it("exits 2 on a bad option or a bad size", () => {
    expect(bulwark(["scan", "--no-such-option", "clean"]).code).toBe(2);
    const bad = bulwark(["scan", "--max-filesize=12Q", "clean"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-filesize/);
  });

  it("exits 2 when no signature is loaded at all", () => {
    const r = bulwark(["scan", "--no-builtin", "clean"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
  });
});

describe("bulwark scan: databases", () => {
  it("loads .hdb and .ndb and reports every name with --allmatch, one with the default", () => {
    const all = bulwark(["scan", "--no-summary", "--allmatch", "-d", "sigs.hdb", "-d", "sigs.ndb", "sample.bin"]);
    expect(all.code).toBe(1);
    expect(all.lines).toHaveLength(2);
    for (const l of all.lines) expect(l).toMatch(/^sample\.bin: Test\.Sample\.(MD5|Body)(\.UNOFFICIAL)? FOUND$/);
    expect(new Set(all.lines.map((l) => l.split(" ")[1].split(".")[2]))).toEqual(new Set(["MD5", "Body"]));
    const first = bulwark(["scan", "--no-summary", "-d", "sigs.hdb", "-d", "sigs.ndb", "sample.bin"]);
    expect(first.lines).toHaveLength(1);
    expect(first.lines[0]).toMatch(/^sample\.bin: Test\.Sample\.(MD5|Body)(\.UNOFFICIAL)? FOUND$/);
  });

  it("warns about bad database lines on stderr as file:line and still scans", () => {
    const r = bulwark(["scan", "--no-summary", "-d", "mixed.ndb", "sample.bin"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mixed\.ndb:1:/);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^sample\.bin: Test\.Sample\.Body(\.UNOFFICIAL)? FOUND$/);
  });

  it("exits 2 when a database has no usable signature", () => {
    const r = bulwark(["scan", "-d", "allbad.ndb", "sample.bin"]);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toMatch(/FOUND|OK/);
  });

  it("exits 2 when a database path does not exist", () => {
    expect(bulwark(["scan", "-d", "nope.ndb", "sample.bin"]).code).toBe(2);
  });

  it("reports the same FOUND lines as clamscan on the same inputs", () => {
    if (!hasClamscan()) throw new Error("clamscan is required for this test (apt-get install clamav; see .ci/run)");
    const args = ["--no-summary", "--allmatch", "-r", "-d", "sigs.hdb", "-d", "sigs.ndb", "many", "sample.bin"];
    const ours = bulwark(["scan", ...args]);
    const theirs = spawnSync("clamscan", args, { cwd: dir, encoding: "utf8" });
    // distinct lines: clamscan --allmatch repeats a name when a file matched in two layers
    // (raw and typed, e.g. random bytes it also reads as UTF-16 text)
    const found = (out: string) => [
      ...new Set(
        out
          .split("\n")
          .filter((l) => l.endsWith(" FOUND"))
          .map((l) => l.replace(/\.UNOFFICIAL FOUND$/, " FOUND")),
      ),
    ].sort();
    expect(found(ours.stdout).length).toBeGreaterThan(0);
    expect(found(ours.stdout)).toEqual(found(theirs.stdout));
    expect(ours.code).toBe(theirs.status);
  });
});

describe("bulwark scan: walking", () => {
  it("without -r scans only a directory's own files; with -r it descends", () => {
    const flat = bulwark(["scan", "tree"]);
    expect(flat.stdout).not.toMatch(/tree\/sub\//);
    expect(summaryOf(flat.stdout).get("Scanned files")).toBe("2");
    expect(summaryOf(flat.stdout).get("Scanned directories")).toBe("1");
    const deep = bulwark(["scan", "-r", "tree"]);
    expect(deep.code).toBe(1);
    expect(deep.lines).toContainEqual(expect.stringMatching(/^tree\/sub\/c-eicar\.com: \S+ FOUND$/));
    expect(deep.lines).toContain("tree/sub/d-clean.bin: OK");
    expect(summaryOf(deep.stdout).get("Scanned files")).toBe("4");
    expect(summaryOf(deep.stdout).get("Scanned directories")).toBe("2");
    expect(summaryOf(deep.stdout).get("Infected files")).toBe("2");
  });

  it("reports symbolic links inside a directory instead of following them", () => {
    const r = bulwark(["scan", "--no-summary", "tree"]);
    expect(r.lines).toContain("tree/e-link: Symbolic link");
  });

  it("prints results in walk order even with several workers", () => {
    const r = bulwark(["scan", "--no-summary", "--workers", "2", "-d", "sigs.hdb", "many"]);
    const paths = r.lines.map((l) => l.slice(0, l.indexOf(":")));
    expect(paths).toEqual(Array.from({ length: 40 }, (_, i) => `many/f${String(i).padStart(2, "0")}.bin`));
    const infected = r.lines.filter((l) => l.endsWith(" FOUND")).map((l) => l.slice(0, l.indexOf(":")));
    expect(infected).toEqual(["many/f03.bin", "many/f10.bin", "many/f17.bin", "many/f24.bin", "many/f31.bin", "many/f38.bin"]);
  });

  it("reads standard input for '-' and names it stdin", () => {
    const r = bulwark(["scan", "-"], EICAR);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/^stdin: \S+ FOUND$/);
    expect(summaryOf(r.stdout).get("Scanned files")).toBe("1");
    const clean = bulwark(["scan", "--no-summary", "-"], Buffer.from("hello\n"));
    expect(clean.code).toBe(0);
    expect(clean.lines).toEqual(["stdin: OK"]);
  });
});

describe("bulwark scan: output modes and limits", () => {
  it("--json prints one record per file and a summary whose counts match", () => {
    const r = bulwark(["scan", "--json", "-r", "tree"]);
    expect(r.code).toBe(1);
    const recs = r.lines.map((l) => JSON.parse(l));
    const files = recs.filter((x) => x.type === "file");
    expect(files.map((f) => f.path)).toEqual(["tree/a-clean.txt", "tree/b-eicar.com", "tree/e-link", "tree/sub/c-eicar.com", "tree/sub/d-clean.bin"]);
    const eicar = files[1];
    expect(eicar.status).toBe("infected");
    expect(eicar.names.length).toBeGreaterThan(0);
    expect(eicar.detections[0]).toMatchObject({ name: eicar.names[0] });
    expect(eicar.bytesRead).toBe(68);
    expect(files[0]).toMatchObject({ status: "clean", names: [], bytesRead: 20 });
    expect(files[2]).toEqual({ type: "file", path: "tree/e-link", status: "skipped", reason: "Symbolic link" });
    const summary = recs[recs.length - 1];
    expect(summary).toMatchObject({ type: "summary", scannedFiles: 4, scannedDirectories: 2, infectedFiles: 2, errors: 0, exitCode: 1, engineVersion: "bulwark 0.1.0" });
    expect(summary.bytesRead).toBe(20 + 68 + 68 + 3000);
  });

  it("-i prints only infected lines; --quiet prints nothing but keeps the exit code", () => {
    const inf = bulwark(["scan", "-i", "--no-summary", "-r", "tree"]);
    expect(inf.lines).toHaveLength(2);
    for (const l of inf.lines) expect(l).toMatch(/ FOUND$/);
    const quiet = bulwark(["scan", "--quiet", "-r", "tree"]);
    expect(quiet.code).toBe(1);
    expect(quiet.stdout).toBe("");
  });

  it("never reports a file over --max-filesize as OK", () => {
    const r = bulwark(["scan", "--max-filesize=1K", "clean/two.bin"]);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toBe("clean/two.bin: Heuristics.Limits.Exceeded.MaxFileSize FOUND");
    expect(summaryOf(r.stdout).get("Infected files")).toBe("1");
    const big = bulwark(["scan", "--no-summary", "--max-filesize=2M", "clean/two.bin"]);
    expect(big.lines).toEqual(["clean/two.bin: OK"]);
  });
});
