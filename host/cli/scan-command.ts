/**
 * `bulwark scan [options] PATH…`: the clipanion command. Option names follow clamscan
 * (-d, -r, -z/--allmatch, -i, --quiet, --no-summary, --max-filesize=100M …) so existing
 * scripts carry over; it only parses and validates, the job itself is runScan().
 */
import { Command, Option } from "clipanion";
import type { Limits } from "../limits.js";
import { runScan } from "./run-scan.js";
import { CliUsageError, parseCount, parseSize } from "./sizes.js";

/** Upper bound for --workers: more threads than this only adds memory (one WASM instance
 *  and scan arena each) on any machine this runs on. */
const MAX_WORKERS = 256;

export class ScanCommand extends Command {
  static paths = [["scan"]];

  static usage = Command.Usage({
    description: "scan files, directories or standard input with ClamAV-format signatures",
    details: `
      Prints \`PATH: NAME FOUND\`, \`PATH: OK\` or \`PATH: REASON ERROR\` per file, then a clamscan-style summary.
      A file that could not be fully scanned (a limit was exceeded, it is encrypted) prints its
      Heuristics name as FOUND and is never OK. \`-\` reads standard input.

      Exit code: 0 nothing found, 1 something found or not scanned, 2 error (clamscan's precedence: 1 wins over 2).

      Sizes accept clamscan's suffixes: \`25K\`, \`100M\` (and \`1G\`). Unlike clamscan, a limit of 0 is not "unlimited".
    `,
    examples: [
      ["Scan a directory tree with the built-in EICAR signature", "$0 scan -r fixtures/demo"],
      ["Scan with ClamAV databases, report every match", "$0 scan -d sigs/ --allmatch mail.eml"],
      ["Scan standard input", "cat mail.eml | $0 scan -"],
    ],
  });

  databases = Option.Array("-d,--database", [], { description: "signature file or directory (repeatable)" });
  recursive = Option.Boolean("-r,--recursive", false, { description: "scan directories recursively" });
  json = Option.Boolean("--json", false, { description: "one JSON object per file, then a summary object" });
  allmatch = Option.Boolean("-z,--allmatch", false, { description: "report every matching signature" });
  quiet = Option.Boolean("--quiet", false, { description: "only print errors" });
  infected = Option.Boolean("-i,--infected", false, { description: "only print infected files" });
  summary = Option.Boolean("--summary", true, { description: "print the summary (--no-summary to disable)" });
  builtin = Option.Boolean("--builtin", true, { description: "include the built-in EICAR signature (--no-builtin to disable)" });
  workers = Option.String("--workers", { description: "worker threads (0 = scan on the main thread; default: one per core)" });
  maxFilesize = Option.String("--max-filesize", { description: "largest object scanned (default 100M)" });
  maxScansize = Option.String("--max-scansize", { description: "most data scanned per input (default 400M)" });
  maxFiles = Option.String("--max-files", { description: "most objects extracted per input (default 10000)" });
  maxRecursion = Option.String("--max-recursion", { description: "deepest container nesting (default 17)" });
  maxScantime = Option.String("--max-scantime", { description: "time limit per input in ms (default 60000)" });
  inputs = Option.Rest({ required: 1, name: "PATH" });

  /** Validated limit overrides (only those given). */
  limits(): Partial<Limits> {
    const l: Partial<Limits> = {};
    if (this.maxFilesize !== undefined) l.maxFileSize = parseSize("--max-filesize", this.maxFilesize);
    if (this.maxScansize !== undefined) l.maxScanSize = parseSize("--max-scansize", this.maxScansize);
    if (this.maxFiles !== undefined) l.maxFiles = parseCount("--max-files", this.maxFiles);
    if (this.maxRecursion !== undefined) l.maxRecursion = parseCount("--max-recursion", this.maxRecursion);
    if (this.maxScantime !== undefined) l.maxScanTime = parseCount("--max-scantime", this.maxScantime);
    return l;
  }

  workerCount(): number | undefined {
    if (this.workers === undefined) return undefined;
    const n = parseCount("--workers", this.workers);
    if (n > MAX_WORKERS) throw new CliUsageError(`--workers must be at most ${MAX_WORKERS}`);
    return n;
  }

  async execute(): Promise<number> {
    let limits: Partial<Limits>;
    let workers: number | undefined;
    try {
      limits = this.limits();
      workers = this.workerCount();
    } catch (e) {
      if (!(e instanceof CliUsageError)) throw e;
      this.context.stderr.write(`ERROR: ${e.message}\n`);
      return 2;
    }
    try {
      return await runScan(
        {
          paths: this.inputs,
          databases: this.databases,
          recursive: this.recursive,
          json: this.json,
          allmatch: this.allmatch,
          quiet: this.quiet,
          infectedOnly: this.infected,
          summary: this.summary,
          workers,
          builtin: this.builtin,
          limits,
        },
        { stdin: this.context.stdin, stdout: this.context.stdout, stderr: this.context.stderr },
      );
    } catch (e) {
      // clipanion would print an exception to stdout and exit 1 ("found"); an internal
      // failure is an error: stderr and exit 2.
      this.context.stderr.write(`ERROR: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      return 2;
    }
  }
}
