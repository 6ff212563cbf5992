/**
 * An agent's `user_config` file (SPEC §5) as the daemon uses it: parsed with bulwark.cfg's INI
 * syntax, compiled by host/policy/user-config.ts, kept compiled in memory and read again when
 * the file changes (mtime, size or inode), so an administrator's edit applies to the next
 * message without a reload.
 *
 * A file that is missing, unreadable, too large, or has any error is BROKEN, and a broken file
 * is an error for every message (the caller defers them), never "no user_config": a skipped
 * black-list would let through what it exists to stop. The error names file:line.
 *
 * Options a special section may set: the policy and scanning options an agent section may
 * override (the schema's `inherit` options: action_av*, av_*, action_as, as_*), checked with
 * the same types as in bulwark.cfg.
 */
import fs from "node:fs";
import { formatConfigError, MAX_CONFIG_BYTES, parseIni } from "../config/ini.js";
import { type AgentSection, findOption } from "../config/schema.js";
import { parseOptionValue } from "../config/values.js";
import { type CompiledUserConfig, compileUserConfig, PARENT_KEY, type UserConfigSections } from "../policy/user-config.js";

export class UserConfigFileError extends Error {}

/** Why `value` is not valid for `key` in a special section of `agent`'s file, or undefined. */
export function checkUserOption(agent: AgentSection, key: string, value: string): string | undefined {
  const spec = findOption(agent, key);
  if (!spec || !spec.inherit) return `${key} cannot be set per recipient or sender (only the policy options of an agent section)`;
  const parsed = parseOptionValue(spec, { text: value, quoted: true });
  return parsed.ok ? undefined : parsed.reason;
}

/** Read and compile one file now. Throws UserConfigFileError with file:line when broken. */
export function compileUserConfigFile(file: string, agent: AgentSection): CompiledUserConfig {
  let text: string;
  try {
    const st = fs.statSync(file);
    // a FIFO would block the daemon; a user_config is always a regular file
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UserConfigFileError(`user_config ${file}: cannot read it: ${(e as Error).message}`);
  }
  const { doc, errors } = parseIni(text, file);
  if (errors.length) throw new UserConfigFileError(`user_config ${errors.map(formatConfigError).join("; ")}`);
  const sections: UserConfigSections = Object.create(null);
  const sectionLines: Record<string, number> = Object.create(null);
  for (const [i, line] of doc.lines.entries()) {
    if (line.kind === "section") {
      // a section written twice is one section (parseIni already refuses a key written twice in it)
      sections[line.section] ??= Object.create(null);
      sectionLines[line.section] ??= i + 1;
    } else if (line.kind === "entry" && line.section !== undefined) {
      if (Object.prototype.hasOwnProperty.call(sections[line.section], line.key)) {
        throw new UserConfigFileError(`user_config ${file}:${i + 1}: ${line.key} set twice in [${line.section}]`);
      }
      sections[line.section][line.key] = line.value.text;
    }
  }
  try {
    return compileUserConfig(sections, {
      file,
      sectionLines,
      checkOption: (key, value) => (key === PARENT_KEY ? undefined : checkUserOption(agent, key, value)),
    });
  } catch (e) {
    throw new UserConfigFileError(`user_config ${(e as Error).message}`);
  }
}

interface CacheEntry {
  file: string;
  stamp: string;
  compiled?: CompiledUserConfig;
  error?: string;
}

/** The compiled user_config of each agent (one file per agent section, so at most one entry
 *  per agent), read again when the file's stamp or the configured path changes. */
export class UserConfigCache {
  private readonly entries = new Map<AgentSection, CacheEntry>();

  /** The compiled file; throws UserConfigFileError while it is broken. */
  get(file: string, agent: AgentSection): CompiledUserConfig {
    const key = agent;
    let stamp: string;
    try {
      const st = fs.statSync(file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}:${st.ctimeMs}`;
    } catch (e) {
      this.entries.delete(key);
      throw new UserConfigFileError(`user_config ${file}: cannot read it: ${(e as Error).message}`);
    }
    let entry = this.entries.get(key);
    if (!entry || entry.file !== file || entry.stamp !== stamp) {
      entry = { file, stamp };
      try {
        entry.compiled = compileUserConfigFile(file, agent);
      } catch (e) {
        entry.error = (e as Error).message;
      }
      this.entries.set(key, entry);
    }
    if (entry.error !== undefined) throw new UserConfigFileError(entry.error);
    return entry.compiled!;
  }
}
