/** The embedded library: `import { createScanner } from "bulwark"`. */
export { createScanner } from "./scanner.js";
export type { Scanner, ScannerOptions, ScanInput } from "./api.js";
export type { Verdict, Detection, NotScanned, VerdictStatus } from "./scan/verdict.js";
export { DEFAULT_LIMITS, LimitExceeded, type Limits, type LimitName } from "./limits.js";
export { createSpamFilter, type SpamFilter, type SpamFilterOptions } from "./spam/filter.js";
export type { SpamResult, SpamReason, SpamStatus, SpamContext, LearnOutcome } from "./spam/types.js";
