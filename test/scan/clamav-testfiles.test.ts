/**
 * Issue 2, "what it must show" 1: with ClamAV's own test signature, Bulwark finds the test
 * file inside Debian's clamav-testfiles (clamscan finds 44 of 44). Runs real clamscan on the
 * same files and signature for the side-by-side count.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScanner } from "../../host/index.js";
import type { Scanner } from "../../host/api.js";

const DIR = "/usr/share/clamav-testfiles";
const SIG = "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:ClamAV-Test-File\n";
const NAME = "ClamAV-Test-File.UNOFFICIAL";

/** Formats the issue requires (mail, zip, gzip, tar, bzip2, mbox) plus the plain file. */
const REQUIRED = [
  "clam.exe", "clam.mail", "clam.exe.mbox.base64", "clam.exe.mbox.uu", "clam.zip", "clam.bz2.zip",
  "clam.d64.zip", "clam.impl.zip", "clam.tar.gz", "clam_cache_emax.tgz", "clam.exe.bz2",
];
/** Formats beyond the list that Bulwark also opens (a regression here fails too). */
const EXTRA = [
  "clam.exe.binhex", "clam.exe.html", "clam.tnef", "clam.bin-be.cpio", "clam.bin-le.cpio", "clam.newc.cpio",
  "clam.odc.cpio", "clam.ole.doc", "clam.ppt", "clam.pdf", "clam.exe.rtf", "clam.exe.szdd", "clam.7z", "clam.arj",
  "clam.cab", "clam.chm", "clam-nsis.exe", "clam.sis", "clam_ISmsi_ext.exe", "clam_ISmsi_int.exe",
  "clam_IScab_ext.exe", "clam_IScab_int.exe", "clam-upx.exe", "clam-fsg.exe",
];

let tmp: string;
let scanner: Scanner;

beforeAll(async () => {
  if (!fs.existsSync(DIR)) throw new Error(`${DIR} missing: apt-get install clamav-testfiles (see .ci/run)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-tf-"));
  fs.writeFileSync(path.join(tmp, "clamav.hdb"), SIG);
  scanner = await createScanner({ databases: [path.join(tmp, "clamav.hdb")], workers: 0, cacheDir: null });
});
afterAll(async () => {
  await scanner?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("Debian clamav-testfiles with ClamAV's test signature", () => {
  it("finds the test file in every required format, and counts the rest against clamscan", async () => {
    const files = fs.readdirSync(DIR).sort();
    expect(files.length).toBe(44);
    const found: string[] = [];
    const missed: string[] = [];
    for (const f of files) {
      const v = await scanner.scan(path.join(DIR, f));
      if (v.names.includes(NAME)) found.push(f);
      else missed.push(f);
    }
    const r = spawnSync("clamscan", ["--no-summary", "-d", path.join(tmp, "clamav.hdb"), DIR], { encoding: "utf8" });
    if (r.error) throw new Error(`clamscan is required for this test: ${r.error.message}`);
    const clamFound = r.stdout.split("\n").filter((l) => l.endsWith(`${NAME} FOUND`)).length;
    console.log(`clamav-testfiles: Bulwark ${found.length}/44, clamscan ${clamFound}/44; Bulwark misses: ${missed.join(" ")}`);
    for (const f of [...REQUIRED, ...EXTRA]) expect(found, `missed ${f}`).toContain(f);
    expect(clamFound).toBe(44);
    expect(found.length).toBe(REQUIRED.length + EXTRA.length);
  });

  it("reports the inner path of the detection", async () => {
    const v = await scanner.scan(path.join(DIR, "clam.tar.gz"));
    expect(v.status).toBe("infected");
    const d = v.detections.find((x) => x.name === NAME)!;
    expect(d.path.split("/").pop()).toBe("clam.exe");
    expect(d.path.split("/").length).toBeGreaterThanOrEqual(2); // gunzip member, then the tar member
  });

  it("a clean file is clean and the built-in EICAR signature works without any database", async () => {
    const plain = await createScanner({ workers: 0, cacheDir: null });
    try {
      const eicar = Buffer.from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
      expect((await plain.scan(eicar)).names).toEqual(["Eicar-Test-Signature"]);
      expect((await plain.scan(Buffer.from("hello world"))).status).toBe("clean");
    } finally {
      await plain.close();
    }
  });
});
