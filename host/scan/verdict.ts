/** The typed result of scanning one input (a file, a buffer, a stream). */

export interface Detection {
  /** signature or heuristic name, e.g. "ClamAV-Test-File.UNOFFICIAL", "Heuristics.Encrypted.Zip" */
  name: string;
  /** where inside the input: "" for the input itself, "invoice.zip/a.exe" for a member */
  path: string;
  kind: "signature" | "heuristic";
}

export interface NotScanned {
  /** e.g. "Heuristics.Limits.Exceeded.MaxRecursion", "Heuristics.Encrypted.Zip", "Engine.Timeout" */
  name: string;
  path: string;
  reason: string;
}

export type VerdictStatus =
  | "clean" // everything was scanned and nothing matched
  | "infected" // at least one detection
  | "not_scanned" // nothing matched, but some part could not be scanned (limit, encryption, engine fault)
  | "error"; // the input could not be read at all

export interface Verdict {
  status: VerdictStatus;
  infected: boolean;
  /** distinct detection names, in the order found */
  names: string[];
  detections: Detection[];
  notScanned: NotScanned[];
  /** objects looked at: the input plus every extracted member */
  objects: number;
  /** bytes given to the matcher (input + extracted) */
  bytesScanned: number;
  error?: string;
}
