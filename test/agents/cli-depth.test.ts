/**
 * bulwark-cli's directory walk: a directory too deep to enter is an error (exit 2), never
 * silently left out (which made the run exit 0, "clean", with files nobody looked at). No
 * daemon is needed to see it: the error is reported before any file is sent.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EICAR, runAgent, tempDir, writeConfig } from "../daemon/daemon-process.js";

const DEPTH_LIMIT = 15; // agents/cli/main.ts MAX_DIRECTORY_DEPTH

let dir: string;
let config: string;
beforeAll(() => {
  dir = tempDir("bulwark-cli-depth-");
  config = writeConfig(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bulwark-cli directory depth", () => {
  it("a file below the depth limit is reported as not scanned (exit 2), not passed as clean", () => {
    const top = join(dir, "parts");
    const levels = Array.from({ length: DEPTH_LIMIT + 2 }, (_, i) => `d${i}`);
    const deepest = join(top, ...levels);
    mkdirSync(deepest, { recursive: true });
    writeFileSync(join(deepest, "eicar.com"), EICAR);
    const r = runAgent("bulwark-cli", ["--config", config, top]);
    expect(r.code).toBe(2);
    expect(r.stdout.toString()).toMatch(/d15: error="directory not scanned/);
  });
});
