/**
 * A private DNS server for the network-check tests: dnsmasq (Debian package dnsmasq-base) started
 * by the test on 127.0.0.1 and a free high port, answering only from the records the test gives
 * it. Everything under `.test` that is not given is NXDOMAIN (`--local=/test/`); names outside
 * `.test` are REFUSED (no upstream). Domains in `silent` are forwarded to a UDP socket of this
 * helper that never answers, so queries for them time out.
 *
 * A missing dnsmasq fails the test loudly (it is never skipped).
 */
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { Resolver } from "node:dns/promises";
import { existsSync } from "node:fs";
import { userInfo } from "node:os";

export const DNSMASQ = "/usr/sbin/dnsmasq";
/** dnsmasq answers within milliseconds of starting; this is only the give-up point. */
const START_TIMEOUT_MS = 10_000;
/** A DNS character-string holds at most 255 octets (RFC 1035 §3.3). */
const TXT_CHUNK = 255;

export interface DnsRecords {
  /** exact name -> IPv4 or IPv6 address (one A or AAAA record, via --host-record) */
  hosts?: Record<string, string | string[]>;
  /** domain -> IPv4 address answered for the domain and every name below it (--address) */
  wildcards?: Record<string, string>;
  /** exact name -> TXT text; long text is split into 255-octet strings of one record */
  txt?: Record<string, string>;
  /** domains whose queries are forwarded to a server that never answers */
  silent?: string[];
}

export class PrivateDnsmasq {
  private stderr = "";
  private constructor(
    private readonly child: ChildProcess,
    private readonly blackhole: dgram.Socket,
    readonly port: number,
  ) {
    child.stderr?.on("data", (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-20_000); });
    // a test process that dies without afterAll must not leave its dnsmasq running
    const reap = () => { if (child.exitCode === null) child.kill("SIGTERM"); };
    process.once("exit", reap);
    child.once("exit", () => process.removeListener("exit", reap));
  }

  /** as_dns_servers form */
  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** dnsmasq's log so far (it logs every query), for failure messages */
  get log(): string {
    return this.stderr;
  }

  static async start(records: DnsRecords): Promise<PrivateDnsmasq> {
    if (!existsSync(DNSMASQ)) throw new Error(`${DNSMASQ} not found: install the Debian package dnsmasq-base (see .ci/run)`);
    const blackhole = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => blackhole.bind(0, "127.0.0.1", resolve));
    blackhole.on("message", () => { /* never answer */ });
    const silentPort = blackhole.address().port;
    let lastError = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeUdpPort();
      const child = spawn(DNSMASQ, dnsmasqArgs(port, silentPort, records), { stdio: ["ignore", "ignore", "pipe"] });
      const server = new PrivateDnsmasq(child, blackhole, port);
      try {
        await server.waitReady();
        return server;
      } catch (e) {
        lastError = `${(e as Error).message}\n${server.stderr}`;
        await server.stopChild();
      }
    }
    blackhole.close();
    throw new Error(`dnsmasq did not start: ${lastError}`);
  }

  private async waitReady(): Promise<void> {
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([this.server]);
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exited = false;
    this.child.once("exit", () => { exited = true; });
    for (;;) {
      if (exited || this.child.exitCode !== null) throw new Error("dnsmasq exited");
      try {
        await r.resolve4("ready.test");
        return;
      } catch {
        if (Date.now() > deadline) throw new Error("dnsmasq does not answer");
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }

  private stopChild(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill("SIGTERM");
    });
  }

  async stop(): Promise<void> {
    await this.stopChild();
    this.blackhole.close();
  }
}

function dnsmasqArgs(port: number, silentPort: number, rec: DnsRecords): string[] {
  const args = [
    "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
    `--port=${port}`, "--listen-address=127.0.0.1", "--bind-interfaces",
    // stay the user we are (root in the sandbox; dnsmasq only switches users when it is root)
    `--user=${userInfo().username}`,
    "--log-facility=-", "--log-queries", "--cache-size=0",
    "--local=/test/", "--host-record=ready.test,127.0.0.1",
  ];
  for (const [name, addrs] of Object.entries(rec.hosts ?? {})) {
    for (const a of ([] as string[]).concat(addrs)) args.push(`--host-record=${name},${a}`);
  }
  for (const [domain, addr] of Object.entries(rec.wildcards ?? {})) args.push(`--address=/${domain}/${addr}`);
  for (const [name, text] of Object.entries(rec.txt ?? {})) {
    if (text.includes(",")) throw new Error(`TXT for ${name}: dnsmasq splits strings at commas`);
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += TXT_CHUNK) chunks.push(text.slice(i, i + TXT_CHUNK));
    args.push(`--txt-record=${[name, ...chunks].join(",")}`);
  }
  for (const d of rec.silent ?? []) args.push(`--server=/${d}/127.0.0.1#${silentPort}`);
  return args;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
