/**
 * Signature loading: every supported format, bad lines reported (file:line:reason) and
 * skipped, FLEVEL filtering, ignore lists, directories, .cvd/.cld/.cud containers built here
 * (with a correct and a corrupted MD5), and the built-in EICAR signature.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EICAR, EICAR_SIG_NAME, loadSignatures, loadSignaturesSync } from "../../host/sigs/load.js";
import { buildCvd, readTar } from "../../host/sigs/cvd.js";
import { referenceMatch } from "../../host/engine/reference.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-load-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function write(name: string, content: string | Buffer): string {
  const dir = path.join(tmp, `t${n++}`);
  fs.mkdirSync(dir);
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}
const load = (p: string) => loadSignaturesSync([p], { builtin: false });
const lines = (...l: string[]) => l.join("\n") + "\n";

describe(".ndb", () => {
  it("loads good lines, reports each bad line with file, line and reason, and goes on", () => {
    const p = write(
      "a.ndb",
      lines(
        "# comment",
        "Good.One:0:*:aabbccdd",
        "Bad.Hex:0:*:aabbzz",
        "",
        "Bad.Fields:0:*",
        "Bad.Offset:1:EP+0:aabbccdd",
        "Good.Two:*:10,4:aabb??ccdd",
        "Bad.Target:x:*:aabbccdd",
        "Good.Three:0:EOF-20:aabbccdd",
      ),
    );
    const set = load(p);
    expect(set.ndb.map((s) => s.name)).toEqual(["Good.One.UNOFFICIAL", "Good.Two.UNOFFICIAL", "Good.Three.UNOFFICIAL"]);
    expect(set.ndb[1].target).toBe(0);
    expect(set.ndb[1].body.offset).toEqual({ kind: "abs", n: 10, shift: 4 });
    expect(set.ndb[2].body.offset).toEqual({ kind: "eof", n: 20, shift: 0 });
    expect(set.ndb[1].src).toEqual({ file: p, line: 7 });
    expect(set.errors.map((e) => [e.file, e.line])).toEqual([
      [p, 3],
      [p, 5],
      [p, 6],
      [p, 8],
    ]);
    expect(set.errors[0].reason).toMatch(/invalid hex/);
    expect(set.errors[1].reason).toMatch(/4 to 6/);
    expect(set.errors[2].reason).toMatch(/unsupported offset/);
    expect(set.errors[3].reason).toMatch(/target/);
  });

  it("skips silently what ClamAV skips: FLEVEL outside 220, unknown targets", () => {
    const set = load(write("f.ndb", lines("A:0:*:aabbccdd:221", "B:0:*:aabbccdd:1:219", "C:0:*:aabbccdd:220:220", "D:15:*:aabbccdd", "E:14:*:aabbccdd")));
    expect(set.ndb.map((s) => s.name)).toEqual(["C.UNOFFICIAL", "E.UNOFFICIAL"]);
    expect(set.errors).toEqual([]);
  });

  it("enforces ClamAV's 3-byte minimum for plain signatures it sends to Boyer-Moore (measured)", () => {
    const set = load(write("bm.ndb", lines("Short:0:*:4c30", "AcOk:0:*:4c30*4c31", "Pe:1:*:4c30", "Six:6:*:4c30")));
    expect(set.ndb.map((s) => s.name)).toEqual(["AcOk.UNOFFICIAL", "Pe.UNOFFICIAL", "Six.UNOFFICIAL"]);
    expect(set.errors[0].reason).toMatch(/Boyer-Moore/);
  });

  it("an empty file and an over-long line are errors", () => {
    const e = write("e.ndb", "");
    expect(load(e).errors).toEqual([{ file: e, line: 0, reason: "empty database file" }]);
    const l = write("l.ndb", `Long:0:*:${"aa".repeat(5000)}\nOk:0:*:aabbcc\n`);
    const set = load(l);
    expect(set.errors[0]).toMatchObject({ line: 1, reason: expect.stringMatching(/longer than 8192/) });
    expect(set.ndb).toHaveLength(1);
  });
});

describe(".ldb", () => {
  it("parses TDB, logic and subsignature forms", () => {
    const set = load(
      write(
        "a.ldb",
        lines(
          "L.One;Engine:51-255,Target:0,FileSize:10-5000;0&1&2;aabbcc;20:ddeeff;414243::iw",
          "L.Two;Target:1;0|1;aabbcc;ddeeff",
          "L.Skip;Engine:250-255,Target:0;0;aabbcc",
          "L.Unknown;Engine:51-255,Target:0,Whatever:1;0;aabbcc",
        ),
      ),
    );
    expect(set.errors).toEqual([]);
    expect(set.ldb.map((s) => s.name)).toEqual(["L.One.UNOFFICIAL", "L.Two.UNOFFICIAL"]);
    const [one, two] = set.ldb;
    expect(one.fileSize).toEqual([10, 5000]);
    expect(one.target).toBe(0);
    expect(two.target).toBe(1);
    expect(one.subsigs[1].offset).toEqual({ kind: "abs", n: 20, shift: 0 });
    const wide = one.subsigs[2];
    expect(wide.nocase).toBe(true);
    expect(Buffer.from(wide.alts[0].parts[0].segs[0].bytes).toString("hex")).toBe("410042004300");
    expect([...wide.alts[0].parts[0].segs[0].masks]).toEqual([0xdf, 0xff, 0xdf, 0xff, 0xdf, 0xff]);
  });

  it.each([
    ["L;Engine:51-255;0;aabbcc", /no Target/],
    ["L;Target:0,Engine:51-255;0;aabbcc", /Engine must be the first/],
    ["L;Target:0,FileSize:1-9;0;aabbcc", /Engine:51/],
    ["L;Engine:51-255,Target:1,EntryPoint:0-9;0;aabbcc", /EntryPoint is not supported/],
    ["L;Engine:51-255,Target:0;0|1;aabbcc", /the line has 1/],
    ["L;Engine:51-255,Target:0;0;aabbcc;ddeeff", /the line has 2/],
    ["L;Engine:51-255,Target:0;0;aabbcc/abc/", /PCRE/],
    ["L;Engine:51-255,Target:0;0|1;aabbcc;${1-2}0$", /macro/],
    ["L;Engine:51-255,Target:0;0|1;aabbcc;0(>>4#hb2#=12)", /byte-compare/],
    ["L;Engine:51-255,Target:0;0;aabbcc::x", /invalid subsignature option/],
    ["L;Engine:51-255,Target:0;0;aabb!(cc|dd)::i", /negation/],
    ["L;Engine:51-255,Target:0;0;aabbcc", null],
  ])("%s", (line, re) => {
    const p = write("x.ldb", line + "\n");
    const set = load(p);
    if (re === null) {
      expect(set.errors).toEqual([]);
      expect(set.ldb).toHaveLength(1);
    } else {
      expect(set.ldb).toHaveLength(0);
      expect(set.errors).toHaveLength(1);
      expect(set.errors[0]).toMatchObject({ file: p, line: 1 });
      expect(set.errors[0].reason).toMatch(re);
    }
  });
});

describe("hash databases and ignore lists", () => {
  const md5 = "44d88612fea8a8f36de82e1278abb02f";
  const sha1 = "3395856ce81f2b7382dee72602f798b642f14140";
  const sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

  it(".hdb/.hsb: algorithm by length, sizes, `*` needs FLEVEL 73", () => {
    const p = write("a.hdb", lines(`${md5}:68:H.Md5`, `${sha1}:68:H.Sha1`, `${sha256}:*:H.Any:73`, `${md5}:*:H.Bad`, `${md5}:0:H.Zero`, `abcd:68:H.Short`, `${md5}:68:H.Future:300`));
    const set = load(p);
    expect([...set.hashes].map((h) => [h.name, h.algo, h.size])).toEqual([
      ["H.Md5.UNOFFICIAL", "md5", 68],
      ["H.Sha1.UNOFFICIAL", "sha1", 68],
      ["H.Any.UNOFFICIAL", "sha256", null],
    ]);
    expect(Buffer.from([...set.hashes][0].digest).toString("hex")).toBe(md5);
    expect(set.errors.map((e) => e.line)).toEqual([4, 5, 6]);
    expect(set.errors[0].reason).toMatch(/73/);
  });

  it(".fp/.sfp go to the allow list", () => {
    const set = load(write("a.sfp", lines(`${sha256}:68:Allowed`)));
    expect(set.allow).toHaveLength(1);
    expect(set.hashes).toHaveLength(0);
  });

  it(".ign/.ign2 names are dropped from every list and kept in `ignored`", () => {
    const dir = path.join(tmp, "ign");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "a.ndb"), lines("Keep:0:*:aabbcc", "Drop.Me:0:*:aabbcc"));
    fs.writeFileSync(path.join(dir, "b.hdb"), lines(`${md5}:68:Drop.Hash`));
    fs.writeFileSync(path.join(dir, "c.ign2"), lines("Drop.Me", `Drop.Hash.UNOFFICIAL:${md5}`, "x:bad"));
    const set = load(dir);
    expect(set.ndb.map((s) => s.name)).toEqual(["Keep.UNOFFICIAL"]);
    expect([...set.hashes]).toEqual([]);
    expect([...set.ignored].sort()).toEqual(["Drop.Hash", "Drop.Me"]);
    expect(set.errors).toHaveLength(1);
    expect(set.errors[0].reason).toMatch(/MD5/);
  });
});

describe("directories and containers", () => {
  it("loads every supported file of a directory, reports unsupported ClamAV types, ignores others", () => {
    const dir = path.join(tmp, "dir");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "a.ndb"), "A:0:*:aabbcc\n");
    fs.writeFileSync(path.join(dir, "b.ldb"), "B;Engine:51-255,Target:0;0;aabbcc\n");
    fs.writeFileSync(path.join(dir, "c.mdb"), "1:" + "0".repeat(32) + ":M\n");
    fs.writeFileSync(path.join(dir, "readme.txt"), "hello\n");
    fs.writeFileSync(path.join(dir, "d.ndu"), "PUA.X:0:*:aabbcc\n");
    const set = load(dir);
    expect(set.ndb.map((s) => s.name)).toEqual(["A.UNOFFICIAL"]);
    expect(set.ldb).toHaveLength(1);
    expect(set.files.map((f) => path.basename(f))).toEqual(["a.ndb", "b.ldb", "c.mdb"]);
    expect(set.errors).toEqual([{ file: path.join(dir, "c.mdb"), line: 0, reason: expect.stringMatching(/not supported/) }]);
    const empty = path.join(tmp, "emptydir");
    fs.mkdirSync(empty);
    expect(load(empty).errors[0].reason).toMatch(/no supported database/);
    expect(load(path.join(tmp, "missing")).errors[0].reason).toMatch(/cannot read/);
  });

  const members = [
    { name: "COPYING", data: Buffer.from("license text\n") },
    { name: "test.ndb", data: Buffer.from("Official.Ndb:0:*:aabbccdd\nBroken:0:*:aabbzz\n") },
    { name: "test.hdb", data: Buffer.from("44d88612fea8a8f36de82e1278abb02f:68:Official.Hash\n") },
    { name: "test.info", data: Buffer.from("ClamAV-VDB:whatever\n") },
    { name: "test.cfg", data: Buffer.from("DOCUMENT:0x3:0:0\n") },
  ];

  it("a .cvd with a correct MD5 loads its members as official signatures", () => {
    const p = write("test.cvd", buildCvd(members, { gzip: true }));
    const set = load(p);
    expect(set.ndb.map((s) => s.name)).toEqual(["Official.Ndb"]);
    expect([...set.hashes].map((s) => s.name)).toEqual(["Official.Hash"]);
    expect(set.errors).toEqual([
      { file: `${p}/test.ndb`, line: 2, reason: expect.stringMatching(/invalid hex/) },
      { file: p, line: 0, reason: "members of unsupported types skipped: test.cfg" },
    ]);
    expect(set.files).toEqual([p]);
  });

  it("a .cvd whose MD5 does not match is rejected whole", () => {
    const good = buildCvd(members, { gzip: true });
    const bad = Buffer.from(good);
    bad[bad.length - 20] ^= 0xff; // corrupt the body
    const p = write("bad.cvd", bad);
    const set = load(p);
    expect(set.ndb).toEqual([]);
    expect(set.errors).toEqual([{ file: p, line: 0, reason: expect.stringMatching(/MD5 mismatch/) }]);
    const wrongHeader = write("wrong.cvd", buildCvd(members, { gzip: true, md5: "0".repeat(32) }));
    expect(load(wrongHeader).errors[0].reason).toMatch(/MD5 mismatch/);
  });

  it(".cld (plain tar) loads without an MD5 check; .cud names are unofficial", () => {
    const cld = load(write("x.cld", buildCvd(members, { gzip: false, md5: "whatever" })));
    expect(cld.ndb.map((s) => s.name)).toEqual(["Official.Ndb"]);
    const cud = load(write("x.cud", buildCvd(members, { gzip: true })));
    expect(cud.ndb.map((s) => s.name)).toEqual(["Official.Ndb.UNOFFICIAL"]);
  });

  it("malformed containers are errors, not crashes", () => {
    expect(load(write("short.cvd", "ClamAV-VDB:x")).errors[0].reason).toMatch(/shorter than/);
    expect(load(write("nohead.cvd", Buffer.alloc(600, 0x41))).errors[0].reason).toMatch(/not a CVD/);
    const tar = buildCvd([{ name: "a.ndb", data: Buffer.from("A:0:*:aabbcc\n") }], { gzip: false }).subarray(512);
    expect(() => readTar(tar.subarray(0, 520))).toThrow(/past the end/);
    const slash = buildCvd([{ name: "dir/a.ndb", data: Buffer.from("A:0:*:aabbcc\n") }], { gzip: true });
    expect(load(write("slash.cvd", slash)).errors[0].reason).toMatch(/'\/'/);
  });
});

describe("built-in EICAR signature", () => {
  it("is added by default, official, and matches the EICAR file only at offset 0", async () => {
    const p = write("none.ndb", "X:0:*:aabbccdd\n");
    const set = await loadSignatures([p]);
    const eicar = set.ndb.find((s) => s.name === EICAR_SIG_NAME)!;
    expect(eicar.src.file).toBe("<builtin>");
    const idx = set.ndb.indexOf(eicar);
    expect(referenceMatch(set, Buffer.from(EICAR), { target: 0 }).ndb).toEqual([idx]);
    expect(referenceMatch(set, Buffer.from(" " + EICAR), { target: 0 }).ndb).toEqual([]);
    expect((await loadSignatures([p], { builtin: false })).ndb.some((s) => s.name === EICAR_SIG_NAME)).toBe(false);
  });

  it("async and sync loading agree", async () => {
    const p = write("s.ndb", lines("A:0:*:aabbcc", "B:0:*:zz"));
    const a = await loadSignatures([p]);
    const b = loadSignaturesSync([p]);
    expect(a.ndb.map((s) => s.name)).toEqual(b.ndb.map((s) => s.name));
    expect(a.errors).toEqual(b.errors);
  });
});
