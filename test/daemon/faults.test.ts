/**
 * Failures in the middle of a scan, made deterministic with the daemon's test fault hooks
 * (BULWARK_TEST_FAULTS=1, host/daemon/test-faults.ts): an input starting with TEST_SPIN_MARKER
 * keeps a scan worker busy until something ends it, and the daemon logs each scan's start.
 *  (a) A scan worker terminated abruptly while it scans (SIGUSR2 -> Worker.terminate()): the
 *      request is answered not scanned (Bulwark.Error.ECRASHED), the pool replaces the worker
 *      (one worker configured), and the next requests are scanned normally.
 *  (b) The whole daemon killed with SIGKILL while bulwark-pipe waits for its verdict: the pipe
 *      defers (exit 75) and writes nothing; a restarted daemon (stale pid file and socket left
 *      behind) scans the next mails normally.
 * No wall-clock assertion: the spin ends only when the test acts (max_scan_time is set far
 * beyond the test's duration, so the watchdog never gets there first).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { daemonScan } from "../../agents/common/daemon-client.js";
import { TEST_SPIN_MARKER } from "../../host/daemon/test-faults.js";
import { type DaemonProcess, EICAR, runAgent, startAgent, startDaemonProcess, tempDir, until, writeConfig } from "./daemon-process.js";

const FAULTS = { BULWARK_TEST_FAULTS: "1" };
/** Far longer than the test runs: only the test's own action can end a spinning scan. */
const CONFIG = "max_scan_time = 3600000\n";

const dirs: string[] = [];
const daemons: DaemonProcess[] = [];
afterAll(async () => {
  for (const d of daemons) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill("SIGTERM");
      await d.exited;
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function daemonIn(dir: string, cfg: string, env: NodeJS.ProcessEnv = FAULTS): Promise<DaemonProcess> {
  const d = await startDaemonProcess(cfg, join(dir, "cache"), env);
  daemons.push(d);
  return d;
}

function setup(): { dir: string; cfg: string } {
  const dir = tempDir("bulwark-faults-");
  dirs.push(dir);
  const cfg = writeConfig(dir);
  const text = readFileSync(cfg, "utf8");
  if (!text.includes("workers = 1\n")) throw new Error("the config template changed");
  writeFileSync(cfg, text.replace("workers = 1\n", `workers = 1\n${CONFIG}`));
  return { dir, cfg };
}

const SPIN_MAIL = Buffer.from(`${TEST_SPIN_MARKER}\nFrom: a@example.org\nSubject: stuck\n\nthis mail keeps a scan worker busy\n`);
const CLEAN_MAIL = Buffer.from("From: a@example.org\nTo: b@example.org\nSubject: hello\n\nJust text.\n");
const EICAR_MAIL = Buffer.concat([Buffer.from("From: a@example.org\nSubject: test\n\n"), EICAR, Buffer.from("\n")]);

const count = (text: string, what: string) => text.split(what).length - 1;

describe("a scan worker ended in the middle of a scan (test fault hook)", () => {
  it("answers that request not scanned, replaces the worker, and scans the next requests normally", async () => {
    const { dir, cfg } = setup();
    const d = await daemonIn(dir, cfg);
    expect(d.log()).toMatch(/test-faults: BULWARK_TEST_FAULTS=1, fault hooks are active/);
    const stuck = daemonScan(d.socket, "cli", SPIN_MAIL);
    await until(() => d.log().includes("test-faults: scan started"), "the scan to start");
    // the request may still be on its way to the worker: ask until a busy worker was ended
    while (!d.log().includes("test-faults: terminated busy scan worker")) {
      const answers = count(d.log(), "test-faults: terminated") + count(d.log(), "test-faults: no busy scan worker");
      d.child.kill("SIGUSR2");
      await until(() => count(d.log(), "test-faults: terminated") + count(d.log(), "test-faults: no busy scan worker") > answers, "the hook's answer");
    }
    const v = await stuck;
    expect(v.status).toBe("not_scanned");
    expect(v.notScanned[0]?.name).toBe("Bulwark.Error.ECRASHED");
    expect(v.names).toEqual([]);

    // one worker configured: these are scanned by its replacement
    const infected = await daemonScan(d.socket, "cli", EICAR);
    expect(infected.status).toBe("infected");
    expect(infected.names).toEqual(["Eicar-Test-Signature"]);
    expect((await daemonScan(d.socket, "cli", Buffer.from("plain text\n"))).status).toBe("clean");
    expect(d.child.exitCode).toBe(null);
  });

  it("the hooks are off without BULWARK_TEST_FAULTS=1: the marker is plain data and nothing is installed", async () => {
    const { dir, cfg } = setup();
    const d = await daemonIn(dir, cfg, {});
    expect((await daemonScan(d.socket, "cli", SPIN_MAIL)).status).toBe("clean");
    expect(d.log()).not.toMatch(/test-faults/);
  });
});

describe("the daemon killed with SIGKILL while bulwark-pipe waits", () => {
  it("the pipe exits 75 and writes nothing; a restarted daemon scans the next mails normally", async () => {
    const { dir, cfg } = setup();
    const d = await daemonIn(dir, cfg);
    const pipe = startAgent("bulwark-pipe", ["--config", cfg], SPIN_MAIL);
    await until(() => d.log().includes("test-faults: scan started"), "the daemon to be scanning the mail");
    d.child.kill("SIGKILL");
    const r = await pipe.done;
    expect(r.code).toBe(75);
    expect(r.stdout.length).toBe(0);

    // the killed daemon left its pid file and socket behind; a new one replaces both
    const again = await daemonIn(dir, cfg);
    const clean = runAgent("bulwark-pipe", ["--config", cfg], CLEAN_MAIL);
    expect(clean.code).toBe(0);
    expect(clean.stdout.toString("latin1")).toMatch(/^X-Bulwark-Verdict: clean\n/);
    expect(clean.stdout.toString("latin1").endsWith(CLEAN_MAIL.toString("latin1"))).toBe(true);
    const infected = runAgent("bulwark-pipe", ["--config", cfg], EICAR_MAIL);
    expect(infected.code).toBe(69);
    expect(infected.stdout.length).toBe(0);
    expect(again.child.exitCode).toBe(null);
  });
});
