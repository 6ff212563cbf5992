/**
 * Supervisor.stop() on an agent that ignores SIGTERM: after AGENT_STOP_GRACE_MS it is killed
 * with SIGKILL, loudly. The agent is a small script in a temp dir standing in for a hung agent
 * (registered through the supervisor's `entryOf`); the supervisor is the real one.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../host/config/load.js";
import { AGENT_STOP_GRACE_MS, Supervisor } from "../../host/daemon/supervisor.js";
import { tempDir, writeConfig } from "./daemon-process.js";

const dir = tempDir("bulwark-supervisor-stop-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Supervisor.stop", () => {
  it("sends SIGKILL to an agent that does not stop on SIGTERM within the grace period", async () => {
    const cfg = writeConfig(dir);
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("[clamd]\nagent_enabled = no", "[clamd]\nagent_enabled = yes"));
    const hung = join(dir, "hung-agent.mjs");
    writeFileSync(hung, `process.on("SIGTERM", () => console.log("ignoring SIGTERM"));\nprocess.send({ type: "ready" });\nsetInterval(() => {}, 1000);\n`);
    const logs: string[] = [];
    const sup = new Supervisor({ configFile: cfg, log: (m) => logs.push(m), entryOf: (a) => (a === "clamd" ? hung : undefined) });
    await sup.start(loadConfig(cfg).config);
    const [status] = sup.status();
    expect(status).toMatchObject({ agent: "clamd", state: "running" });
    const pid = status.pid!;
    await sup.stop();
    expect(logs.some((l) => /clamd\[\d+\]: ignoring SIGTERM/.test(l))).toBe(true);
    expect(logs).toContain(`warning: agent clamd (pid ${pid}) did not stop within ${AGENT_STOP_GRACE_MS} ms; killing it`);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(sup.status()[0].state).toBe("stopped");
  }, AGENT_STOP_GRACE_MS + 10_000);
});
