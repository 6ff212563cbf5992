/**
 * Converting one option value between its INI text (a quoted string or a bare token, as the
 * parser found it) and its typed form, by the option's schema type. Used by the loader, by
 * `bulwark set` and by the test that checks every default against its own type.
 */
import { isIP } from "node:net";
import type { OptionSpec, OptionValue } from "./schema.js";

/** A value as written in the file: decoded text and whether it was in double quotes. */
export interface RawValue {
  text: string;
  quoted: boolean;
}

export type Parsed = { ok: true; value: OptionValue } | { ok: false; reason: string };

/** Longest value of any single option; the parser's line limit bounds it already, this keeps
 *  decoded strings (escapes) and `bulwark set` arguments under the same bound. */
export const MAX_VALUE_LENGTH = 16 * 1024;

const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** A DNS name (RFC 1123 labels) for addr options; IP literals are checked by node:net. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function fail(reason: string): Parsed {
  return { ok: false, reason };
}

function bounded(spec: OptionSpec, n: number, shown: string): Parsed {
  if (spec.min !== undefined && n < spec.min) return fail(`${spec.key} must be at least ${spec.min}, got ${shown}`);
  if (spec.max !== undefined && n > spec.max) return fail(`${spec.key} must be at most ${spec.max}, got ${shown}`);
  return { ok: true, value: n };
}

/** Parse a value for `spec`; reasons name the key and what was expected. */
export function parseOptionValue(spec: OptionSpec, raw: RawValue): Parsed {
  const t = raw.text;
  if (t.length > MAX_VALUE_LENGTH) return fail(`value of ${spec.key} is longer than ${MAX_VALUE_LENGTH} characters`);
  if (t.includes("\0")) return fail(`value of ${spec.key} contains a NUL character`);
  switch (spec.type) {
    case "bool":
      if (t === "yes") return { ok: true, value: true };
      if (t === "no") return { ok: true, value: false };
      return fail(`${spec.key} expects yes or no, got ${JSON.stringify(t)}`);
    case "int":
    case "port": {
      if (!/^\d{1,15}$/.test(t)) return fail(`${spec.key} expects a non-negative integer, got ${JSON.stringify(t)}`);
      const n = Number(t);
      if (spec.type === "port" && n > 65535) return fail(`${spec.key} expects a port number 0-65535, got ${t}`);
      return bounded(spec, n, t);
    }
    case "size": {
      const m = /^(\d{1,15})([kKmMgG]?)$/.exec(t);
      if (!m) return fail(`${spec.key} expects a size such as 25K, 100M, 1G or a byte count, got ${JSON.stringify(t)}`);
      const n = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
      if (!Number.isSafeInteger(n)) return fail(`${spec.key} is too large: ${t}`);
      return bounded(spec, n, t);
    }
    case "enum":
      if (spec.enumValues!.includes(t)) return { ok: true, value: t };
      return fail(`${spec.key} expects one of ${spec.enumValues!.join(", ")}, got ${JSON.stringify(t)}`);
    case "list": {
      const items = t.split(spec.separator ?? ":").map((s) => s.trim()).filter((s) => s !== "");
      const bad = spec.enumValues ? items.find((i) => !spec.enumValues!.includes(i)) : undefined;
      if (bad !== undefined) return fail(`${spec.key} items must be among ${spec.enumValues!.join(", ")}, got ${JSON.stringify(bad)}`);
      for (const item of spec.checkItem ? items : []) {
        const why = spec.checkItem!(item);
        if (why !== undefined) return fail(`${spec.key}: ${why}`);
      }
      return { ok: true, value: items };
    }
    case "addr":
      if (t === "" || isIP(t) !== 0 || HOSTNAME.test(t)) return { ok: true, value: t };
      return fail(`${spec.key} expects an IP address or host name, got ${JSON.stringify(t)}`);
    case "path":
    case "string":
      return { ok: true, value: t };
  }
}

/** INI text for a typed value: strings quoted with escapes, yes/no, plain numbers. */
export function formatOptionValue(spec: OptionSpec, value: OptionValue): string {
  switch (spec.type) {
    case "bool":
      return value ? "yes" : "no";
    case "int":
    case "port":
      return String(value);
    case "size":
      return formatSize(value as number);
    case "list":
      return quote((value as string[]).join(spec.separator ?? ":"));
    default:
      return quote(String(value));
  }
}

/** Value as shown to a person or a script (`bulwark set --get`): no quotes, no escapes. */
export function displayOptionValue(spec: OptionSpec, value: OptionValue): string {
  if (spec.type === "bool") return value ? "yes" : "no";
  if (spec.type === "size") return formatSize(value as number);
  if (spec.type === "list") return (value as string[]).join(spec.separator ?? ":");
  return String(value);
}

/** Largest exact binary unit: 104857600 -> "100M", 1000 -> "1000". */
function formatSize(n: number): string {
  for (const [suffix, unit] of [["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const) {
    if (n >= unit && n % unit === 0) return `${n / unit}${suffix}`;
  }
  return String(n);
}

/** Double-quote a string with the escapes the parser understands. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"\n\r\t]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!)}"`;
}
