/**
 * `bulwark set`: show and change options of the configuration file from the command line.
 *   bulwark set [--config FILE] --get section.key
 *   bulwark set [--config FILE] --set section.key=value [--set ...]
 *   bulwark set [--config FILE] --list [section...]
 * Values are checked against the schema before anything is written; the file is rewritten
 * atomically with its comments, blank lines and order unchanged (host/config/ini.ts).
 * Exit code: 0 done, 2 usage error, unknown option, invalid value or unreadable file.
 */
import fs from "node:fs";
import path from "node:path";
import { Command, Option } from "clipanion";
import { type ConfigError, formatConfigError, parseIni, serializeIni, setIniValue } from "../config/ini.js";
import { type LoadResult, defaultConfigText, loadConfig, loadConfigText } from "../config/load.js";
import {
  SECTIONS, findOption, isSection, optionsFor, suggest, type OptionSpec, type SectionName,
} from "../config/schema.js";
import { type RawValue, displayOptionValue, formatOptionValue, parseOptionValue, quote } from "../config/values.js";
import { SYSTEM_CONFIG_FILE, writeFileAtomic } from "../config/write.js";
import { resolveConfigFile } from "../daemon/config-file.js";

class SetUsageError extends Error {}

/**
 * Text of a configuration file that does not exist yet: the same as `bulwark daemon` creates
 * (ensureConfigFile in host/daemon/config-file.ts): any file but the system one gets cache_dir
 * and base_dir next to it, so `bulwark set` run first in a checkout does not point a later
 * non-root daemon at /var.
 */
function newConfigText(file: string): string {
  const local = path.resolve(file) !== SYSTEM_CONFIG_FILE;
  return defaultConfigText(local ? { "global.cache_dir": quote("cache"), "global.base_dir": quote("lib") } : {});
}

/** Resolve "section.key" to its schema entry, with "did you mean" hints for typos. */
function resolveName(name: string): { section: SectionName; spec: OptionSpec } {
  const dot = name.indexOf(".");
  if (dot <= 0) throw new SetUsageError(`expected section.key, got ${JSON.stringify(name)} (e.g. smtp.listen_port)`);
  const section = name.slice(0, dot);
  const key = name.slice(dot + 1);
  if (!isSection(section)) {
    const hint = suggest(section, SECTIONS);
    throw new SetUsageError(`unknown section ${section}${hint ? ` (did you mean ${hint}?)` : ""}`);
  }
  const spec = findOption(section, key);
  if (!spec) {
    const hint = suggest(key, optionsFor(section).map((o) => o.key));
    throw new SetUsageError(`unknown option ${section}.${key}${hint ? ` (did you mean ${section}.${hint}?)` : ""}`);
  }
  return { section, spec };
}

/** A value typed on the command line: "..." is decoded like the file's quoted strings,
 *  anything else is taken literally (so `#` and spaces need no quoting). */
function commandLineValue(text: string): RawValue {
  if (!(text.length >= 2 && text.startsWith('"') && text.endsWith('"'))) return { text, quoted: false };
  const { doc, errors } = parseIni(`[v]\nv = ${text}`, "command line");
  const line = doc.lines[1];
  if (errors.length || line.kind !== "entry") throw new SetUsageError(`bad quoted value ${text}: ${errors[0]?.reason ?? "malformed"}`);
  return line.value;
}

export class SetCommand extends Command {
  static paths = [["set"]];

  static usage = Command.Usage({
    description: "show and change options of the configuration file",
    details: `
      Options are named \`section.key\` (\`global.action_av\`, \`smtp.listen_port\`). \`--set\` checks the value
      against the option's type before writing and keeps the file's comments and layout; the file is replaced
      atomically, so a daemon reloading it never sees half a change. A missing file is created from the
      documented default configuration (as \`bulwark daemon\` creates it: any file but /etc/bulwark/bulwark.cfg gets
      cache_dir and base_dir next to it). Values of agent sections fall back to [global] where the option allows it.

      The file is the one \`bulwark daemon\` reads: \`--config FILE\`, else $BULWARK_CONFIG, else /etc/bulwark/bulwark.cfg
      for root and ./.bulwark/bulwark.cfg (in the current directory) for anyone else.
      Exit code: 0 done, 2 error.
    `,
    examples: [
      ["Show one option", "$0 set --get smtp.listen_port"],
      ["Change options", "$0 set --set smtp.agent_enabled=yes --set smtp.listen_port=2526"],
      ["List every option of [clamd] with value, default and documentation", "$0 set --list clamd"],
    ],
  });

  config = Option.String("--config", { description: "configuration file (default: $BULWARK_CONFIG, else /etc/bulwark/bulwark.cfg for root, ./.bulwark/bulwark.cfg otherwise)" });
  get = Option.String("--get", { description: "print the effective value of section.key" });
  set = Option.Array("--set", { description: "set section.key=value (repeatable; all or nothing)" });
  list = Option.Boolean("--list", false, { description: "list options with value, default and documentation" });
  sections = Option.Rest({ name: "section" });

  async execute(): Promise<number> {
    const file = resolveConfigFile(this.config);
    const modes = [this.get !== undefined, this.set !== undefined, this.list].filter(Boolean).length;
    try {
      if (modes !== 1) throw new SetUsageError("give exactly one of --get, --set or --list");
      if (this.sections.length && !this.list) throw new SetUsageError(`unexpected argument ${this.sections[0]} (sections are listed with --list)`);
      if (this.get !== undefined) return this.doGet(file, this.get);
      if (this.set !== undefined) return this.doSet(file, this.set);
      return this.doList(file);
    } catch (e) {
      if (!(e instanceof SetUsageError)) throw e;
      this.context.stderr.write(`ERROR: ${e.message}\n`);
      return 2;
    }
  }

  /** Load the file; unreadable is an error, errors inside it are warnings (shown, not fatal). */
  private load(file: string): LoadResult {
    const r = loadConfig(file);
    const unreadable = r.errors.find((e) => e.line === 0);
    if (unreadable) throw new SetUsageError(formatConfigError(unreadable));
    this.warn(r.errors);
    return r;
  }

  private warn(errors: ConfigError[]): void {
    for (const e of errors) this.context.stderr.write(`WARNING: ${formatConfigError(e)}\n`);
  }

  private doGet(file: string, name: string): number {
    const { section, spec } = resolveName(name);
    const { config } = this.load(file);
    this.context.stdout.write(`${displayOptionValue(spec, config.get(section, spec.key))}\n`);
    return 0;
  }

  private doSet(file: string, assignments: string[]): number {
    let text: string;
    let created = false;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new SetUsageError(`${file}: cannot read: ${(e as Error).message}`);
      text = newConfigText(file);
      created = true;
    }
    const before = loadConfigText(text, file);
    if (before.errors.some((e) => e.line === 0)) throw new SetUsageError(formatConfigError(before.errors[0]));
    const doc = before.document;
    for (const a of assignments) {
      const eq = a.indexOf("=");
      if (eq < 0) throw new SetUsageError(`expected section.key=value, got ${JSON.stringify(a)}`);
      const { section, spec } = resolveName(a.slice(0, eq).trim());
      const parsed = parseOptionValue(spec, commandLineValue(a.slice(eq + 1)));
      if (!parsed.ok) throw new SetUsageError(`${section}.${spec.key}: ${parsed.reason}`);
      setIniValue(doc, section, spec.key, formatOptionValue(spec, parsed.value));
    }
    const out = serializeIni(doc);
    // Errors already in the file are the administrator's to fix; the edit must not add any.
    const after = loadConfigText(out, file);
    const known = new Set(before.errors.map((e) => e.reason));
    const added = after.errors.filter((e) => !known.has(e.reason));
    if (added.length) throw new SetUsageError(`refusing to write: ${added.map(formatConfigError).join("; ")}`);
    try {
      if (created) fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 }); // as bulwark daemon does
      writeFileAtomic(file, out);
    } catch (e) {
      throw new SetUsageError(`${file}: cannot write: ${(e as Error).message}`);
    }
    this.warn(after.errors);
    if (created) this.context.stderr.write(`created ${file} from the default configuration\n`);
    return 0;
  }

  private doList(file: string): number {
    const wanted: SectionName[] = [];
    for (const s of this.sections) {
      if (!isSection(s)) {
        const hint = suggest(s, SECTIONS);
        throw new SetUsageError(`unknown section ${s}${hint ? ` (did you mean ${hint}?)` : ""}`);
      }
      wanted.push(s);
    }
    const { config } = this.load(file);
    const out: string[] = [];
    for (const section of wanted.length ? wanted : SECTIONS) {
      out.push(`[${section}]`);
      for (const spec of optionsFor(section)) {
        const value = displayOptionValue(spec, config.get(section, spec.key));
        const dflt = displayOptionValue(spec, spec.default);
        out.push(`  ${section}.${spec.key} = ${JSON.stringify(value)}  (${spec.type}, default ${JSON.stringify(dflt)}${spec.inherit && section !== "global" ? ", inherits [global]" : ""})`);
        out.push(`      ${spec.doc}`);
      }
      out.push("");
    }
    this.context.stdout.write(out.join("\n"));
    return 0;
  }
}
