/** The public types of the embedded library (`import { createScanner } from "bulwark"`). */
import type { Limits } from "./limits.js";
import type { LoadError } from "./sigs/types.js";
import type { Verdict } from "./scan/verdict.js";

export interface ScannerOptions {
  /** signature files or directories (ClamAV formats: .hdb .hsb .ndb .ldb .fp .sfp .ign2 .cvd .cld) */
  databases?: string[];
  /** include the built-in EICAR signature (default true) */
  builtin?: boolean;
  /** limit overrides (defaults: DEFAULT_LIMITS) */
  limits?: Partial<Limits>;
  /** worker threads; 0 = scan on the calling thread (CLI default for small jobs); default: cores */
  workers?: number;
  /** report every matching signature instead of stopping at the first */
  allmatch?: boolean;
  /** directory for the compiled-database cache; null disables it (default: $XDG_CACHE_HOME/bulwark) */
  cacheDir?: string | null;
}

export interface ScanInput {
  /** a display name for the input (used in verdict paths); defaults to the path or "stream" */
  name?: string;
  /** The caller hands a Uint8Array input over: it will not read or write it (nor any other view
   *  of its ArrayBuffer) after this call. The scanner may then move the ArrayBuffer to a worker
   *  thread instead of copying it, which detaches it here (length 0). Without it (the default)
   *  the input is copied and stays usable. Ignored for streams and paths. */
  transfer?: boolean;
}

export interface Scanner {
  /** scan a buffer, a readable stream, or a file path */
  scan(input: Uint8Array | NodeJS.ReadableStream | string, opts?: ScanInput): Promise<Verdict>;
  close(): Promise<void>;
  /** number of signatures loaded (body + logical + hash), like clamscan's "Known viruses" */
  readonly signatureCount: number;
  /** bad lines found while loading, each skipped */
  readonly loadErrors: readonly LoadError[];
  /** milliseconds spent loading and compiling (or reading the cache) */
  readonly loadMs: number;
}
