/**
 * The supervisor in a real daemon process (host/daemon/supervisor.ts): an agent that dies at
 * once again and again is given up on with an error while the manager keeps serving the pipe
 * agent, and SIGHUP tries it again; SIGHUP stops a disabled agent and starts an enabled one; a
 * broken [clamd] section disables only that agent, loudly; SIGTERM stops the agents; a manager
 * killed with SIGKILL does not leave its agent behind.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_RAPID_FAILURES } from "../../host/daemon/supervisor.js";
import { type DaemonProcess, freePort, runAgent, startDaemonProcess, tempDir, until, writeConfig } from "./daemon-process.js";

const dirs: string[] = [];
const running: DaemonProcess[] = [];
afterAll(async () => {
  for (const d of running) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill("SIGTERM");
      await d.exited;
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const CLEAN_MAIL = Buffer.from("From: a@example.org\nTo: b@example.org\nSubject: hello\n\nJust text.\n");

async function setup(clamd: string): Promise<{ dir: string; cfg: string }> {
  const dir = tempDir("bulwark-supervisor-");
  dirs.push(dir);
  const cfg = writeConfig(dir);
  writeFileSync(cfg, readFileSync(cfg, "utf8").replace("[clamd]\nagent_enabled = no", `[clamd]\n${clamd}`));
  return { dir, cfg };
}

async function start(dir: string, cfg: string): Promise<DaemonProcess> {
  const d = await startDaemonProcess(cfg, join(dir, "cache"));
  running.push(d);
  return d;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => s.write("zPING\0"));
    s.on("data", (d) => {
      s.destroy();
      resolve(d.toString() === "PONG\0");
    });
    s.on("error", () => resolve(false));
  });
}

/** Running (a zombie waiting for a reaper counts as ended). */
const alive = (pid: number): boolean => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
};

const count = (text: string, what: string) => text.split(what).length - 1;

function agentPids(d: DaemonProcess): number[] {
  return [...d.log().matchAll(/agent clamd: started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

describe("agent supervision", () => {
  it("gives up on an agent that dies at once, keeps serving the pipe agent, and tries again on SIGHUP", async () => {
    const port = await freePort();
    // someone else holds the agent's port: each start of the agent fails at once
    const squatter = net.createServer().listen(port, "127.0.0.1");
    await new Promise((r) => squatter.once("listening", r));
    const { dir, cfg } = await setup(`agent_enabled = yes\nlisten_port = ${port}\nsocket_path = ""`);
    const d = await start(dir, cfg);
    try {
      await until(() => d.log().includes("giving up on it"), "the supervisor to give up", 30_000);
      expect(d.log()).toMatch(new RegExp(`error: agent clamd: exited with code 2; it failed ${MAX_RAPID_FAILURES} times in a row`));
      expect(count(d.log(), "agent clamd: started")).toBe(MAX_RAPID_FAILURES);
      expect(d.log()).toMatch(/error: clamd\[\d+\]: cannot listen: .*EADDRINUSE/);
      // the back-off grew between attempts
      const delays = [...d.log().matchAll(/restarting it in (\d+) ms/g)].map((m) => Number(m[1]));
      expect(delays.length).toBe(MAX_RAPID_FAILURES - 1);
      for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1]);
      expect(d.child.exitCode).toBe(null);
      const r = runAgent("bulwark-pipe", ["--config", cfg], CLEAN_MAIL);
      expect(r.code).toBe(0);
      expect(r.stdout.toString("latin1").endsWith(CLEAN_MAIL.toString("latin1"))).toBe(true);

      await new Promise((r) => squatter.close(r));
      d.child.kill("SIGHUP");
      await until(() => d.log().includes("agent clamd: ready"), "the agent after SIGHUP");
      expect(d.log()).toMatch(/agent clamd: trying again after a reload/);
      expect(await ping(port)).toBe(true);
    } finally {
      squatter.close();
    }
  });

  it("SIGHUP stops a disabled agent and starts an enabled one; a broken [clamd] section disables only it", async () => {
    const port = await freePort();
    const { dir, cfg } = await setup(`agent_enabled = yes\nlisten_port = ${port}\nsocket_path = ""`);
    const d = await start(dir, cfg);
    expect(await ping(port)).toBe(true);
    const first = agentPids(d)[0];

    writeFileSync(cfg, readFileSync(cfg, "utf8").replace(`listen_port = ${port}`, `listen_port = ${port}\nlisten_addr = nowhere!`));
    d.child.kill("SIGHUP");
    await until(() => d.log().includes("agent clamd: disabled; stopping it"), "the broken section to stop the agent");
    expect(d.log()).toMatch(/error: agent clamd disabled because of its section: .*bulwark\.cfg:\d+: /);
    await until(() => !alive(first), "the agent process to end");
    expect(await ping(port)).toBe(false);
    expect(runAgent("bulwark-pipe", ["--config", cfg], CLEAN_MAIL).code).toBe(0); // the rest runs

    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("\nlisten_addr = nowhere!", ""));
    d.child.kill("SIGHUP");
    await until(() => count(d.log(), "agent clamd: ready") === 2, "the re-enabled agent");
    expect(await ping(port)).toBe(true);

    const second = agentPids(d)[1];
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("[clamd]\nagent_enabled = yes", "[clamd]\nagent_enabled = no"));
    d.child.kill("SIGHUP");
    await until(() => !alive(second), "the disabled agent to stop");
    expect(await ping(port)).toBe(false);
    expect(d.child.exitCode).toBe(null);

    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("[clamd]\nagent_enabled = no", "[clamd]\nagent_enabled = yes"));
    d.child.kill("SIGHUP");
    await until(() => count(d.log(), "agent clamd: ready") === 3, "the enabled agent");
    const third = agentPids(d)[2];
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(alive(third)).toBe(false); // stopped with the manager
  });

  it("an agent exits when its manager is killed with SIGKILL (no orphan holding the port)", async () => {
    const port = await freePort();
    const { dir, cfg } = await setup(`agent_enabled = yes\nlisten_port = ${port}\nsocket_path = ""`);
    const d = await start(dir, cfg);
    const pid = agentPids(d)[0];
    expect(alive(pid)).toBe(true);
    d.child.kill("SIGKILL");
    await d.exited;
    await until(() => !alive(pid), "the orphaned agent to exit");
    expect(await ping(port)).toBe(false);
  });
});
