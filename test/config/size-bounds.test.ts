/** Object and stream sizes are bounded at ClamAV's hard cap (2 GiB - 1), so a configured limit
 *  can always be held in one Buffer: a larger value is a file:line error, not a later crash. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../host/config/load.js";
import { MAX_OBJECT_SIZE } from "../../host/config/schema.js";

function load(text: string) {
  const file = join(mkdtempSync(join(tmpdir(), "bulwark-size-")), "bulwark.cfg");
  writeFileSync(file, text);
  return loadConfig(file);
}

describe("size bounds", () => {
  it("refuses max_file_size above 2 GiB - 1 in [global] with file:line", () => {
    const r = load("[global]\nmax_file_size = 3G\n");
    expect(r.globalErrors).toHaveLength(1);
    expect(r.globalErrors[0]).toMatchObject({ line: 2, section: "global" });
    expect(r.globalErrors[0].reason).toContain(String(MAX_OBJECT_SIZE));
  });
  it("accepts 2047M and disables only the [clamd] agent for a stream_max_length of 4G", () => {
    expect(load("[global]\nmax_file_size = 2047M\n").globalErrors).toEqual([]);
    const r = load("[clamd]\nstream_max_length = 4G\n");
    expect(r.globalErrors).toEqual([]);
    expect(r.disabledAgents.map((d) => d.agent)).toEqual(["clamd"]);
  });
});
