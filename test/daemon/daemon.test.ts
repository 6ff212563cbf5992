/**
 * `bulwark daemon --foreground` as a process (the build): refusing a broken configuration,
 * creating a missing one, the [clamd] TCP listener (served by the supervised clamd agent
 * process), SIGHUP reload (a broken file is refused and
 * the daemon keeps serving), and SIGTERM cleanup (socket and pid file removed, exit 0).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { clamdRequest } from "../helpers/clamd-request.js";
import { loadConfig } from "../../host/config/load.js";
import { ensureConfigFile, resolveConfigFile } from "../../host/daemon/config-file.js";
import { EICAR, ROOT, runAgent, startDaemonProcess, tempDir, writeConfig } from "./daemon-process.js";

const dirs: string[] = [];
const fresh = (): string => {
  const d = tempDir("bulwark-daemon-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function tcpRequest(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => sock.write(`z${command}\0`));
    let got = "";
    sock.on("data", (d) => {
      got += d.toString();
      if (got.includes("\0")) {
        sock.destroy();
        resolve(got.slice(0, got.indexOf("\0")));
      }
    });
    sock.on("error", reject);
  });
}

describe("bulwark daemon", () => {
  it("refuses to start on a fatal configuration error, printing file:line: reason, exit 2", () => {
    const dir = fresh();
    const cfg = join(dir, "bulwark.cfg");
    writeFileSync(cfg, `[global]\ncache_dir = "${join(dir, "cache")}"\nworkers = lots\n`);
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "bulwark"), "daemon", "--config", cfg, "--foreground"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${cfg}:3: `);
    expect(existsSync(join(dir, "cache", "bulwark.sock"))).toBe(false);
  });

  it("creates a missing configuration with cache and signatures next to it (not for the system file)", () => {
    const dir = fresh();
    const cfg = join(dir, "sub", "bulwark.cfg");
    expect(ensureConfigFile(cfg)).toBe(true);
    const r = loadConfig(cfg);
    expect(r.errors).toEqual([]);
    expect(r.config.path("global", "cache_dir")).toBe(join(dir, "sub", "cache"));
    expect(r.config.path("global", "base_dir")).toBe(join(dir, "sub", "lib"));
    expect(r.config.path("global", "daemon_socket_path")).toBe(join(dir, "sub", "cache", "bulwark.sock"));
    writeFileSync(cfg, "# mine\n");
    expect(ensureConfigFile(cfg)).toBe(false); // an existing file is never replaced
    expect(readFileSync(cfg, "utf8")).toBe("# mine\n");
  });

  it("finds its configuration: --config, then $BULWARK_CONFIG, then ./.bulwark/bulwark.cfg (non-root) or /etc (root)", () => {
    expect(resolveConfigFile("x.cfg", {})).toBe(resolve("x.cfg"));
    expect(resolveConfigFile(undefined, { BULWARK_CONFIG: "/a/b.cfg" })).toBe("/a/b.cfg");
    const isRoot = process.getuid?.() === 0;
    expect(resolveConfigFile(undefined, {})).toBe(isRoot ? "/etc/bulwark/bulwark.cfg" : resolve(".bulwark", "bulwark.cfg"));
  });

  it("serves the [clamd] agent on TCP, reloads on SIGHUP, refuses a broken reload and keeps serving, cleans up on SIGTERM", async () => {
    const dir = fresh();
    const port = await freePort();
    const cfg = writeConfig(dir);
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("[clamd]\nagent_enabled = no", `[clamd]\nagent_enabled = yes\nlisten_port = ${port}\nsocket_path = ""`));
    const d = await startDaemonProcess(cfg, join(dir, "cache"));
    try {
      expect(await tcpRequest(port, "PING")).toBe("PONG");
      expect(await clamdRequest(d.socket, "PING")).toBe("PONG");
      expect(readFileSync(d.pidFile, "utf8").trim()).toBe(String(d.child.pid));

      writeFileSync(cfg, readFileSync(cfg, "utf8").replace("workers = 1", "workers = 1\nmax_files = many"));
      d.child.kill("SIGHUP");
      await until(() => d.log().includes("reload refused"), "the refused reload");
      expect(d.log()).toMatch(/reload refused, keeping the old configuration: .*bulwark\.cfg:\d+: /);
      expect(d.child.exitCode).toBe(null);
      expect(d.log()).toMatch(/bulwark\.cfg:5: /); // the max_files line
      // an agent with its own valid config still gets scans from the daemon
      const agentCfg = join(dir, "agent.cfg");
      writeFileSync(agentCfg, `[global]\ncache_dir = "${join(dir, "cache")}"\n[cli]\nagent_enabled = yes\n`);
      writeFileSync(join(dir, "eicar.com"), EICAR);
      const r = runAgent("bulwark-cli", ["--config", agentCfg, join(dir, "eicar.com")]);
      expect(r.code).toBe(1);
      expect(r.stdout.toString()).toMatch(/virus="/);

      writeFileSync(cfg, readFileSync(cfg, "utf8").replace("max_files = many", "max_files = 50"));
      d.child.kill("SIGHUP");
      await until(() => d.log().includes("configuration reloaded"), "the reload");
      // scanner options take effect with the scanner the reload builds: no restart needed
      await until(() => d.log().split("signatures reloaded").length === 3, "the second signature reload");
      expect(d.log()).not.toMatch(/max_files changed; it takes effect on restart/);
    } finally {
      d.child.kill("SIGTERM");
    }
    expect(await d.exited).toBe(0);
    expect(existsSync(d.socket)).toBe(false);
    expect(existsSync(d.pidFile)).toBe(false);
    await expect(tcpRequest(port, "PING")).rejects.toThrow();
  });
});
