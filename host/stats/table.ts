/**
 * The text table of `bulwark stats`, laid out like the reference product's statistics page:
 * one row per agent with its eight counters and since when it counts, then a total row.
 * Objects (scanned .. not scanned) come before messages (accepted .. rejected).
 */
import { type AgentStats, COUNTER_NAMES, type CounterName, type Counters } from "./counters.js";

export const COLUMN_TITLES: Record<CounterName, string> = {
  scanned: "Scanned",
  cleaned: "Cleaned",
  infected: "Infected",
  notScanned: "Not scanned",
  accepted: "Accepted",
  deferred: "Deferred",
  discarded: "Discarded",
  rejected: "Rejected",
};

/** "2026-11-25T17:20:05.123Z" -> "2026-11-25 17:20:05 UTC" */
function sinceText(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
}

/** Rows in the given order; `total` adds a last row (omitted when undefined). */
export function formatStatsTable(rows: Array<[string, AgentStats]>, total?: Counters): string {
  const header = ["Agent", ...COUNTER_NAMES.map((k) => COLUMN_TITLES[k]), "Since"];
  const body: string[][] = rows.map(([agent, s]) => [agent, ...COUNTER_NAMES.map((k) => String(s[k])), sinceText(s.since)]);
  if (total) body.push(["total", ...COUNTER_NAMES.map((k) => String(total[k])), ""]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const last = header.length - 1;
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : i === last ? c : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), ...body.map(line)].join("\n") + "\n";
}
