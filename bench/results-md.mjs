// bench/RESULTS.md sections: each benchmark owns the text from its `## ` heading to the next
// `## ` heading and replaces only that on every run (hand-written analysis lives under its own
// heading, which no run touches).
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Replace the section starting at `heading` in `file`, or append it. */
export function writeResultsSection(file, heading, section) {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n";
  const start = text.indexOf(`${heading}\n`);
  let out;
  if (start < 0) out = `${text.replace(/\n*$/, "\n\n")}${section}`;
  else {
    const after = text.indexOf("\n## ", start + heading.length);
    out = text.slice(0, start) + section.replace(/\n*$/, "\n\n") + (after < 0 ? "" : text.slice(after + 1));
  }
  writeFileSync(file, out.replace(/\n*$/, "\n"));
}
