/**
 * The npm `clamscan` package (kylefarris, a devDependency), used unchanged as a client of a real
 * `bulwark daemon --foreground` process with the [clamd] agent enabled on a unix socket and on a
 * loopback TCP port (config file only; the test waits for the documented listeners to answer
 * PING, whichever process serves them). Debian's real clamd runs the same scenarios on its unix
 * socket as the control: whatever the package reports there is what a drop-in replacement must
 * make it report. EICAR is built at run time.
 *
 * How the package talks (node_modules/clamscan/index.js): init() and ping() write a bare `PING`
 * packet (no terminator, old-style "one packet = one command", which clamd accepts);
 * isInfected() over a socket writes a bare `MULTISCAN <path>` packet, over TCP it streams the
 * file with zINSTREAM; scanStream() and passthrough() use zINSTREAM; getVersion() sends
 * `nVERSION\n` and reads until the server closes; scanDir() lists the files itself and calls
 * isInfected() on each.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { Readable, type Transform, Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemonProcess, tempDir, writeConfig, type DaemonProcess } from "../daemon/daemon-process.js";
import { EICAR as EICAR_BYTES, requireBinary } from "./clamd-peer.js";

/** What the package returns for one scanned file or stream. */
interface ScanResult {
  file: string | null;
  isInfected: boolean;
  viruses: string[];
}
/** The part of the package's API used here (it is CommonJS without type declarations). */
interface NodeClam {
  initialized: boolean;
  scanner: string;
  getVersion(): Promise<string>;
  isInfected(file: string): Promise<ScanResult>;
  scanStream(stream: Readable): Promise<ScanResult>;
  scanDir(path: string): Promise<{ goodFiles: string[]; badFiles: string[]; viruses: string[]; errors: Record<string, unknown> }>;
  passthrough(): Transform;
}
const NodeClamClass = createRequire(import.meta.url)("clamscan") as new () => { init(options: object): Promise<NodeClam> };

/** How long the [clamd] listeners may take to answer PING after the daemon wrote its pid file
 *  (a supervised agent process may start them after the manager): generous for a loaded CI VM. */
const LISTEN_TIMEOUT_MS = 20_000;
/** The package's socket idle timeout: a server that never answers fails a case in 10 s rather
 *  than the package's default 60 s (longer than any scan here needs by two orders). */
const CLIENT_TIMEOUT_MS = 10_000;
/** Per-case budget: one client timeout plus slack. */
const CASE_MS = CLIENT_TIMEOUT_MS + 10_000;

const EICAR = Buffer.from(EICAR_BYTES);
const CLEAN = Buffer.from("Dear colleague,\nplease find nothing dangerous here.\n");

/** The control clamd gets the same signature Bulwark has built in (EICAR at offset 0, the way the
 *  industry defines the test file); clamd reports a custom database's names with `.UNOFFICIAL`. */
const CLAMD_EICAR_NAME = "Eicar-Test-Signature";

let dir: string;
let daemon: DaemonProcess | undefined;
let clamd: { socket: string; stop(): Promise<void> } | undefined;
let port = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

/** One zPING on `addr`; resolves with the reply up to the NUL, or "" on any failure. */
function zping(addr: { path: string } | { host: string; port: number }): Promise<string> {
  return new Promise((resolve) => {
    const sock = "path" in addr ? net.connect(addr.path) : net.connect(addr.port, addr.host);
    let got = "";
    const done = (r: string) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(2_000, () => done(""));
    sock.on("connect", () => sock.write("zPING\0"));
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("\0")) done(got.slice(0, got.indexOf("\0")));
    });
    sock.on("error", () => done(""));
    sock.on("close", () => done(got));
  });
}

async function waitForPong(addr: { path: string } | { host: string; port: number }, what: string): Promise<void> {
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while ((await zping(addr)) !== "PONG") {
    if (daemon && daemon.child.exitCode !== null) throw new Error(`daemon exited while waiting for ${what}: ${daemon.log()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not answer PING within ${LISTEN_TIMEOUT_MS} ms; daemon log: ${daemon?.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Debian's clamd on a unix socket in `workDir`. Its log goes to a file of its own: clamd locks
 *  its LogFile, so two clamds sharing /dev/null (another test file running in parallel) would
 *  make the second one exit with "Can't initialize the internal logger". */
async function startControlClamd(workDir: string, dbDir: string): Promise<{ socket: string; stop(): Promise<void> }> {
  const bin = requireBinary("clamd", "clamav-daemon");
  mkdirSync(workDir, { recursive: true });
  const socket = join(workDir, "clamd.sock");
  const conf = join(workDir, "clamd.conf");
  writeFileSync(
    conf,
    ["Foreground yes", `LocalSocket ${socket}`, `DatabaseDirectory ${dbDir}`, `PidFile ${join(workDir, "clamd.pid")}`, `TemporaryDirectory ${workDir}`, `LogFile ${join(workDir, "clamd.log")}`, ""].join("\n"),
  );
  const child = spawn(bin, [`--config-file=${conf}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while (!(existsSync(socket) && (await zping({ path: socket })) === "PONG")) {
    if (child.exitCode !== null) throw new Error(`clamd exited during start-up: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`clamd did not answer PING within ${LISTEN_TIMEOUT_MS} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    socket,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

beforeAll(async () => {
  dir = tempDir("bulwark-npmclam-");
  mkdirSync(join(dir, "files", "sub"), { recursive: true });
  writeFileSync(join(dir, "files", "eicar.com"), EICAR);
  writeFileSync(join(dir, "files", "clean.txt"), CLEAN);
  writeFileSync(join(dir, "files", "sub", "eicar-copy.com"), EICAR);
  writeFileSync(join(dir, "files", "sub", "notes.txt"), "nothing here either\n");

  port = await freePort();
  const cfg = writeConfig(join(dir, "bulwark"));
  writeFileSync(
    cfg,
    readFileSync(cfg, "utf8").replace(
      "[clamd]\nagent_enabled = no",
      `[clamd]\nagent_enabled = yes\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nsocket_path = "${join(dir, "bulwark-clamd.sock")}"`,
    ),
  );
  daemon = await startDaemonProcess(cfg, join(dir, "bulwark", "cache"));
  await waitForPong({ path: join(dir, "bulwark-clamd.sock") }, "the [clamd] unix socket");
  await waitForPong({ host: "127.0.0.1", port }, "the [clamd] TCP listener");

  mkdirSync(join(dir, "clamd-db"));
  writeFileSync(join(dir, "clamd-db", "eicar.ndb"), `${CLAMD_EICAR_NAME}:0:0:${EICAR.toString("hex")}\n`);
  clamd = await startControlClamd(join(dir, "clamd"), join(dir, "clamd-db"));
});

afterAll(async () => {
  await clamd?.stop();
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Peer {
  label: string;
  /** the package's `clamdscan` connection options */
  conn: () => { socket: string } | { host: string; port: number };
  /** the virus name the package reports for EICAR */
  eicarName: string;
  /** what the VERSION reply must look like */
  version: RegExp;
}

const PEERS: Peer[] = [
  { label: "real clamd, unix socket (control)", conn: () => ({ socket: clamd!.socket }), eicarName: `${CLAMD_EICAR_NAME}.UNOFFICIAL`, version: /^ClamAV \d+\.\d+\.\d+/ },
  { label: "bulwark daemon [clamd], unix socket", conn: () => ({ socket: join(dir, "bulwark-clamd.sock") }), eicarName: "Eicar-Test-Signature", version: /^ClamAV \d+\.\d+\.\d+.*Bulwark/ },
  { label: "bulwark daemon [clamd], TCP", conn: () => ({ host: "127.0.0.1", port }), eicarName: "Eicar-Test-Signature", version: /^ClamAV \d+\.\d+\.\d+.*Bulwark/ },
];

/** The package as an application would set it up: clamd only, never a local binary. init()
 *  pings the server and rejects when it does not answer PONG. */
function client(peer: Peer): Promise<NodeClam> {
  return new NodeClamClass().init({
    removeInfected: false,
    quarantineInfected: false,
    scanLog: null,
    debugMode: false,
    clamscan: { active: false },
    clamdscan: { ...peer.conn(), timeout: CLIENT_TIMEOUT_MS, localFallback: false, active: true },
    preference: "clamdscan",
  });
}

/** A package call that never settles (it waits for a reply the server does not send) fails
 *  the case after the client timeout instead of hanging until the test runner's. */
function within<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${CLIENT_TIMEOUT_MS} ms`)), CLIENT_TIMEOUT_MS);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Pipe `parts` through the package's passthrough(); resolves with the scan result and the
 *  bytes that came out the other side. */
function viaPassthrough(clam: NodeClam, parts: Buffer[]): Promise<{ result: ScanResult; out: Buffer }> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out.push(chunk);
        cb();
      },
    });
    const av = clam.passthrough();
    const timer = setTimeout(() => reject(new Error("passthrough: no scan-complete")), CLIENT_TIMEOUT_MS);
    av.on("error", (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    av.on("scan-complete", (result: ScanResult) => {
      clearTimeout(timer);
      // the clean path forwards everything before the verdict; let the sink drain first
      setImmediate(() => resolve({ result, out: Buffer.concat(out) }));
    });
    Readable.from(parts).pipe(av).pipe(sink);
  });
}

describe.each(PEERS)("npm clamscan against $label", (peer) => {
  let clam: NodeClam;
  const files = () => join(dir, "files");

  it("init() succeeds: the package pings the server and gets PONG", { timeout: CASE_MS }, async () => {
    clam = await within(client(peer), "init()");
    expect(clam.initialized).toBe(true);
    expect(clam.scanner).toBe("clamdscan");
  });

  /** The instance initialised above (each case then fails at once, not after a timeout, if init failed). */
  const c = (): NodeClam => {
    if (!clam) throw new Error("the package did not initialise against this server (see the init() case)");
    return clam;
  };

  it("getVersion() returns the server's VERSION line", { timeout: CASE_MS }, async () => {
    const v: string = await within(c().getVersion(), "getVersion()");
    expect(v.trim()).toMatch(peer.version);
  });

  it("isInfected() on EICAR reports it infected with the signature's name", { timeout: CASE_MS }, async () => {
    const r = await within(c().isInfected(join(files(), "eicar.com")), "isInfected(eicar.com)");
    expect(r.isInfected).toBe(true);
    expect(r.viruses).toEqual([peer.eicarName]);
    expect(r.file).toBe(join(files(), "eicar.com"));
  });

  it("isInfected() on a clean file reports it clean", { timeout: CASE_MS }, async () => {
    const r = await within(c().isInfected(join(files(), "clean.txt")), "isInfected(clean.txt)");
    expect(r.isInfected).toBe(false);
    expect(r.viruses).toEqual([]);
  });

  it("scanStream() (zINSTREAM) detects EICAR split over several stream chunks and passes clean data", { timeout: CASE_MS }, async () => {
    const bad = await within(c().scanStream(Readable.from([EICAR.subarray(0, 20), EICAR.subarray(20), CLEAN])), "scanStream(EICAR)");
    expect(bad.isInfected).toBe(true);
    expect(bad.viruses).toEqual([peer.eicarName]);
    const good = await within(c().scanStream(Readable.from([CLEAN, EICAR.subarray(1), CLEAN])), "scanStream(clean)");
    expect(good.isInfected).toBe(false);
    expect(good.viruses).toEqual([]);
  });

  it("passthrough() forwards clean data unchanged and reports infected data", { timeout: CASE_MS }, async () => {
    const clean = Buffer.concat(Array.from({ length: 50 }, () => CLEAN));
    const good = await viaPassthrough(c(), [clean.subarray(0, 1000), clean.subarray(1000, 2000), clean.subarray(2000)]);
    expect(good.result.isInfected).toBe(false);
    expect(good.out.equals(clean)).toBe(true);
    const bad = await viaPassthrough(c(), [EICAR.subarray(0, 30), EICAR.subarray(30), clean]);
    expect(bad.result.isInfected).toBe(true);
    expect(bad.result.viruses).toEqual([peer.eicarName]);
  });

  it("scanDir() finds both EICAR copies in a tree and lists the clean files as good", { timeout: CASE_MS }, async () => {
    const r = await within(c().scanDir(files()), "scanDir()");
    expect([...r.badFiles].sort()).toEqual([join(files(), "eicar.com"), join(files(), "sub", "eicar-copy.com")]);
    expect([...r.goodFiles].sort()).toEqual([join(files(), "clean.txt"), join(files(), "sub", "notes.txt")]);
    expect(r.viruses).toEqual([peer.eicarName]);
    expect(r.errors).toEqual({});
  });
});
