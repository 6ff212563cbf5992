/**
 * What the SMTP and milter agent tests share around their real peers: a private Postfix 3.7
 * (test/peers/postfix-private.sh) and its Maildir, swaks' transcript, `bulwark quar`, and the
 * multipart mail with an EICAR attachment that cleaning is checked on.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../clamd/clamd-peer.js";
import { EICAR, ROOT, until } from "../daemon/daemon-process.js";
import { portOpen } from "./raw-smtp.js";

export const POSTFIX_RECIPE = join(ROOT, "test", "peers", "postfix-private.sh");
/** Starting Postfix on an empty base creates its queue tree: about 8 s here, so a minute is ample. */
const POSTFIX_START_TIMEOUT_MS = 60_000;

export interface PostfixPorts {
  /** the "internet-facing" smtpd (PF_SMTP_PORT) */
  smtp: number;
  /** the reinjection smtpd (PF_REINJECT_PORT): no content_filter, no milters */
  reinject: number;
  /** where the content filter / smtpd_proxy_filter is (PF_FILTER_PORT) */
  filter: number;
  /** optional before-queue smtpd whose smtpd_proxy_filter is `filter` (PF_PROXY_PORT) */
  proxy?: number;
}

/** A private Postfix delivering mail for @example.test into BASE/mail/inbox. */
export class PrivatePostfix {
  readonly etc: string;
  private constructor(readonly base: string) {
    this.etc = join(base, "etc");
  }

  /** Start it (the recipe's other knobs, PF_CONTENT_FILTER and PF_MILTER, come in `env`) and
   *  wait until its ports answer. A missing Postfix fails loudly. */
  static async start(base: string, ports: PostfixPorts, env: Record<string, string> = {}): Promise<PrivatePostfix> {
    requireBinary("postfix", "postfix");
    if (!existsSync(POSTFIX_RECIPE)) throw new Error(`${POSTFIX_RECIPE} is missing: the private Postfix recipe is needed`);
    const pf = new PrivatePostfix(base);
    const r = spawnSync("sh", [POSTFIX_RECIPE, base, "start"], {
      encoding: "utf8",
      timeout: POSTFIX_START_TIMEOUT_MS,
      env: {
        ...process.env,
        PF_SMTP_PORT: String(ports.smtp),
        PF_REINJECT_PORT: String(ports.reinject),
        PF_FILTER_PORT: String(ports.filter),
        ...(ports.proxy ? { PF_PROXY_PORT: String(ports.proxy) } : {}),
        ...env,
      },
    });
    if (r.status !== 0) {
      pf.stop(); // a half-started instance must not outlive the test
      throw new Error(`private postfix did not start: ${r.stdout}${r.stderr}`);
    }
    const wanted = [ports.reinject, ...(ports.proxy ? [ports.proxy] : [])];
    await until(async () => (await Promise.all(wanted.map(portOpen))).every(Boolean), "postfix's ports");
    return pf;
  }

  /** `postconf -c ETC ARGS...` (e.g. ["-e", "key = value"] or ["-Me", "service/type=line"]),
   *  then a reload; the new settings apply to the next connection. */
  reconfigure(postconfArgs: string[]): void {
    const pc = spawnSync("postconf", ["-c", this.etc, ...postconfArgs], { encoding: "utf8" });
    if (pc.status !== 0) throw new Error(`postconf ${postconfArgs.join(" ")}: ${pc.stderr}`);
    const rl = spawnSync("postfix", ["-c", this.etc, "reload"], { encoding: "utf8" });
    if (rl.status !== 0) throw new Error(`postfix reload: ${rl.stderr}`);
  }

  stop(): void {
    spawnSync("sh", [POSTFIX_RECIPE, this.base, "stop"], { timeout: POSTFIX_START_TIMEOUT_MS });
  }

  /** Every mail in the Maildir's new/ (one file per delivery; LF line ends). */
  delivered(encoding: BufferEncoding = "latin1"): string[] {
    const dir = join(this.base, "mail", "inbox", "new");
    return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), encoding)) : [];
  }

  withMarker(marker: string, encoding: BufferEncoding = "latin1"): string[] {
    return this.delivered(encoding).filter((t) => t.includes(marker));
  }

  log(): string {
    const f = join(this.base, "postfix.log");
    return existsSync(f) ? readFileSync(f, "utf8") : "";
  }
}

/** The server's reply to the end of DATA as swaks prints it ("<-  250 ..." or "<** 554 ..."). */
export function swaksDataReply(out: string): string {
  const lines = out.split("\n");
  const dot = lines.findIndex((l) => /^ -> \.$/.test(l));
  return dot >= 0 ? (lines.slice(dot + 1).find((l) => /^<(-|\*\*) /.test(l)) ?? "") : "";
}

/** `bulwark ARGS...`: its stdout; a non-zero exit fails the test. */
export function bulwarkCli(args: string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "bulwark"), ...args], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`bulwark ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface QuarEntry {
  id: string;
  names: string[];
  status: string;
  sender: string;
  recipients: string[];
  agent: string;
}

/** `bulwark quar list --json` with the given filters (e.g. ["--agent", "smfi"]). */
export function quarantineList(config: string, filters: string[]): QuarEntry[] {
  return JSON.parse(bulwarkCli(["quar", "--config", config, "list", ...filters, "--json"])) as QuarEntry[];
}

/** A whole message (header and body, CRLF) whose second part is EICAR. */
export function multipartWithEicar(subject: string, boundary: string, text = "the text part stays\r\n"): Buffer {
  return Buffer.concat([
    Buffer.from(
      `From: alice@example.org\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n` +
        `Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n` +
        `--${boundary}\r\nContent-Type: text/plain\r\n\r\n${text}` +
        `--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="eicar.com"\r\n\r\n`,
    ),
    EICAR,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}
