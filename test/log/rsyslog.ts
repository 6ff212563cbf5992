/**
 * A private rsyslogd for tests: its own config, work directory, pid file and imuxsock socket in
 * a temp directory; no system socket (/dev/log), no imklog, no /etc/rsyslog.conf. Every message
 * is written to `out` as `facility.severity tag msg`. A missing rsyslogd throws (the test FAILS).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const RSYSLOGD_CANDIDATES = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"];
/** Polling bound for rsyslogd to create its socket or write expected lines. */
export const WAIT_LIMIT_MS = 15_000;
const POLL_MS = 20;

export interface PrivateRsyslog {
  socket: string;
  out: string;
  /** Lines of the output file (empty before rsyslog wrote any). */
  lines(): string[];
  stop(): Promise<void>;
}

export function rsyslogdPath(): string {
  const found = RSYSLOGD_CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`rsyslogd is not installed (looked for ${RSYSLOGD_CANDIDATES.join(", ")}): apt-get install rsyslog`);
  return found;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function startRsyslog(dir: string): Promise<PrivateRsyslog> {
  const bin = rsyslogdPath();
  fs.mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, "log.sock");
  const out = path.join(dir, "out.log");
  const conf = path.join(dir, "rsyslog.conf");
  fs.writeFileSync(conf, [
    `global(workDirectory="${dir}")`,
    // Direct: messages are written in arrival order, so a last "sentinel" line proves all before it were handled
    `main_queue(queue.type="Direct")`,
    `module(load="imuxsock" SysSock.Use="off")`,
    `input(type="imuxsock" Socket="${socket}" CreatePath="on")`,
    `template(name="bwtest" type="string" string="%syslogfacility-text%.%syslogseverity-text% %syslogtag%%msg%\\n")`,
    `*.* action(type="omfile" file="${out}" template="bwtest")`,
    "",
  ].join("\n"));
  const child: ChildProcess = spawn(bin, ["-n", "-f", conf, "-i", path.join(dir, "rsyslogd.pid")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  let exited = false;
  child.on("exit", () => (exited = true));
  try {
    await waitFor(`rsyslogd to create ${socket}`, () => {
      if (exited) throw new Error(`rsyslogd exited at start: ${stderr}`);
      return fs.existsSync(socket);
    });
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  return {
    socket,
    out,
    lines: () => (fs.existsSync(out) ? fs.readFileSync(out, "utf8").split("\n").filter((l) => l !== "") : []),
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(t);
    },
  };
}
