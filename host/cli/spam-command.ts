/**
 * `bulwark spam`: train and inspect the statistical filter, and classify messages by hand.
 *   bulwark spam learn (--spam | --ham) [--db FILE] [--config FILE] FILE|DIR|-...
 *   bulwark spam forget [--db FILE] [--config FILE] FILE|DIR|-...
 *   bulwark spam check [--local] [--db FILE] [--config FILE] FILE|DIR|-...
 *   bulwark spam stats [--db FILE] [--config FILE] [--json]
 * The database is --db, else [global] as_bayes_db of the configuration (spam-inputs.ts). Several
 * learners (the daemon, spamd TELL, this command) may write it at once: each message is its own
 * transaction (host/spam/bayes-store.ts).
 * Exit codes: learn/forget/stats 0 done, 2 any error; check 1 when a message is spam, else 2 when
 * any error, else 0 (probable spam is 0, like ham: it is a hint, not a verdict).
 */
import { Command, Option } from "clipanion";
import type { BayesStore } from "../spam/bayes-store.js";
import type { LearnOutcome, SpamResult } from "../spam/types.js";
import { type SpamSetup, SpamUsageError, ensureDbDir, messageInputs, printable, spamSetup } from "./spam-inputs.js";

// one line each: clipanion rewraps paragraphs, and a multi-line insert would break its dedent
const LOCATION_DETAILS = "The database is `--db FILE`, else [global] as_bayes_db of the configuration `bulwark daemon` reads "
  + "(`--config FILE`, $BULWARK_CONFIG, else /etc/bulwark/bulwark.cfg for root and ./.bulwark/bulwark.cfg for anyone else); "
  + "a relative as_bayes_db is taken inside cache_dir.";

const INPUT_DETAILS = "Each FILE is one message; a leading mbox \"From \" line is ignored (an mbox with several messages is read "
  + "as one). Directories are walked recursively (links inside them are not followed); `-` is standard input.";

const BUILTIN_ERRORS: ErrorConstructor[] = [Error, TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

abstract class SpamSubcommand extends Command {
  db = Option.String("--db", { description: "Bayes database file (default: as_bayes_db of the configuration)" });
  config = Option.String("--config", { description: "configuration file (default: as for `bulwark daemon`)" });

  abstract run(setup: SpamSetup): Promise<number>;

  async execute(): Promise<number> {
    try {
      const setup = spamSetup({ config: this.config, db: this.db });
      for (const w of setup.warnings) this.context.stderr.write(`WARNING: ${w}\n`);
      return await this.run(setup);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // the project's own error classes (usage, database, rules file, DNS configuration) and
      // SQLite's describe a problem to fix: one line; a plain Error or TypeError is a bug: the stack
      const expected = e instanceof SpamUsageError || (e instanceof Error && !BUILTIN_ERRORS.includes(e.constructor as ErrorConstructor));
      this.context.stderr.write(`ERROR: ${expected ? message : ((e as Error).stack ?? message)}\n`);
      return 2;
    }
  }

  protected out(line: string): void {
    this.context.stdout.write(`${line}\n`);
  }
}

/** The database for writing, its directory created when missing (cache_dir before the daemon ran). */
async function openStoreFor(setup: SpamSetup): Promise<BayesStore> {
  ensureDbDir(setup.db);
  return (await import("../spam/bayes-store.js")).openBayesStore(setup.db);
}

function totalsLine(file: string, o: Pick<LearnOutcome, "nspam" | "nham">): string {
  return `database ${printable(file)}: ${o.nspam} spam, ${o.nham} ham`;
}

/** Run learn or forget over every input; print one line per message and the totals. */
async function train(cmd: SpamSubcommand & { files: string[] }, setup: SpamSetup,
  step: (store: BayesStore, raw: Buffer) => LearnOutcome, describe: (o: LearnOutcome) => string): Promise<number> {
  const store = await openStoreFor(setup);
  const tally = new Map<string, number>();
  let errors = 0;
  try {
    for await (const input of messageInputs(cmd.files, cmd.context.stdin)) {
      if (input.kind === "error") {
        errors++;
        cmd.context.stdout.write(`${printable(input.path)}: ERROR: ${printable(input.reason)}\n`);
        continue;
      }
      try {
        const o = step(store, input.raw);
        tally.set(o.outcome, (tally.get(o.outcome) ?? 0) + 1);
        cmd.context.stdout.write(`${printable(input.path)}: ${describe(o)}\n`);
      } catch (e) {
        errors++;
        cmd.context.stdout.write(`${printable(input.path)}: ERROR: ${printable((e as Error).message)}\n`);
      }
    }
    const counts = [...tally].map(([k, n]) => `${k} ${n}`);
    cmd.context.stdout.write(`${[...counts, `errors ${errors}`].join(", ")}\n`);
    const s = store.stats();
    cmd.context.stdout.write(`${totalsLine(setup.db, s)}\n`);
  } finally {
    store.close();
  }
  return errors > 0 ? 2 : 0;
}

export class SpamLearnCommand extends SpamSubcommand {
  static paths = [["spam", "learn"]];
  static usage = Command.Usage({
    description: "teach the statistical filter that messages are spam or ham",
    details: `
      Learning a message again in the same class changes nothing ("already"); learning it in the other class moves it
      ("relearned"). Messages are recognised by the SHA-256 of their bytes.

      ${INPUT_DETAILS}

      ${LOCATION_DETAILS}

      The filter adds nothing to scores until the database holds enough of both classes.
      Exit code: 0 done, 2 any error (the other messages are still learned).
    `,
    examples: [["Learn a folder of spam", "$0 spam learn --spam ~/Mail/junk"], ["Learn one ham message", "$0 spam learn --ham message.eml"]],
  });

  spam = Option.Boolean("--spam", false, { description: "the messages are spam" });
  ham = Option.Boolean("--ham", false, { description: "the messages are ham (wanted mail)" });
  files = Option.Rest({ required: 1, name: "FILE" });

  async run(setup: SpamSetup): Promise<number> {
    if (this.spam === this.ham) throw new SpamUsageError("give exactly one of --spam and --ham");
    const cls = this.spam ? "spam" : "ham";
    // loaded here, not at the top: main.ts imports this file for every `bulwark` command
    const { messageDigest } = await import("../spam/bayes-store.js");
    const { parseMail } = await import("../spam/message.js");
    const { features } = await import("../spam/tokenize.js");
    return train(this, setup, (store, raw) => store.learn(messageDigest(raw), cls, features(parseMail(raw))),
      (o) => (o.outcome === "already" ? `already learned as ${cls}` : `${o.outcome} as ${cls}`));
  }
}

export class SpamForgetCommand extends SpamSubcommand {
  static paths = [["spam", "forget"]];
  static usage = Command.Usage({
    description: "make the statistical filter forget messages learned before",
    details: `
      Takes away exactly what learning the message added. A message never learned is reported as "not learned".

      ${INPUT_DETAILS}

      ${LOCATION_DETAILS}

      Exit code: 0 done (also for messages not learned), 2 any error.
    `,
    examples: [["Forget a message learned by mistake", "$0 spam forget message.eml"]],
  });

  files = Option.Rest({ required: 1, name: "FILE" });

  async run(setup: SpamSetup): Promise<number> {
    const { messageDigest } = await import("../spam/bayes-store.js");
    return train(this, setup, (store, raw) => store.forget(messageDigest(raw)),
      (o) => (o.outcome === "unknown" ? "not learned" : o.outcome));
  }
}

function verdictLines(path: string, r: SpamResult): string[] {
  const head = `${printable(path)}: ${r.status} score=${r.score.toFixed(1)} required=${r.required.toFixed(1)}`
    + (r.skipped ? ` skipped (${printable(r.skipped)})` : "");
  const reasons = [...r.reasons].sort((a, b) => Math.abs(b.score) - Math.abs(a.score))
    .map((x) => `  ${x.score >= 0 ? "+" : ""}${x.score.toFixed(1)} ${printable(x.name)}${x.description ? ` ${printable(x.description)}` : ""}`);
  const soft = (r.softFailures ?? []).map((f) => `  failed soft (no score): ${printable(f)}`);
  return [head, ...reasons, ...soft];
}

export class SpamCheckCommand extends SpamSubcommand {
  static paths = [["spam", "check"]];
  static usage = Command.Usage({
    description: "classify messages as the daemon would and show why",
    details: `
      Prints each message's verdict (ham, probable, spam), its score, the score needed for spam, and the reasons
      (rules, the statistical filter's BAYES_xx band, network checks) largest first. Network checks (DNS block lists,
      SPF/DKIM/DMARC) run as configured unless \`--local\` is given; one that fails adds nothing and is listed.

      ${INPUT_DETAILS}

      ${LOCATION_DETAILS}

      Exit code: 1 when any message is spam; else 2 when any message could not be checked; else 0. Probable spam
      exits 0, like ham: it is below the spam threshold.
    `,
    examples: [["Check a message without network checks", "$0 spam check --local message.eml"]],
  });

  local = Option.Boolean("--local", false, { description: "no network checks (rules and the statistical filter only)" });
  json = Option.Boolean("--json", false, { description: "print one JSON object per message instead of text" });
  files = Option.Rest({ required: 1, name: "FILE" });

  async run(setup: SpamSetup): Promise<number> {
    ensureDbDir(setup.db);
    const { createSpamEngine } = await import("../spam/engine.js");
    const engine = await createSpamEngine({
      config: setup.config, network: !this.local, log: (line: string) => this.context.stderr.write(`${printable(line)}\n`),
    });
    let spam = 0;
    let errors = 0;
    try {
      for await (const input of messageInputs(this.files, this.context.stdin)) {
        let r: SpamResult;
        try {
          if (input.kind === "error") throw new Error(input.reason);
          r = await engine.classify(input.raw, {});
        } catch (e) {
          errors++;
          const reason = (e as Error).message;
          this.out(this.json ? JSON.stringify({ file: input.path, error: reason }) : `${printable(input.path)}: ERROR: ${printable(reason)}`);
          continue;
        }
        if (r.status === "spam") spam++;
        if (this.json) this.out(JSON.stringify({ file: input.path, ...r }));
        else for (const line of verdictLines(input.path, r)) this.out(line);
      }
    } finally {
      engine.close();
    }
    return spam > 0 ? 1 : errors > 0 ? 2 : 0;
  }
}

export class SpamStatsCommand extends SpamSubcommand {
  static paths = [["spam", "stats"]];
  static usage = Command.Usage({
    description: "show what the statistical filter has learned",
    details: `
      Messages learned as spam and as ham, and the distinct features (tokens) stored. A database that does not exist
      yet is reported as empty and is not created.

      ${LOCATION_DETAILS}

      Exit code: 0 done, 2 error (unreadable database, not a Bulwark Bayes database, newer schema).
    `,
    examples: [["Show the totals", "$0 spam stats"]],
  });

  json = Option.Boolean("--json", false, { description: "print JSON" });

  async run(setup: SpamSetup): Promise<number> {
    const { existsSync } = await import("node:fs");
    let s = { file: setup.db, exists: false, schemaVersion: 0, nspam: 0, nham: 0, tokens: 0, learned: 0 };
    if (existsSync(setup.db)) {
      const { openBayesStore } = await import("../spam/bayes-store.js");
      const store = openBayesStore(setup.db, { mustExist: true });
      try {
        s = { ...store.stats(), exists: true };
      } finally {
        store.close();
      }
    }
    if (this.json) {
      this.out(JSON.stringify(s));
      return 0;
    }
    if (!s.exists) this.context.stderr.write(`no Bayes database at ${printable(setup.db)} yet: nothing learned\n`);
    this.out(`database: ${printable(s.file)}`);
    this.out(`spam messages: ${s.nspam}`);
    this.out(`ham messages: ${s.nham}`);
    this.out(`tokens: ${s.tokens}`);
    if (s.exists) this.out(`schema version: ${s.schemaVersion}`);
    return 0;
  }
}

/** Registered by main.ts. */
export const SPAM_COMMANDS = [SpamLearnCommand, SpamForgetCommand, SpamCheckCommand, SpamStatsCommand];
