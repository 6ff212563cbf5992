/**
 * The [clamd] agent as the daemon runs it: its own process (agents/clamd/main.ts), supervised by
 * the manager, serving Debian's real clamdscan on a unix socket and on TCP, scanning through the
 * manager with zBWSCAN. Path scans are read by the agent. clamdscan --reload is forwarded to the
 * manager, which then finds a signature added to base_dir. kill -9 of the agent: the manager
 * restarts it and clamdscan works again.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clamdRequest } from "../helpers/clamd-request.js";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, EICAR, freePort, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { runProgram } from "../helpers/run-program.js";

let dir: string;
let daemon: DaemonProcess;
let clamdscan: string;
let tcpConf: string;
let unixConf: string;

const run = (args: string[], input?: Uint8Array) => runProgram(clamdscan, args, input);

const agentPid = (): number | undefined => {
  const all = [...daemon.log().matchAll(/agent clamd: ready \(pid (\d+)\)/g)];
  return all.length ? Number(all[all.length - 1][1]) : undefined;
};

beforeAll(async () => {
  clamdscan = requireBinary("clamdscan", "clamdscan");
  dir = tempDir("bulwark-clamd-agent-");
  const port = await freePort();
  const config = writeConfig(dir);
  writeFileSync(config, readFileSync(config, "utf8").replace("[clamd]\nagent_enabled = no", `[clamd]\nagent_enabled = yes\nlisten_port = ${port}\nsocket_path = "clamd.sock"`));
  mkdirSync(join(dir, "tree", "sub"), { recursive: true });
  writeFileSync(join(dir, "tree", "a-clean.txt"), "nothing to see here\n");
  writeFileSync(join(dir, "tree", "b-eicar.com"), EICAR);
  writeFileSync(join(dir, "tree", "sub", "c-eicar.com"), EICAR);
  tcpConf = join(dir, "tcp.conf");
  writeFileSync(tcpConf, `TCPSocket ${port}\nTCPAddr 127.0.0.1\n`);
  unixConf = join(dir, "unix.conf");
  writeFileSync(unixConf, `LocalSocket ${join(dir, "cache", "clamd.sock")}\n`);
  daemon = await startDaemonProcess(config, join(dir, "cache"));
});

afterAll(async () => {
  if (daemon?.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the [clamd] agent process", () => {
  it("runs as a child process of the manager, not inside it", () => {
    const pid = agentPid();
    expect(pid).toBeDefined();
    expect(pid).not.toBe(daemon.child.pid);
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(new RegExp(`^PPid:\\s+${daemon.child.pid}$`, "m"));
  });

  it("clamdscan --stream over TCP: EICAR FOUND (exit 1), clean OK (exit 0)", async () => {
    const r = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], EICAR);
    expect(r.err).toBe("");
    expect(r.out).toBe("stream: Eicar-Test-Signature FOUND\n");
    expect(r.code).toBe(1);
    const c = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], Buffer.from("hello\n"));
    expect(c.out).toBe("stream: OK\n");
    expect(c.code).toBe(0);
  });

  it("plain and --multiscan path scans over the unix socket: the agent reads the files and streams them", async () => {
    for (const extra of [[], ["--multiscan"]]) {
      const r = await run([`--config-file=${unixConf}`, ...extra, join(dir, "tree")]);
      expect(r.out.split("\n").filter((l) => l.endsWith(" FOUND")).sort()).toEqual([
        `${join(dir, "tree", "b-eicar.com")}: Eicar-Test-Signature FOUND`,
        `${join(dir, "tree", "sub", "c-eicar.com")}: Eicar-Test-Signature FOUND`,
      ]);
      expect(r.code).toBe(1);
    }
    // clamdscan checks paths itself first; a raw SCAN shows the agent's own answer
    const missing = join(dir, "tree", "nope");
    expect(await clamdRequest(join(dir, "cache", "clamd.sock"), `SCAN ${missing}`)).toBe(`${missing}: File path check failure: No such file or directory. ERROR`);
  });

  it("clamdscan --reload is forwarded to the manager, which then finds a signature added to base_dir", async () => {
    const marker = Buffer.from(`clamd agent reload marker ${Math.random().toString(36).slice(2)}\n`);
    const before = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], marker);
    expect(before.out).toBe("stream: OK\n");
    mkdirSync(join(dir, "lib"), { recursive: true });
    writeFileSync(join(dir, "lib", "local.ndb"), `Bulwark.Test.Reload:0:*:${marker.subarray(0, 30).toString("hex")}\n`);
    const reloads = daemon.log().split("signatures reloaded").length;
    await run([`--config-file=${unixConf}`, "--reload"]);
    await until(() => daemon.log().split("signatures reloaded").length > reloads, "the signature reload");
    expect(daemon.log()).toMatch(/RELOAD received: reloading the signatures/);
    const after = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], marker);
    expect(after.out).toBe("stream: Bulwark.Test.Reload.UNOFFICIAL FOUND\n");
    expect(after.code).toBe(1);
  });

  it("kill -9 of the agent: the manager restarts it and clamdscan works again", async () => {
    const old = agentPid()!;
    process.kill(old, "SIGKILL");
    await until(() => agentPid() !== old, "a new clamd agent");
    expect(daemon.log()).toMatch(/error: agent clamd: was killed by SIGKILL; restarting it in \d+ ms/);
    const r = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], EICAR);
    expect(r.out).toBe("stream: Eicar-Test-Signature FOUND\n");
    const u = await run([`--config-file=${unixConf}`, "--no-summary", join(dir, "tree", "a-clean.txt")]);
    expect(u.out).toBe(`${join(dir, "tree", "a-clean.txt")}: OK\n`);
    expect(daemon.child.exitCode).toBe(null);
  });
});
