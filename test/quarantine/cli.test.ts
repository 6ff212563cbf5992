/**
 * `bulwark quar` through the real built CLI (./bin/bulwark -> dist/, built by `npm run build`,
 * which `npm test` runs first): import, list with filters and JSON, show with hostile headers
 * made printable, restore, delete, and the exit codes 0 / 1 (not found) / 2 (error).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openQuarantine } from "../../host/quarantine/store.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "bulwark");
const dir = mkdtempSync(join(tmpdir(), "bulwark-quar-cli-"));
const sha = (b: Uint8Array | string): string => createHash("sha256").update(b).digest("hex");

function quar(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, "quar", ...args], { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HOSTILE = "From: evil@x.org\r\nSubject: pay now\x1b[2J\x1b]0;owned\x07\u202eexe.pdf\r\nTo: bob@y.org\r\n\r\nbody\r\n";
const PLAIN = "From: alice@x.org\r\nSubject: hello\r\n\r\nhi\r\n";

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "host", "cli", "quar-command.js"))) {
    throw new Error("dist/host/cli/quar-command.js is missing: run `npm run build` first (npm test does)");
  }
  writeFileSync(join(dir, "hostile.eml"), HOSTILE);
  writeFileSync(join(dir, "plain.eml"), PLAIN);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bulwark quar", () => {
  it("imports files, lists, shows, restores and deletes them", () => {
    const q = join(dir, "q1");
    const imp = quar(["--dir", q, "import", "hostile.eml", "plain.eml"]);
    expect(imp).toMatchObject({ code: 0, stderr: "" });
    expect(imp.stdout).toBe(`${sha(HOSTILE)}  hostile.eml\n${sha(PLAIN)}  plain.eml\n`);

    const list = quar(["--dir", q, "list"]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines.map((l) => l.split("  ")[0])).toEqual([sha(PLAIN), sha(HOSTILE)]); // newest first
    expect(lines[0]).toMatch(/ {2}imported {2}\d+ {2}/);

    const json = JSON.parse(quar(["list", "--dir", q, "--json", "--status", "imported"]).stdout);
    expect(json).toHaveLength(2);
    expect(json[1]).toMatchObject({ id: sha(HOSTILE), status: "imported", size: Buffer.byteLength(HOSTILE), names: [] });

    const show = quar(["--dir", q, "show", sha(HOSTILE).slice(0, 10)]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`id:         ${sha(HOSTILE)}`);
    expect(show.stdout).toContain("  From: evil@x.org\n");
    expect(show.stdout).toContain("  To: bob@y.org\n");
    expect(show.stdout).not.toContain("\x1b");
    expect(show.stdout).not.toContain("\u202e");
    expect(show.stdout).toContain("\\u001b[2J");
    expect(show.stdout).not.toContain("body"); // headers only

    const out = join(dir, "restored");
    const restore = quar(["--dir", q, "restore", sha(PLAIN), "--to", out]);
    expect(restore).toMatchObject({ code: 0, stdout: `${join(out, `${sha(PLAIN)}.eml`)}\n` });
    expect(readFileSync(join(out, `${sha(PLAIN)}.eml`), "utf8")).toBe(PLAIN);
    expect(JSON.parse(quar(["--dir", q, "show", sha(PLAIN), "--json"]).stdout).restoredTo).toBe(join(out, `${sha(PLAIN)}.eml`));

    expect(quar(["--dir", q, "delete", sha(PLAIN)])).toMatchObject({ code: 0, stdout: `deleted ${sha(PLAIN)}\n` });
    expect(quar(["--dir", q, "list"]).stdout.trim().split("\n").map((l) => l.split("  ")[0])).toEqual([sha(HOSTILE)]);
  });

  it("filters by sender, recipient, name and time", async () => {
    const q = join(dir, "q2");
    const store = await openQuarantine(q, { warn: () => {} });
    const a = await store.put(Buffer.from("Subject: a\r\n\r\na"), { names: ["Eicar-Test-Signature"], status: "infected", sender: "spam@bad.org", recipients: ["ann@corp.example"], receivedAt: "2026-11-01T10:00:00Z" });
    const b = await store.put(Buffer.from("Subject: b\r\n\r\nb"), { names: ["Win.Trojan.Agent"], status: "infected", sender: "other@bad.org", recipients: ["bob@corp.example"], receivedAt: "2026-11-20T10:00:00Z" });
    await store.close();
    const ids = (args: string[]) => quar(["--dir", q, "list", ...args]).stdout.trim().split("\n").filter(Boolean).map((l) => l.split("  ")[0]);
    expect(ids(["--sender", "SPAM@"])).toEqual([a.id]);
    expect(ids(["--recipient", "bob@"])).toEqual([b.id]);
    expect(ids(["--name", "eicar"])).toEqual([a.id]);
    expect(ids(["--since", "2026-11-10"])).toEqual([b.id]);
    expect(ids(["--until", "2026-11-10"])).toEqual([a.id]);
    expect(ids(["--name", "nothing-like-this"])).toEqual([]);
    expect(ids([])).toEqual([b.id, a.id]);
    // $BULWARK_QUARANTINE_DIR stands in for --dir.
    expect(quar(["list", "--name", "trojan"], { BULWARK_QUARANTINE_DIR: q }).stdout.split("  ")[0]).toBe(b.id);
  });

  it("exits 1 for an unknown id and 2 for errors, corruption included", () => {
    const q = join(dir, "q3");
    expect(quar(["--dir", q, "import", "plain.eml"]).code).toBe(0);
    expect(quar(["--dir", q, "show", "0123456789abcdef"])).toMatchObject({ code: 1, stderr: "quarantine: no message 0123456789abcdef\n" });
    expect(quar(["--dir", q, "delete", "f".repeat(64)]).code).toBe(1);
    expect(quar(["--dir", q, "restore", "f".repeat(64)]).code).toBe(1);
    expect(quar(["--dir", q, "show", "zz"])).toMatchObject({ code: 2 });
    expect(quar(["--dir", q, "frobnicate"]).stderr).toMatch(/unknown action "frobnicate"/);
    expect(quar(["--dir", q, "frobnicate"]).code).toBe(2);
    expect(quar(["--dir", q, "show", sha(PLAIN), "--sender", "x"])).toMatchObject({ code: 2, stderr: "ERROR: --sender applies to list only\n" });
    expect(quar(["--dir", q, "list", "--since", "last tuesday"])).toMatchObject({ code: 2 });
    expect(quar(["--dir", q, "import"])).toMatchObject({ code: 2 });
    const imp = quar(["--dir", q, "import", "missing.eml", "hostile.eml"]);
    expect(imp.code).toBe(2); // one failed, the other was still imported
    expect(imp.stdout).toBe(`${sha(HOSTILE)}  hostile.eml\n`);
    expect(imp.stderr).toMatch(/missing\.eml/);

    const obj = join(q, "objects", sha(PLAIN).slice(0, 2), sha(PLAIN).slice(2));
    writeFileSync(obj, PLAIN.replace("hello", "hellO"));
    const show = quar(["--dir", q, "show", sha(PLAIN)]);
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(/is corrupt/);
    expect(quar(["--dir", q, "restore", sha(PLAIN), "--to", join(dir, "r3")]).code).toBe(2);
    expect(existsSync(join(dir, "r3", `${sha(PLAIN)}.eml`))).toBe(false);
  });
});
