/**
 * bulwark-pipe [--config FILE] [--sender S] [--recipient R ...]: a filter program an MTA runs
 * with one mail on stdin (Postfix pipe(8): `argv=bulwark-pipe --sender ${sender} --recipient
 * ${recipient}`).
 * Talks to: the Bulwark daemon only, over its local socket (daemon_socket_path, the private
 *   zBWMAIL command, host/service/protocol.ts); it opens no listener and reads no other file than
 *   the configuration. The daemon decides: policy of the [pipe] section over [global], the
 *   user_config file per recipient and sender, scanning, cleaning, footnote, quarantine.
 * Writes: on accept, the X-Bulwark-* header fields (when the daemon gives them) and the mail
 *   (the daemon's rewritten copy when it cleaned it or added a footnote) to stdout; in every
 *   other case nothing to stdout. Diagnostics go to stderr.
 * Exit codes (host/policy/wire.ts): 0 accept, 69 reject, 99 discard, 75 defer. Any failure
 *   (daemon down or silent, bad configuration or arguments, unreadable stdin) is a defer: exit 75
 *   with nothing written, so the MTA keeps the mail and retries.
 * A mail larger than max_file_size is read only up to the limit: the daemon calls it not scanned
 *   (action_av_notscanned decides); if that is accept, the rest of stdin is copied through after
 *   what was held, so the whole mail goes out while memory stays bounded.
 */
import { formatHeaderFields } from "../../host/policy/headers.js";
import { setSubject, stripOwnFields } from "../../host/spam/mark.js";
import { EXIT_DEFER, wireOf } from "../../host/policy/wire.js";
import { type MailRequest, MAX_REWRITE_GROWTH } from "../../host/service/protocol.js";
import { loadAgentConfig, splitConfigArg } from "../common/agent-config.js";
import { daemonMail } from "../common/daemon-client.js";
import { copyRest, readUpTo, writeAll } from "../common/io.js";

const USAGE = "usage: bulwark-pipe [--config FILE] [--sender S] [--recipient R ...]";
/** How far into the mail the line ending is looked for (the first header line is short). */
const EOL_PROBE_BYTES = 8192;

const fail = (msg: string): number => {
  process.stderr.write(`bulwark-pipe: ${msg} (deferring)\n`);
  return EXIT_DEFER;
};

/** --sender S / --sender=S and repeatable --recipient R / --recipient=R. */
function parseEnvelope(args: string[]): { sender?: string; recipients: string[] } | { error: string } {
  let sender: string | undefined;
  const recipients: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--(sender|recipient)(?:=(.*))?$/s.exec(a);
    if (!m) return { error: `unexpected argument ${JSON.stringify(a)}; ${USAGE}` };
    let value = m[2];
    if (value === undefined) {
      if (i + 1 >= args.length) return { error: `--${m[1]} needs a value; ${USAGE}` };
      value = args[++i];
    }
    if (m[1] === "sender") sender = value;
    else recipients.push(value);
  }
  return { sender, recipients };
}

async function run(argv: string[]): Promise<number> {
  const args = splitConfigArg(argv);
  if (args.error) return fail(args.error);
  const envelope = parseEnvelope(args.rest);
  if ("error" in envelope) return fail(envelope.error);
  const ac = loadAgentConfig(args.config, "pipe");
  if ("error" in ac) return fail(ac.error);
  const maxFileSize = ac.config.int("global", "max_file_size");

  let held: { data: Buffer; more: boolean };
  try {
    held = await readUpTo(process.stdin, maxFileSize);
  } catch (e) {
    return fail(`cannot read the mail: ${(e as Error).message}`);
  }

  const req: MailRequest = { agent: "pipe", recipients: envelope.recipients };
  if (envelope.sender !== undefined) req.sender = envelope.sender;
  if (held.more) req.truncated = true;
  const answer = await daemonMail(ac.socketPath, req, held.data, maxFileSize + MAX_REWRITE_GROWTH);
  if (!answer.ok) return fail(answer.error);
  const { result } = answer;
  if (result.action !== "accept") {
    const kept = result.quarantineId ? ` (quarantined as ${result.quarantineId})` : "";
    process.stderr.write(`bulwark-pipe: ${result.action}: ${result.reason}${kept}\n`);
    return wireOf(result, "exit");
  }

  // incoming X-Bulwark-* fields are forged (or an earlier hop's): ours replace them
  const whole = stripOwnFields(result.rewritten && answer.mail ? answer.mail : held.data);
  // the subject template applied to spam; the daemon sends it only for a mail it received whole
  const body = result.subject !== undefined && !held.more ? setSubject(whole, result.subject) : whole;
  const eol = /^[^\n]*\r\n/.test(body.subarray(0, EOL_PROBE_BYTES).toString("latin1")) ? "\r\n" : "\n";
  try {
    const header = formatHeaderFields(result.headers, eol);
    await writeAll(process.stdout, Buffer.concat([Buffer.from(header, "latin1"), body]));
    // the mail was over max_file_size and accepted unscanned: pass the rest through unheld
    if (held.more) await copyRest(process.stdin, process.stdout);
  } catch (e) {
    // Part of the mail may be out already; 75 makes the MTA discard that output and retry.
    return fail(`cannot write the mail: ${(e as Error).message}`);
  }
  return wireOf(result, "exit");
}

// A broken stdout (the MTA closed it) must not crash with exit 1, which no MTA reads as defer.
process.stdout.on("error", () => {});
try {
  process.exitCode = await run(process.argv.slice(2));
} catch (e) {
  process.exitCode = fail(`internal error: ${(e as Error)?.stack ?? String(e)}`);
}
// the unread rest of a large mail that was not accepted must not keep the process waiting
process.stdin.destroy();
