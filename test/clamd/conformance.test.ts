/**
 * Conformance: the same transcript of clamd commands against Debian's real clamd 1.4
 * (started here in the foreground on a unix socket in a temp dir) and against Bulwark's
 * clamd server, both loading the same generated .ndb file; the replies must be identical
 * byte for byte, except VERSION, where only the `ClamAV ` prefix is compared. clamd
 * missing is a failure, not a skip.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { startClamdServer, type ClamdServer } from "../../host/clamd/server.js";
import { createScanner } from "../../host/scanner.js";
import { instream, startRealClamd, talk, type Address, type RealClamd } from "./clamd-peer.js";

/** Small, so the over-limit case costs nothing; the same value in both servers. */
const STREAM_MAX = 4096;

let dir: string;
let clamd: RealClamd;
let scanner: Scanner;
let bulwark: ClamdServer;
/** a random marker per run: its body signature is the only one clamd knows */
const marker = `bulwark-conformance-${randomBytes(8).toString("hex")}`;
const infected = Buffer.from(`some text before ${marker} and after\n`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-clamd-conf-"));
  const db = join(dir, "db");
  mkdirSync(db);
  writeFileSync(join(db, "conformance.ndb"), `Test.Conformance.Marker:0:*:${Buffer.from(marker).toString("hex")}\n`);
  mkdirSync(join(dir, "tree", "sub"), { recursive: true });
  writeFileSync(join(dir, "tree", "a-clean.txt"), "nothing here\n");
  writeFileSync(join(dir, "tree", "b-infected.txt"), infected);
  writeFileSync(join(dir, "tree", "sub", "c-infected.txt"), infected);
  writeFileSync(join(dir, "tree", "sub", "d-clean.bin"), randomBytes(2000));
  mkdirSync(join(dir, "clean-tree"));
  writeFileSync(join(dir, "clean-tree", "one.txt"), "one\n");
  [clamd, scanner] = await Promise.all([
    startRealClamd(dir, db, STREAM_MAX),
    createScanner({ databases: [db], workers: 1, cacheDir: null }),
  ]);
  bulwark = await startClamdServer({ scanner, listen: { path: join(dir, "bulwark.sock") }, streamMaxLength: STREAM_MAX });
});

afterAll(async () => {
  await bulwark?.close();
  await scanner?.close();
  await clamd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The transcript: one connection per entry (clamd closes after each non-session command). */
function transcript(): [string, Buffer][] {
  const t = (s: string) => Buffer.from(s, "latin1");
  const p = (...parts: string[]) => join(dir, ...parts);
  return [
    ["PING (old style)", t("PING\n")],
    ["nPING", t("nPING\n")],
    ["zPING", t("zPING\0")],
    ["PING with CRLF", t("nPING\r\n")],
    ["INSTREAM clean", instream(Buffer.from("hello, world\n"))],
    ["INSTREAM infected", instream(infected)],
    ["INSTREAM infected, 1-byte chunks, n framing", instream(infected, 1, "n")],
    ["INSTREAM empty", instream(Buffer.alloc(0))],
    ["INSTREAM exactly at the limit", instream(Buffer.alloc(STREAM_MAX, 0x61), 1000)],
    ["INSTREAM one byte over the limit", instream(Buffer.alloc(STREAM_MAX + 1, 0x61), 1000)],
    ["INSTREAM chunk length 0xffffffff", Buffer.concat([t("zINSTREAM\0"), Buffer.from([0xff, 0xff, 0xff, 0xff])])],
    ["SCAN clean file", t(`nSCAN ${p("tree", "a-clean.txt")}\n`)],
    ["SCAN infected file", t(`nSCAN ${p("tree", "b-infected.txt")}\n`)],
    ["SCAN missing file", t(`nSCAN ${p("nope.txt")}\n`)],
    ["SCAN empty path", t("nSCAN \n")],
    ["SCAN directory (stops at first hit)", t(`zSCAN ${p("tree")}\0`)],
    ["SCAN clean directory, trailing slash", t(`SCAN ${p("clean-tree")}/\n`)],
    ["CONTSCAN directory", t(`nCONTSCAN ${p("tree")}\n`)],
    ["MULTISCAN clean directory", t(`nMULTISCAN ${p("clean-tree")}\n`)],
    ["IDSESSION, sequential PINGs and a scan", t(`zIDSESSION\0zPING\0nPING\nzSCAN ${p("tree", "a-clean.txt")}\0zEND\0`)],
    ["IDSESSION with a command not allowed inside", t("zIDSESSION\0zCONTSCAN /\0")],
    ["END outside a session", t("zEND\0")],
    ["unknown command", t("nFOO\n")],
    ["unknown old-style command", t("FOO\n")],
    ["lower case", t("nping\n")],
    ["argument to PING", t("nPING now\n")],
    ["SCAN without argument", t("nSCAN\n")],
    ["INSTREAM without prefix", t("INSTREAM\n")],
    ["STATS without prefix", t("STATS\n")],
    ["empty line", t("\n")],
  ];
}

async function replies(addr: Address, steps: [string, Buffer][]): Promise<string[]> {
  const out: string[] = [];
  // sequential, so IDSESSION replies cannot interleave with other connections' scans
  for (const [, bytes] of steps) out.push((await talk(addr, bytes)).toString("latin1"));
  return out;
}

describe("clamd conformance: Bulwark vs real clamd 1.4 on the same signatures", () => {
  it("identical replies for the whole transcript", async () => {
    const steps = transcript();
    const [ref, ours] = [await replies(clamd.address, steps), await replies(bulwark.address, steps)];
    // guard against a vacuous pass: the reference must show the signature and the limit
    expect(ref[5]).toBe("stream: Test.Conformance.Marker.UNOFFICIAL FOUND\0");
    expect(ref[9]).toBe("INSTREAM size limit exceeded. ERROR\0");
    const diffs = steps
      .map(([name], i) => ({ name, clamd: ref[i], bulwark: ours[i] }))
      .filter((d) => d.clamd !== d.bulwark);
    expect(diffs).toEqual([]);
  });

  it("MULTISCAN of a tree: the same lines (clamd's order depends on its threads, so sorted)", async () => {
    const cmd = Buffer.from(`nMULTISCAN ${join(dir, "tree")}\n`);
    const lines = async (a: Address) => (await talk(a, cmd)).toString().split("\n").sort();
    const ref = await lines(clamd.address);
    expect(ref.filter((l) => l.endsWith(" FOUND"))).toHaveLength(2);
    expect(await lines(bulwark.address)).toEqual(ref);
  });

  it("STATS: both send a block that starts with POOLS: and ends with END", async () => {
    for (const addr of [clamd.address, bulwark.address]) {
      const r = (await talk(addr, Buffer.from("zSTATS\0"))).toString("latin1");
      expect(r).toMatch(/^POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live \d+ {2}idle \d+ max \d+ idle-timeout \d+\nQUEUE: 0 items\n[^]*\nEND\0$/);
    }
  });

  it("an idle client: the same timeout reply", async () => {
    const idle = await startClamdServer({ scanner, listen: { path: join(dir, "idle.sock") }, streamMaxLength: STREAM_MAX, idleTimeoutMs: 1000 });
    try {
      const [ref, ours] = await Promise.all([talk(clamd.address, Buffer.from("nPI")), talk(idle.address, Buffer.from("nPI"))]);
      expect(ref.toString()).toBe("COMMAND READ TIMED OUT\n");
      expect(ours.toString()).toBe(ref.toString());
    } finally {
      await idle.close();
    }
  });

  it("VERSION: both answer `ClamAV <x.y.z>` with the request's terminator", async () => {
    for (const [cmd, term] of [["nVERSION\n", "\n"], ["zVERSION\0", "\0"], ["VERSION\n", "\n"]] as const) {
      for (const addr of [clamd.address, bulwark.address]) {
        const r = (await talk(addr, Buffer.from(cmd))).toString("latin1");
        expect(r).toMatch(/^ClamAV \d+\.\d+\.\d+/);
        expect(r.endsWith(term)).toBe(true);
        expect(r.slice(0, -1)).not.toMatch(/[\0\n]/);
      }
    }
  });

  it("VERSIONCOMMANDS: the same shape, and every command we list is one clamd lists", async () => {
    const parse = (r: string) => {
      const m = /^ClamAV [^|]+\| COMMANDS: ([A-Z ]+)\n$/.exec(r);
      expect(m, r).not.toBeNull();
      return m![1].split(" ");
    };
    const theirs = parse((await talk(clamd.address, Buffer.from("nVERSIONCOMMANDS\n"))).toString());
    const ours = parse((await talk(bulwark.address, Buffer.from("nVERSIONCOMMANDS\n"))).toString());
    expect(ours.filter((c) => !theirs.includes(c))).toEqual([]);
    expect(theirs.filter((c) => !ours.includes(c))).toEqual(["FILDES"]);
  });
});
