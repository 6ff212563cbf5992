/**
 * `bulwark set` through the real built CLI (./bin/bulwark -> dist/, built by `npm run build`,
 * which `npm test` runs first): get, set with comments and layout preserved, validation that
 * leaves the file untouched, listing, creating a missing file, $BULWARK_CONFIG.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../host/config/load.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "bulwark");
const dir = mkdtempSync(join(tmpdir(), "bulwark-set-"));

const FILE_TEXT = [
  "# Site configuration -- keep the comments!",
  "[global]",
  "action_av_infected = \"reject\"   # policy agreed with legal",
  "",
  "[smtp]",
  "# listen_port = 2526",
  "agent_enabled = no",
  "",
].join("\n");

function bulwark(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, "set", ...args], { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function fresh(name: string, text = FILE_TEXT): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "host", "cli", "set-command.js"))) {
    throw new Error("dist/host/cli/set-command.js is missing: run `npm run build` first (npm test does)");
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bulwark set", () => {
  it("sets values, keeping comments, layout and file mode", () => {
    const f = fresh("a.cfg");
    chmodSync(f, 0o640);
    const r = bulwark(["--config", f, "--set", "smtp.listen_port=2600", "--set", "smtp.agent_enabled=yes", "--set", "global.action_av_infected=defer"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(f, "utf8")).toBe(
      FILE_TEXT.replace('"reject"   #', '"defer"   #')
        .replace("# listen_port = 2526\n", "# listen_port = 2526\nlisten_port = 2600\n")
        .replace("agent_enabled = no", "agent_enabled = yes"),
    );
    expect(statSync(f).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(bulwark(["--config", f, "--get", "smtp.listen_port"])).toMatchObject({ code: 0, stdout: "2600\n" });
    expect(bulwark(["--config", f, "--get", "pop3.action_av_infected"])).toMatchObject({ code: 0, stdout: "defer\n" });
  });

  it("quotes strings so that # and quotes survive", () => {
    const f = fresh("q.cfg");
    expect(bulwark(["--config", f, "--set", 'wwwi.password=a#b "c"']).code).toBe(0);
    expect(readFileSync(f, "utf8")).toContain('[wwwi]\npassword = "a#b \\"c\\""\n');
    expect(bulwark(["--config", f, "--get", "wwwi.password"]).stdout).toBe('a#b "c"\n');
  });

  it.each([
    [["--set", "clamd.listen_port=70000"], /clamd\.listen_port: listen_port expects a port number 0-65535, got 70000/],
    [["--set", "smtp.agent_enabled=true"], /agent_enabled expects yes or no, got "true"/],
    [["--set", "smtp.listen_prot=25"], /unknown option smtp\.listen_prot \(did you mean smtp\.listen_port\?\)/],
    [["--set", "smpt.listen_port=25"], /unknown section smpt \(did you mean smtp\?\)/],
    [["--set", "smtp.listen_port=25", "--set", "global.max_files=none"], /max_files expects a non-negative integer/],
    [["--get", "global.listen_port"], /unknown option global\.listen_port/],
    [["--get", "smtp.listen_port", "--list"], /exactly one of --get, --set or --list/],
  ])("refuses %j with exit 2 and leaves the file untouched", (args, message) => {
    const f = fresh("bad.cfg");
    const r = bulwark(["--config", f, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(readFileSync(f, "utf8")).toBe(FILE_TEXT);
  });

  it("lists options with value, default and documentation", () => {
    const f = fresh("l.cfg");
    const r = bulwark(["--config", f, "--list", "smtp"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[smtp\]\n/);
    expect(r.stdout).toContain('smtp.action_av_infected = "reject"  (enum, default "reject", inherits [global])');
    expect(r.stdout).toContain('smtp.listen_port = "2526"  (port, default "2526")\n      Port the SMTP proxy listens on');
    expect(r.stdout).not.toContain("[pop3]");
    expect(bulwark(["--config", f, "--list"]).stdout).toContain("[clamd]\n");
  });

  it("creates a missing file from the documented default configuration", () => {
    const f = join(dir, "new.cfg");
    const r = bulwark(["--config", f, "--set", "clamd.listen_port=3311"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("created");
    const loaded = loadConfig(f);
    expect(loaded.errors).toEqual([]);
    expect(loaded.config.int("clamd", "listen_port")).toBe(3311);
    expect(readFileSync(f, "utf8")).toContain("# stream_max_length (size):");
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it("uses $BULWARK_CONFIG when --config is not given, and warns about errors already in the file", () => {
    const f = fresh("env.cfg", FILE_TEXT + "[pop3]\nlisten_port = 99999\n");
    const r = bulwark(["--get", "smtp.agent_enabled"], { BULWARK_CONFIG: f });
    expect(r).toMatchObject({ code: 0, stdout: "no\n" });
    expect(r.stderr).toContain(`WARNING: ${f}:9: listen_port expects a port number 0-65535, got 99999`);
    expect(bulwark(["--get", "smtp.agent_enabled"], { BULWARK_CONFIG: join(dir, "none.cfg") }).code).toBe(2);
  });

  it("without --config or $BULWARK_CONFIG uses the daemon's file: ./.bulwark/bulwark.cfg for a non-root user, created as the daemon would", () => {
    // root's default is /etc/bulwark/bulwark.cfg, which a test must not touch: as root, run as nobody
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const checkout = join(dir, "checkout");
    mkdirSync(checkout);
    chmodSync(dir, 0o755);
    if (process.getuid?.() === 0) chownSync(checkout, 65534, 65534);
    const env = { ...process.env };
    delete env.BULWARK_CONFIG;
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, "set", ...args], { cwd: checkout, env, encoding: "utf8", timeout: 30_000, ...asNobody });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const created = run(["--set", "smtp.listen_port=2600"]);
    const f = join(checkout, ".bulwark", "bulwark.cfg");
    expect(created).toMatchObject({ code: 0, stdout: "", stderr: `created ${f} from the default configuration\n` });
    const loaded = loadConfig(f);
    expect(loaded.errors).toEqual([]);
    expect(loaded.config.int("smtp", "listen_port")).toBe(2600);
    // the same local layout `bulwark daemon` creates (ensureConfigFile): nothing under /var
    expect(loaded.config.path("global", "cache_dir")).toBe(join(checkout, ".bulwark", "cache"));
    expect(loaded.config.path("global", "base_dir")).toBe(join(checkout, ".bulwark", "lib"));
    expect(run(["--get", "smtp.listen_port"])).toMatchObject({ code: 0, stdout: "2600\n" });
  });
});
