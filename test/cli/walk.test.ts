/** The PATH walk of `bulwark scan`: clamscan's directory, symlink and special-file rules. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countInputs, displayArg, walkInputs, type WalkEntry } from "../../host/cli/walk.js";

let root: string;

async function collect(args: string[], recursive: boolean): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  for await (const e of walkInputs(args, recursive)) out.push(e);
  return out;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "bulwark-walk-"));
  mkdirSync(join(root, "d", "sub", "deeper"), { recursive: true });
  writeFileSync(join(root, "d", "b.txt"), "bb");
  writeFileSync(join(root, "d", "a.txt"), "a");
  writeFileSync(join(root, "d", "sub", "c.txt"), "ccc");
  writeFileSync(join(root, "d", "sub", "deeper", "e.txt"), "eeeee");
  symlinkSync("a.txt", join(root, "d", "link"));
  execFileSync("mkfifo", [join(root, "d", "fifo")]);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("walkInputs", () => {
  it("without -r lists only the directory's own files, sorted, and reports links", async () => {
    const d = join(root, "d");
    expect(await collect([d], false)).toEqual([
      { kind: "dir", path: d },
      { kind: "file", path: `${d}/a.txt`, size: 1 },
      { kind: "file", path: `${d}/b.txt`, size: 2 },
      { kind: "skip", path: `${d}/link`, reason: "Symbolic link" },
    ]);
  });

  it("with -r descends depth-first in name order", async () => {
    const d = join(root, "d");
    const got = await collect([`${d}/`], true);
    expect(got.map((e) => `${e.kind}:${e.path}`)).toEqual([
      `dir:${d}`,
      `file:${d}/a.txt`,
      `file:${d}/b.txt`,
      `skip:${d}/link`,
      `dir:${d}/sub`,
      `file:${d}/sub/c.txt`,
      `dir:${d}/sub/deeper`,
      `file:${d}/sub/deeper/e.txt`,
    ]);
  });

  it("follows a link given directly, and reports missing paths and FIFOs as errors", async () => {
    const got = await collect([join(root, "d", "link"), join(root, "nope"), join(root, "d", "fifo"), "-"], false);
    expect(got).toEqual([
      { kind: "file", path: join(root, "d", "link"), size: 1 },
      { kind: "error", path: join(root, "nope"), reason: "No such file or directory" },
      { kind: "error", path: join(root, "d", "fifo"), reason: "Not supported file type" },
      { kind: "stdin", path: "stdin" },
    ]);
  });

  it("counts files and bytes the way the walk will see them", async () => {
    expect(await countInputs([join(root, "d")], true)).toEqual({ files: 4, bytes: 1 + 2 + 3 + 5 });
    expect(await countInputs([join(root, "d")], false)).toEqual({ files: 2, bytes: 3 });
  });

  it("strips trailing slashes but keeps the root", () => {
    expect(displayArg("a/b//")).toBe("a/b");
    expect(displayArg("/")).toBe("/");
  });
});
