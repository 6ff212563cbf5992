/**
 * Entry point of the `bulwark` command (bin/bulwark imports the compiled copy).
 * Usage errors and unexpected failures exit 2, like clamscan; a command's own return
 * value (0/1/2) is the exit code otherwise.
 */
import { Builtins, Cli } from "clipanion";
import { ScanCommand } from "./scan-command.js";

const VERSION = "0.1.0";

export async function main(argv: string[]): Promise<number> {
  const cli = new Cli({ binaryLabel: "Bulwark", binaryName: "bulwark", binaryVersion: VERSION, enableColors: false });
  cli.register(ScanCommand);
  cli.register((await import("./set-command.js")).SetCommand);
  cli.register((await import("./daemon-command.js")).DaemonCommand);
  cli.register((await import("./quar-command.js")).QuarCommand);
  cli.register((await import("./stats-command.js")).StatsCommand);
  for (const c of (await import("./spam-command.js")).SPAM_COMMANDS) cli.register(c);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);

  let command;
  try {
    command = cli.process(argv, {});
  } catch (e) {
    process.stderr.write(cli.error(e));
    return 2;
  }
  try {
    // ScanCommand catches its own failures (exit 2); clipanion's own fallback would be 1.
    return await cli.run(command, {});
  } catch (e) {
    process.stderr.write(`ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}

// Output that cannot be written (`bulwark scan … | head` closing the pipe, a full disk) ends
// the run with exit 2: results were lost, so neither "clean" (0) nor "found" (1) is true.
// A closed pipe is common enough not to deserve a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") process.stderr.write(`ERROR: cannot write output: ${e.message}\n`);
  process.exit(2);
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  // Node's default for an uncaught error is exit 1, which would read as "infected".
  process.stderr.write(`ERROR: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
}
