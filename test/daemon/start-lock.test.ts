/**
 * The start lock (host/daemon/start-lock.ts) with real `bulwark daemon --foreground` processes:
 * several started at the same moment on one cache_dir over a leftover socket file give exactly
 * one running daemon (the others refuse with exit 2 and never touch its socket); a lock left by
 * a dead process, by a process that is not a daemon, or by a daemon killed with -9 is taken
 * over; a clean stop releases it.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { clamdRequest } from "../helpers/clamd-request.js";
import { type SpawnedDaemon, readableLog, ROOT, spawnDaemonProcess, startDaemonProcess, tempDir, until, writeConfig } from "./daemon-process.js";

/** How many daemons race for one cache_dir: enough that several get past every check at once. */
const RACERS = 4;

const dirs: string[] = [];
const running: SpawnedDaemon[] = [];
afterAll(async () => {
  for (const d of running) {
    if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGTERM");
    await d.exited;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(): { cfg: string; cache: string } {
  const dir = tempDir("bulwark-lock-");
  dirs.push(dir);
  const cache = join(dir, "cache");
  mkdirSync(cache, { recursive: true });
  return { cfg: writeConfig(dir), cache };
}

/** A pid that certainly names no process now: one that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
}

/** A socket file nobody listens on: its server was killed with -9, so it was never unlinked. */
async function leaveDeadSocket(file: string): Promise<void> {
  const child = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(file)}, () => console.log("up"))`], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((r) => child.stdout!.once("data", () => r()));
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  expect(statSync(file).isSocket()).toBe(true);
}

const lockEntries = (cache: string): string[] => readdirSync(join(cache, "bulwark.lock"));
const pidOf = (cache: string): number => Number(readFileSync(join(cache, "bulwark.pid"), "utf8").trim());
const spawned = (cfg: string): SpawnedDaemon => {
  const d = spawnDaemonProcess(cfg);
  running.push(d);
  return d;
};

async function stop(d: SpawnedDaemon): Promise<void> {
  d.child.kill("SIGTERM");
  expect(await d.exited).toBe(0);
}

describe("the daemon's start lock", () => {
  it(`of ${RACERS} daemons started at once over a leftover socket, exactly one runs`, async () => {
    const { cfg, cache } = setup();
    const socket = join(cache, "bulwark.sock");
    await leaveDeadSocket(socket);
    writeFileSync(join(cache, "bulwark.pid"), `${deadPid()}\n`); // and a stale pid file, as after a crash

    const racers = Array.from({ length: RACERS }, () => spawned(cfg));
    // every racer either exits or is the one the pid file names (written once it serves)
    const settled = (d: SpawnedDaemon) => d.child.exitCode !== null || (existsSync(join(cache, "bulwark.pid")) && pidOf(cache) === d.child.pid);
    await until(() => racers.every(settled), "every racer to start or give up", 30_000);
    const runners = racers.filter((d) => d.child.exitCode === null);
    expect(runners.map((d) => d.child.pid)).toHaveLength(1);
    const winner = runners[0];
    const losers = racers.filter((d) => d !== winner);
    for (const d of losers) {
      expect(await d.closed).toBe(2);
      expect(d.rawLog()).toContain(`another Bulwark daemon (pid ${winner.child.pid}) is running`);
      expect(d.rawLog()).toContain("bulwark: refusing to start");
    }
    // the winner serves on its socket, which no loser unlinked, and holds the lock
    expect(pidOf(cache)).toBe(winner.child.pid);
    expect(await clamdRequest(socket, "PING")).toBe("PONG");
    expect(lockEntries(cache)).toEqual([expect.stringMatching(new RegExp(`^${winner.child.pid}\\.`))]);
    expect(readdirSync(cache).filter((n) => n.startsWith("bulwark.lock.new."))).toEqual([]);

    // a clean stop releases the lock with the socket and the pid file
    await stop(winner);
    expect(existsSync(join(cache, "bulwark.lock"))).toBe(false);
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(join(cache, "bulwark.pid"))).toBe(false);
  });

  it("takes over a lock left by a dead process and by a live process that is not a daemon", async () => {
    const { cfg, cache } = setup();
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", join(ROOT, "bin", "bulwark-pipe")], { stdio: "ignore" });
    try {
      await until(() => existsSync(`/proc/${other.pid}/cmdline`), "the other process");
      mkdirSync(join(cache, "bulwark.lock"));
      const dead = `${deadPid()}.0123456789abcdef0123`;
      const notDaemon = `${other.pid}.fedcba9876543210fedc`;
      for (const e of [dead, notDaemon]) writeFileSync(join(cache, "bulwark.lock", e), `${e.split(".")[0]}\n`);
      const d = await startDaemonProcess(cfg, cache);
      running.push({ child: d.child, rawLog: d.log, exited: d.exited, closed: d.exited });
      expect(d.log()).not.toContain("another Bulwark daemon");
      const entries = lockEntries(cache);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatch(new RegExp(`^${d.child.pid}\\.[0-9a-f]+$`));
      expect(readFileSync(join(cache, "bulwark.lock", entries[0]), "utf8")).toBe(`${d.child.pid}\n`);
      expect(await clamdRequest(d.socket, "PING")).toBe("PONG");
      expect(other.exitCode).toBeNull();
      d.child.kill("SIGTERM");
      expect(await d.exited).toBe(0);
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("takes over a plain lock file naming a dead pid", async () => {
    const { cfg, cache } = setup();
    writeFileSync(join(cache, "bulwark.lock"), `${deadPid()}\n`);
    const d = await startDaemonProcess(cfg, cache);
    running.push({ child: d.child, rawLog: d.log, exited: d.exited, closed: d.exited });
    expect(lockEntries(cache)).toEqual([expect.stringMatching(new RegExp(`^${d.child.pid}\\.`))]);
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
  });

  it("refuses while a daemon holds the lock, and takes over the lock of one killed with -9", async () => {
    const { cfg, cache } = setup();
    const first = await startDaemonProcess(cfg, cache);
    running.push({ child: first.child, rawLog: first.log, exited: first.exited, closed: first.exited });
    const firstPid = first.child.pid!;

    const refused = spawned(cfg);
    expect(await refused.closed).toBe(2);
    expect(readableLog(refused.rawLog())).toContain(`another Bulwark daemon (pid ${firstPid}) is running`);
    expect(await clamdRequest(first.socket, "PING")).toBe("PONG");

    first.child.kill("SIGKILL");
    await first.exited;
    // kill -9 leaves all three behind: the lock names the dead daemon
    expect(lockEntries(cache)).toEqual([expect.stringMatching(new RegExp(`^${firstPid}\\.`))]);
    expect(existsSync(first.socket)).toBe(true);
    expect(pidOf(cache)).toBe(firstPid);

    const next = await startDaemonProcess(cfg, cache);
    running.push({ child: next.child, rawLog: next.log, exited: next.exited, closed: next.exited });
    expect(next.log()).not.toContain("another Bulwark daemon");
    expect(pidOf(cache)).toBe(next.child.pid);
    expect(lockEntries(cache)).toEqual([expect.stringMatching(new RegExp(`^${next.child.pid}\\.`))]);
    expect(await clamdRequest(next.socket, "PING")).toBe("PONG");
    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
    expect(existsSync(join(cache, "bulwark.lock"))).toBe(false);
  });
});
