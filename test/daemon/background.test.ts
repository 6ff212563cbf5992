/**
 * `bulwark daemon` without --foreground (host/daemon/background.ts): it detaches, returns 0 once
 * the daemon serves (pid file written, socket answering) and leaves it logging to
 * cache_dir/bulwark.log; a daemon that fails to start makes it exit 2 with the daemon's own error
 * output; a second daemon refuses to start while the pid file names a live one, and a stale pid
 * file is replaced.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { clamdRequest } from "../helpers/clamd-request.js";
import { readableLog, ROOT, tempDir, until, writeConfig } from "./daemon-process.js";

const dirs: string[] = [];
const started: number[] = [];

const alive = (pid: number): boolean => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
};

afterAll(async () => {
  for (const pid of started) {
    if (!alive(pid)) continue;
    process.kill(pid, "SIGTERM");
    await until(() => !alive(pid), `daemon ${pid} to stop`);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function bulwarkDaemon(cfg: string, ...extra: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "bulwark"), "daemon", "--config", cfg, ...extra], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

function setup(): { dir: string; cfg: string; cache: string } {
  const dir = tempDir("bulwark-bg-");
  dirs.push(dir);
  return { dir, cfg: writeConfig(dir), cache: join(dir, "cache") };
}

/** A pid that certainly names no process now: one that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("bulwark daemon in the background", () => {
  it("detaches, exits 0 once the daemon serves, and the daemon logs to cache_dir/bulwark.log", async () => {
    const { cfg, cache } = setup();
    const r = bulwarkDaemon(cfg);
    expect(r.code).toBe(0);
    const m = /daemon started \(pid (\d+)\), logging to (.*bulwark\.log)/.exec(r.out);
    expect(m).not.toBeNull();
    const pid = Number(m![1]);
    started.push(pid);
    expect(m![2]).toBe(join(cache, "bulwark.log"));
    expect(readFileSync(join(cache, "bulwark.pid"), "utf8").trim()).toBe(String(pid));
    expect(alive(pid)).toBe(true);
    expect(await clamdRequest(join(cache, "bulwark.sock"), "PING")).toBe("PONG");
    // JSON lines (host/log): the ready line carries the daemon's pid
    const ready = readFileSync(join(cache, "bulwark.log"), "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((j) => /^ready: config /.test(j.msg));
    expect(ready?.pid).toBe(pid);

    // a second daemon on the same cache_dir refuses, in the background and in the foreground
    const second = bulwarkDaemon(cfg);
    expect(second.code).toBe(2);
    expect(second.out).toContain(`another Bulwark daemon (pid ${pid}) is running`);
    const fg = bulwarkDaemon(cfg, "--foreground");
    expect(fg.code).toBe(2);
    expect(fg.out).toContain(`another Bulwark daemon (pid ${pid}) is running`);
    expect(alive(pid)).toBe(true);

    process.kill(pid, "SIGTERM");
    await until(() => !alive(pid), "the daemon to stop");
    expect(existsSync(join(cache, "bulwark.pid"))).toBe(false);
    expect(readableLog(readFileSync(join(cache, "bulwark.log"), "utf8"))).toMatch(/info: stopped\n$/);
  });

  it("replaces a stale pid file (its process is gone)", () => {
    const { cfg, cache } = setup();
    const stale = deadPid();
    expect(alive(stale)).toBe(false);
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, "bulwark.pid"), `${stale}\n`);
    const r = bulwarkDaemon(cfg);
    expect(r.code).toBe(0);
    const pid = Number(/daemon started \(pid (\d+)\)/.exec(r.out)![1]);
    started.push(pid);
    expect(pid).not.toBe(stale);
    expect(readFileSync(join(cache, "bulwark.pid"), "utf8").trim()).toBe(String(pid));
  });

  it("replaces a pid file whose pid now names another process that merely mentions bulwark", async () => {
    const { dir, cfg, cache } = setup();
    // a stale pid reused after a crash by, say, an editor on bulwark.cfg or a bulwark-pipe
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", cfg, join(ROOT, "bin", "bulwark-pipe")], { stdio: "ignore" });
    try {
      await until(() => alive(other.pid!) && readFileSync(`/proc/${other.pid}/cmdline`, "latin1").includes("bulwark"), "the other process");
      mkdirSync(cache, { recursive: true });
      writeFileSync(join(cache, "bulwark.pid"), `${other.pid}\n`);
      expect(dir).toContain("bulwark");
      const r = bulwarkDaemon(cfg);
      expect(r.out).not.toContain("another Bulwark daemon");
      expect(r.code).toBe(0);
      const pid = Number(/daemon started \(pid (\d+)\)/.exec(r.out)![1]);
      started.push(pid);
      expect(readFileSync(join(cache, "bulwark.pid"), "utf8").trim()).toBe(String(pid));
      expect(alive(other.pid!)).toBe(true);
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("exits 2 with the daemon's error output when the daemon fails to start", () => {
    const { dir, cfg, cache } = setup();
    const bad = join(dir, "no-such-dir", "bulwark.sock");
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("workers = 1\n", `workers = 1\ndaemon_socket_path = "${bad}"\n`));
    const r = bulwarkDaemon(cfg);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(new RegExp(`ERROR: .*${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    expect(r.out).toContain("bulwark: refusing to start");
    expect(r.out).toMatch(/the daemon exited with code 2 before it was ready/);
    expect(existsSync(join(cache, "bulwark.pid"))).toBe(false);
  });

  it("exits 2 without starting anything when the configuration is broken", () => {
    const { cfg, cache } = setup();
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("workers = 1", "workers = lots"));
    const r = bulwarkDaemon(cfg);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`${cfg}:4: `);
    expect(existsSync(join(cache, "bulwark.log"))).toBe(false);
  });
});
