/**
 * bulwark-pipe [--config FILE]: a filter program an MTA runs with one mail on stdin.
 * Talks to: the Bulwark daemon only, over its local scan socket (daemon_socket_path, clamd's
 *   INSTREAM protocol); it opens no listener and reads no other file than the configuration.
 * Writes: on accept, the mail (with X-Bulwark-* header fields in front when av_hdr_enabled) to
 *   stdout; in every other case nothing to stdout. Diagnostics go to stderr.
 * Exit codes (host/policy/wire.ts): 0 accept, 69 reject, 99 discard, 75 defer. Any failure
 *   (daemon down or silent, bad configuration, mail over max_file_size, unreadable stdin) is a
 *   defer: exit 75 with nothing written, so the MTA keeps the mail and retries.
 * Policy: the [pipe] section's options, falling back to [global] (SPEC §4).
 */
import { decide, shouldScan, type Decision } from "../../host/policy/actions.js";
import { formatHeaderFields, scanHeaderFields } from "../../host/policy/headers.js";
import { EXIT_DEFER, wireOf } from "../../host/policy/wire.js";
import { loadAgentConfig, splitConfigArg } from "../common/agent-config.js";
import { clamdRequest, scanViaDaemon } from "../common/clamd-client.js";
import { readBounded, writeAll } from "../common/io.js";

const PRODUCT_VERSION = "0.1.0";
/** Time for the VERSION question asked after a scan, for the header field; short because the
 *  daemon just answered, and its failure only costs the signature text. */
const VERSION_TIMEOUT_MS = 5_000;

const fail = (msg: string): number => {
  process.stderr.write(`bulwark-pipe: ${msg} (deferring)\n`);
  return EXIT_DEFER;
};

async function run(argv: string[]): Promise<number> {
  const args = splitConfigArg(argv);
  if (args.error) return fail(args.error);
  if (args.rest.length) return fail(`unexpected argument ${JSON.stringify(args.rest[0])}; usage: bulwark-pipe [--config FILE]`);
  const ac = loadAgentConfig(args.config, "pipe");
  if ("error" in ac) return fail(ac.error);

  let mail: Buffer;
  try {
    mail = await readBounded(process.stdin, ac.config.int("global", "max_file_size"));
  } catch (e) {
    return fail(`cannot read the mail: ${(e as Error).message}`);
  }

  let decision: Decision;
  let header = "";
  if (!shouldScan(ac.policy)) decision = decide(ac.policy);
  else {
    const verdict = await scanViaDaemon(ac.socketPath, mail);
    decision = decide(ac.policy, { verdict, cleaned: false });
    if (verdict.status === "error") process.stderr.write(`bulwark-pipe: ${verdict.error}\n`);
    if (decision.action === "accept" && ac.config.bool("pipe", "av_hdr_enabled")) {
      const signatures = await clamdRequest(ac.socketPath, "VERSION", undefined, VERSION_TIMEOUT_MS).catch(() => "unknown");
      const eol = /^[^\n]*\r\n/.test(mail.subarray(0, 8192).toString("latin1")) ? "\r\n" : "\n";
      header = formatHeaderFields(scanHeaderFields(verdict, { product: PRODUCT_VERSION, engine: "wasm", signatures }), eol);
    }
  }
  if (decision.action !== "accept") {
    process.stderr.write(`bulwark-pipe: ${decision.action}: ${decision.reason}\n`);
    return wireOf(decision, "exit");
  }
  try {
    await writeAll(process.stdout, Buffer.concat([Buffer.from(header, "latin1"), mail]));
  } catch (e) {
    return fail(`cannot write the mail: ${(e as Error).message}`);
  }
  return wireOf(decision, "exit");
}

// A broken stdout (the MTA closed it) must not crash with exit 1, which no MTA reads as defer.
process.stdout.on("error", () => {});
try {
  process.exitCode = await run(process.argv.slice(2));
} catch (e) {
  process.exitCode = fail(`internal error: ${(e as Error)?.stack ?? String(e)}`);
}
