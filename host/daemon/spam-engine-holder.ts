/**
 * The daemon's anti-spam engine (host/spam/engine.ts), rebuilt on reload like the scanner: a new
 * engine replaces the old one only once it is built, so a broken rules file or database at
 * SIGHUP keeps the old engine serving (and says why). At start a failure leaves no engine: mail
 * that asks for classification (action_as = scan) is then deferred, never passed unclassified,
 * and the antivirus half keeps working.
 */
import type { Config } from "../config/load.js";
import { createSpamEngine, type LocalSpamEngine } from "../spam/engine.js";

/** How long the daemon waits for the Bayes database's write lock (a spamd TELL while `bulwark
 *  spam learn` writes): the wait blocks the event loop that serves every agent's mail, so
 *  beyond this the TELL gets a temporary failure instead. */
export const DAEMON_BUSY_TIMEOUT_MS = 500;

export class SpamEngineHolder {
  private current: LocalSpamEngine | undefined;

  constructor(private readonly log: (line: string) => void) {}

  get engine(): LocalSpamEngine | undefined {
    return this.current;
  }

  async rebuild(config: Config): Promise<void> {
    try {
      const next = await createSpamEngine({ config, log: this.log, busyTimeoutMs: DAEMON_BUSY_TIMEOUT_MS });
      const old = this.current;
      this.current = next;
      // classification is synchronous up to its network checks, which read no store state
      // after they start, so the old engine can close at once
      old?.close();
      const s = next.store.stats();
      this.log(`anti-spam: rules loaded, Bayes database ${s.file} (${s.nspam} spam, ${s.nham} ham learned)`);
    } catch (e) {
      const why = (e as Error)?.message ?? String(e);
      if (this.current) this.log(`error: anti-spam: reload refused, keeping the old rules and database: ${why}`);
      else this.log(`error: anti-spam unavailable (mail with action_as = scan is deferred until this is fixed): ${why}`);
    }
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
  }
}
