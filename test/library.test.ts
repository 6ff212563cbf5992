/**
 * The embedded library as another Node program sees it: `import { createScanner } from
 * "bulwark"` resolved through package.json "exports" to the built dist/, with a worker
 * pool, a buffer, a stream and a path, and close() letting the process exit.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

describe('import { createScanner } from "bulwark"', () => {
  it("scans a buffer, a stream and a path, then exits", () => {
    const program = `
      import { createScanner } from "bulwark";
      import { Readable } from "node:stream";
      const eicar = Buffer.from("X5O!P%@AP[4\\\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
      const s = await createScanner({ workers: 2, cacheDir: null });
      const a = await s.scan(eicar);
      const b = await s.scan(Readable.from([eicar.subarray(0, 10), eicar.subarray(10)]));
      const c = await s.scan("package.json");
      await s.close();
      console.log(JSON.stringify([a.status, a.names, b.status, c.status, s.signatureCount]));
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", program], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual(["infected", ["Eicar-Test-Signature"], "infected", "clean", 1]);
    expect(r.status).toBe(0);
  });
});
