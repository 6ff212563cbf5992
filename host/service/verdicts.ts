/** Verdicts the service makes itself, and verdicts trimmed for a reply frame (protocol.ts bounds). */
import type { Verdict } from "../scan/verdict.js";
import { MAX_REPLY_LIST, MAX_REPLY_TEXT } from "./protocol.js";

/** The scanner's name for an object over max_file_size (host/scanner.ts uses the same). */
export const MAX_FILE_SIZE_NAME = "Heuristics.Limits.Exceeded.MaxFileSize";

/** An object that was not scanned because it is larger than `limit`: never clean. Like the
 *  scanner's own limit verdicts, nothing was looked at (objects 0). */
export function oversizeVerdict(limit: number, received: number, truncated: boolean): Verdict {
  const size = truncated ? `more than ${received}` : String(received);
  return {
    status: "not_scanned", infected: false, names: [], detections: [], objects: 0, bytesScanned: 0,
    notScanned: [{ name: MAX_FILE_SIZE_NAME, path: "", reason: `${size} bytes, over max_file_size (${limit})` }],
  };
}

/** A failure of ours: the policy defers it whatever the options say. */
export function errorVerdict(message: string): Verdict {
  return { status: "error", infected: false, names: [], detections: [], notScanned: [], objects: 0, bytesScanned: 0, error: message };
}

const cut = (s: string) => (s.length > MAX_REPLY_TEXT ? `${s.slice(0, MAX_REPLY_TEXT - 3)}...` : s);

/** The verdict with its lists and strings capped for a reply (the daemon's log has them all). */
export function trimVerdict(v: Verdict): Verdict {
  const out: Verdict = {
    status: v.status,
    infected: v.infected,
    names: v.names.slice(0, MAX_REPLY_LIST).map(cut),
    detections: v.detections.slice(0, MAX_REPLY_LIST).map((d) => ({ name: cut(d.name), path: cut(d.path), kind: d.kind })),
    notScanned: v.notScanned.slice(0, MAX_REPLY_LIST).map((n) => ({ name: cut(n.name), path: cut(n.path), reason: cut(n.reason) })),
    objects: v.objects,
    bytesScanned: v.bytesScanned,
  };
  if (v.error !== undefined) out.error = cut(v.error);
  return out;
}
