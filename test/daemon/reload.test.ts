/**
 * Signature reloads in a real daemon process: scans keep being answered while SIGHUP reloads;
 * a signature added to base_dir is found after RELOAD (on the daemon socket, as the [clamd]
 * agent forwards it); a bad .ndb line is skipped with a warning; a corrupt .cvd refuses the
 * reload with an error and the daemon keeps serving with the signatures it had.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { daemonScan } from "../../agents/common/daemon-client.js";
import { clamdRequest } from "../helpers/clamd-request.js";
import { type DaemonProcess, EICAR, startDaemonProcess, tempDir, until, writeConfig } from "./daemon-process.js";

let d: DaemonProcess | undefined;
let dir: string | undefined;
afterAll(async () => {
  if (d && d.child.exitCode === null) {
    d.child.kill("SIGTERM");
    await d.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const marker = (name: string) => Buffer.from(`daemon reload marker ${name} ${Math.random().toString(36).slice(2)}\n`);
const ndbLine = (name: string, m: Buffer) => `${name}:0:*:${m.subarray(0, 32).toString("hex")}\n`;
const count = (text: string, what: string) => text.split(what).length - 1;

describe("signature reload in the daemon", () => {
  it("serves through reloads, adds new signatures, skips bad lines, refuses a corrupt .cvd and keeps serving", async () => {
    dir = tempDir("bulwark-reload-");
    const lib = join(dir, "lib");
    mkdirSync(lib);
    const a = marker("a");
    const b = marker("b");
    writeFileSync(join(lib, "a.ndb"), ndbLine("Bulwark.Test.A", a));
    d = await startDaemonProcess(writeConfig(dir), join(dir, "cache"));
    expect((await daemonScan(d.socket, "cli", a)).names).toEqual(["Bulwark.Test.A.UNOFFICIAL"]);

    // requests sent around a SIGHUP reload are all answered, correctly
    const inputs = Array.from({ length: 30 }, (_, i) => (i % 2 ? EICAR : Buffer.from(`clean ${i}\n`)));
    const scans = inputs.map((x, i) => new Promise((r) => setTimeout(r, i * 5)).then(() => daemonScan(d!.socket, "cli", x)));
    d.child.kill("SIGHUP");
    const verdicts = await Promise.all(scans);
    verdicts.forEach((v, i) => expect(v.status).toBe(i % 2 ? "infected" : "clean"));
    await until(() => d!.log().includes("signatures reloaded"), "the SIGHUP reload");

    // RELOAD on the daemon socket (what the [clamd] agent forwards): b found, the bad line skipped
    writeFileSync(join(lib, "b.ndb"), `${ndbLine("Bulwark.Test.B", b)}not a signature line\n`);
    expect(await clamdRequest(d.socket, "RELOAD")).toBe("RELOADING");
    await until(() => count(d!.log(), "signatures reloaded") === 2, "the RELOAD");
    expect(d.log()).toMatch(/warning: signatures: .*b\.ndb:2: .*\(skipped\)/);
    expect((await daemonScan(d.socket, "cli", b)).names).toEqual(["Bulwark.Test.B.UNOFFICIAL"]);

    // a corrupt official container: the reload is refused and the loaded signatures stay
    const c = marker("c");
    writeFileSync(join(lib, "c.ndb"), ndbLine("Bulwark.Test.C", c));
    writeFileSync(join(lib, "main.cvd"), Buffer.concat([Buffer.from("ClamAV-VDB:01 Jan 2026 00-00 +0000:62:100:90:00000000000000000000000000000000:sig:builder:1700000000".padEnd(512, " ")), Buffer.from("cut short")]));
    expect(await clamdRequest(d.socket, "RELOAD")).toBe("RELOADING");
    await until(() => d!.log().includes("signature reload refused"), "the refused reload");
    expect(d.log()).toMatch(/error: signature reload refused, keeping the loaded signatures: .*main\.cvd: bad container/);
    expect(d.child.exitCode).toBe(null);
    expect((await daemonScan(d.socket, "cli", a)).status).toBe("infected");
    expect((await daemonScan(d.socket, "cli", b)).status).toBe("infected");
    expect((await daemonScan(d.socket, "cli", c)).status).toBe("clean");
    expect((await daemonScan(d.socket, "cli", EICAR)).names).toEqual(["Eicar-Test-Signature"]);
  });
});
