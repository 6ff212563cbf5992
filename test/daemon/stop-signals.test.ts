/**
 * Signals that reach `bulwark daemon --foreground` while it is stopping: a SIGHUP (whose default
 * action terminates) or a second SIGTERM must not kill it half-way; it finishes its stop, removes
 * its pid file and exits 0. The stop is held open deterministically by a [clamd] agent that the
 * test freezes with SIGSTOP, so the supervisor waits its grace period before SIGKILL.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_STOP_GRACE_MS } from "../../host/daemon/supervisor.js";
import { startDaemonProcess, tempDir, until, writeConfig } from "./daemon-process.js";

const dir = tempDir("bulwark-stop-signals-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("signals while the daemon stops", () => {
  it("SIGHUP and a second SIGTERM during the stop are ignored; the stop completes", async () => {
    const cfg = writeConfig(dir);
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("[clamd]\nagent_enabled = no", `[clamd]\nagent_enabled = yes\nlisten_port = 0\nsocket_path = "${join(dir, "clamd.sock")}"`));
    const d = await startDaemonProcess(cfg, join(dir, "cache"));
    let agentPid = 0;
    try {
      await until(() => /agent clamd: ready \(pid \d+\)/.test(d.log()), "the clamd agent");
      agentPid = Number(/agent clamd: ready \(pid (\d+)\)/.exec(d.log())![1]);
      process.kill(agentPid, "SIGSTOP"); // the supervisor's stop now waits for its grace period
      d.child.kill("SIGTERM");
      await until(() => /info: stopping/.test(d.log()), "the stop to begin");
      d.child.kill("SIGHUP");
      d.child.kill("SIGTERM");
      expect(await d.exited).toBe(0);
      expect(d.log()).toMatch(/info: stopped/);
      expect(existsSync(d.pidFile)).toBe(false);
      expect(() => process.kill(agentPid, 0)).toThrow(); // the frozen agent was killed
    } finally {
      d.child.kill("SIGKILL");
      if (agentPid) try { process.kill(agentPid, "SIGKILL"); } catch { /* gone */ }
    }
  }, AGENT_STOP_GRACE_MS + 30_000);
});
