/**
 * Loading bulwark.cfg: INI syntax (ini.ts) checked against the schema (schema.ts) into typed
 * values per section, [global] scanner/policy options inherited by agent sections unless they
 * override them (SPEC §3). Errors are sorted by consequence: an error in [global], outside any
 * section, in an unknown section or about the file itself is fatal (the daemon must refuse to
 * start); an error inside an agent section disables only that agent, loudly.
 * Also generates the documented default file from the schema (defaultConfigText).
 */
import fs from "node:fs";
import path from "node:path";
import {
  AGENT_SECTIONS, OPTIONS, SECTIONS, findOption, isAgentSection, isSection, optionsFor, suggest,
  type AgentSection, type OptionSpec, type OptionValue, type SectionName,
} from "./schema.js";
import { type ConfigError, type IniDocument, MAX_CONFIG_BYTES, parseIni } from "./ini.js";
import { formatOptionValue, parseOptionValue } from "./values.js";

export type SectionValues = Readonly<Record<string, OptionValue>>;

/** Effective, typed configuration. Every option valid in a section has a value (file or default). */
export class Config {
  constructor(
    readonly file: string,
    private readonly values: ReadonlyMap<SectionName, SectionValues>,
  ) {}

  /** All effective values of a section (agent sections include inherited [global] options). */
  section(name: SectionName): SectionValues {
    return this.values.get(name)!;
  }

  get(section: SectionName, key: string): OptionValue {
    const spec = findOption(section, key);
    if (!spec) throw new Error(`bulwark: no option ${section}.${key} in the schema`);
    return this.section(section)[key];
  }

  private typed(section: SectionName, key: string, types: readonly string[]): OptionValue {
    const spec = findOption(section, key);
    if (!spec || !types.includes(spec.type)) throw new Error(`bulwark: option ${section}.${key} is not of type ${types.join("/")}`);
    return this.section(section)[key];
  }
  str(section: SectionName, key: string): string {
    return this.typed(section, key, ["string", "enum", "path", "addr"]) as string;
  }
  int(section: SectionName, key: string): number {
    return this.typed(section, key, ["int", "port", "size"]) as number;
  }
  bool(section: SectionName, key: string): boolean {
    return this.typed(section, key, ["bool"]) as boolean;
  }
  list(section: SectionName, key: string): readonly string[] {
    return this.typed(section, key, ["list"]) as string[];
  }

  /**
   * A path option made absolute: relative socket paths (underCacheDir) are taken inside
   * cache_dir, other relative paths in the configuration file's directory; "" stays "" (unset).
   */
  path(section: SectionName, key: string): string {
    const value = this.typed(section, key, ["path"]) as string;
    if (value === "") return "";
    const spec = findOption(section, key)!;
    const base = spec.underCacheDir ? this.path("global", "cache_dir") : path.dirname(path.resolve(this.file));
    return path.resolve(base, value);
  }

  /** Agents with agent_enabled = yes and no error in their section. */
  enabledAgents(): AgentSection[] {
    return AGENT_SECTIONS.filter((a) => this.section(a).agent_enabled === true);
  }
}

export interface DisabledAgent {
  agent: AgentSection;
  /** The errors of its section; the agent was forced off because of them. */
  errors: ConfigError[];
}

export interface LoadResult {
  /** Always complete: broken values fall back to defaults and broken agents are disabled. */
  config: Config;
  /** Every error, in file order. */
  errors: ConfigError[];
  /** Fatal errors: when not empty the daemon must refuse to start (or keep its old config). */
  globalErrors: ConfigError[];
  /** Agents whose section has errors; agent_enabled is false for them in `config`. */
  disabledAgents: DisabledAgent[];
  /** The parsed file (line model), for editing; empty when the file could not be read. */
  document: IniDocument;
}

/** Read and check a configuration file. Never throws for bad files: a missing or unreadable
 *  file is a global error at line 0. */
export function loadConfig(file: string): LoadResult {
  let text: string;
  try {
    const st = fs.statSync(file);
    // A FIFO or device would block or never end; a configuration is always a regular file.
    if (!st.isFile()) return checkDocument({ file, lines: [] }, [{ file, line: 0, reason: "not a regular file" }]);
    if (st.size > MAX_CONFIG_BYTES) return checkDocument({ file, lines: [] }, [{ file, line: 0, reason: `file is larger than ${MAX_CONFIG_BYTES} bytes` }]);
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    return checkDocument({ file, lines: [] }, [{ file, line: 0, reason: `cannot read the configuration: ${(e as Error).message}` }]);
  }
  return loadConfigText(text, file);
}

/** As loadConfig, on text already in memory (`file` is only used in messages). */
export function loadConfigText(text: string, file: string): LoadResult {
  const { doc, errors } = parseIni(text, file);
  return checkDocument(doc, errors);
}

function checkDocument(doc: IniDocument, syntaxErrors: ConfigError[]): LoadResult {
  const file = doc.file;
  const errors = [...syntaxErrors];
  const set = new Map<SectionName, Map<string, OptionValue>>(SECTIONS.map((s) => [s, new Map()]));
  for (const [i, l] of doc.lines.entries()) {
    const line = i + 1;
    if (l.kind === "section" && !isSection(l.section)) {
      const hint = suggest(l.section, SECTIONS);
      errors.push({ file, line, section: l.section, reason: `unknown section [${l.section}]${hint ? ` (did you mean [${hint}]?)` : ` (known sections: ${SECTIONS.join(", ")})`}` });
    }
    if (l.kind !== "entry" || !isSection(l.section!)) continue;
    const section = l.section;
    const spec = findOption(section, l.key);
    if (!spec) {
      const hint = suggest(l.key, optionsFor(section).map((o) => o.key));
      const elsewhere = OPTIONS.find((o) => o.key === l.key);
      const where = elsewhere ? ` (${l.key} belongs in [${elsewhere.section === "agent" ? "an agent section" : elsewhere.section}])` : "";
      errors.push({ file, line, section, reason: `unknown key ${l.key} in [${section}]${hint ? ` (did you mean ${hint}?)` : where}` });
      continue;
    }
    const parsed = parseOptionValue(spec, l.value);
    if (!parsed.ok) errors.push({ file, line, section, reason: parsed.reason });
    else set.get(section)!.set(l.key, parsed.value);
  }
  errors.sort((a, b) => a.line - b.line);

  const globalErrors = errors.filter((e) => e.section === undefined || !isAgentSection(e.section));
  const disabledAgents: DisabledAgent[] = AGENT_SECTIONS.flatMap((agent) => {
    const own = errors.filter((e) => e.section === agent);
    return own.length ? [{ agent, errors: own }] : [];
  });

  const values = new Map<SectionName, SectionValues>();
  const global = effective("global", set.get("global")!, undefined);
  values.set("global", global);
  for (const agent of AGENT_SECTIONS) {
    const v = effective(agent, set.get(agent)!, global);
    if (disabledAgents.some((d) => d.agent === agent)) v.agent_enabled = false;
    values.set(agent, v);
  }
  return { config: new Config(doc.file, values), errors, globalErrors, disabledAgents, document: doc };
}

/** File value, else (for inherited options) the [global] value, else the schema default. */
function effective(section: SectionName, given: Map<string, OptionValue>, global: SectionValues | undefined): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const spec of optionsFor(section)) {
    const inherited = spec.inherit && global ? global[spec.key] : undefined;
    out[spec.key] = given.get(spec.key) ?? inherited ?? spec.default;
  }
  return out;
}

/** Wrap a doc sentence into `# ` comment lines of at most ~96 columns. */
function commentLines(text: string, width = 96): string[] {
  const out: string[] = [];
  let cur = "#";
  for (const word of text.split(/\s+/)) {
    if (cur.length + 1 + word.length > width && cur !== "#") {
      out.push(cur);
      cur = "#";
    }
    cur += ` ${word}`;
  }
  out.push(cur);
  return out;
}

const SECTION_INTRO: Record<SectionName, string> = {
  global: "Daemon settings, scan limits, and the scanning and policy defaults that agent sections may override.",
  smtp: "SMTP proxy: a Postfix content filter or a transparent proxy in front of an MTA.",
  pop3: "POP3 proxy: scans every message a mail client downloads.",
  imap: "IMAP proxy: scans every whole message a mail client fetches.",
  smfi: "Milter for Sendmail (INPUT_MAIL_FILTER) and Postfix (smtpd_milters).",
  mda: "bulwark-mda: scans mail on its way to the real delivery agent.",
  pipe: "bulwark-pipe: reads one mail on stdin and writes it to stdout when accepted.",
  cgp: "CommuniGate Pro external filter helper.",
  zmfi: "ZMailer smtpserver content filter.",
  gwia: "GroupWise Internet Agent queue scanner.",
  cli: "bulwark-cli: command-line scanner for amavisd-new.",
  wwwi: "HTTPS web console.",
  mird: "HTTP mirror of signature updates for other Bulwark installs on the LAN.",
  clamd: "clamd-compatible protocol for clamdscan, amavisd-new, rspamd and other clamd clients.",
  spamd: "SpamAssassin spamd-compatible protocol for spamc and other spamd clients (anti-spam only).",
};

/**
 * A complete default configuration: every section, every option with its documentation as
 * comments and its default commented out (`# key = default`), so the file changes nothing
 * until an administrator uncomments a line. `overrides` ("section.key" -> INI value text, e.g.
 * `{"global.cache_dir": "\"/home/me/bulwark\""}`) are written as active lines instead; an
 * unknown override key throws, since it is a programming error.
 */
export function defaultConfigText(overrides: Readonly<Record<string, string>> = {}): string {
  const used = new Set<string>();
  const out: string[] = [
    "# Bulwark configuration. Lines starting with # are comments; a commented-out option shows its default.",
    "# Syntax: [section], key = value; strings in double quotes (escapes \\\" \\\\ \\n \\t) or bare words,",
    "# yes/no, numbers, sizes with K/M/G suffixes. A [global] option documented with 'Agent sections may",
    "# override it' can be set again in an agent section, for that agent only. Relative socket paths are",
    "# taken inside cache_dir, other relative paths in the directory of this file.",
    "# Change options with `bulwark set --set section.key=value`; list them with `bulwark set --list`.",
  ];
  for (const section of SECTIONS) {
    out.push("", `[${section}]`, ...commentLines(SECTION_INTRO[section]));
    const specs = section === "global" ? optionsFor("global") : optionsFor(section).filter((o) => !o.inherit);
    for (const spec of specs) {
      out.push("", ...commentLines(docLine(spec)));
      const name = `${section}.${spec.key}`;
      if (name in overrides) {
        used.add(name);
        out.push(`${spec.key} = ${overrides[name]}`);
      } else out.push(`# ${spec.key} = ${formatOptionValue(spec, spec.default)}`);
    }
  }
  const unused = Object.keys(overrides).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`bulwark: defaultConfigText: unknown option(s) ${unused.join(", ")}`);
  return out.join("\n") + "\n";
}

function docLine(spec: OptionSpec): string {
  const values = spec.enumValues ? ` Values: ${spec.enumValues.join(", ")}.` : "";
  const inherit = spec.inherit ? " Agent sections may override it." : "";
  return `${spec.key} (${spec.type}): ${spec.doc}${values}${inherit}`;
}
