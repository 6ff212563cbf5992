/** Locating files of the installed package (the same from host/*.ts under vitest and from
 *  dist/host/*.js at run time). */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let root: string | null = null;

/** The directory holding Bulwark's package.json. */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, "utf8")).name === "bulwark") return (root = dir);
      } catch {
        /* keep walking */
      }
    }
    dir = path.dirname(dir);
  }
  throw new Error("bulwark: cannot find the package root (package.json)");
}

export function packageFile(rel: string): string {
  return path.join(packageRoot(), rel);
}
