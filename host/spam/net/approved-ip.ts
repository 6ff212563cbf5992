/**
 * [global] as_approved_ip_list: client addresses whose mail skips anti-spam (pure code, no I/O).
 *
 * Entry forms (one per list element; the config splits the value at commas):
 *   1.2.3.4                       one IPv4 address
 *   2001:db8::1                   one IPv6 address
 *   1.2.3.0/24, 2001:db8::/64     CIDR (host bits after the prefix are ignored: 1.2.3.4/8 = 1.0.0.0/8)
 *   1.2.3.0/255.255.255.0         IPv4 netmask (contiguous masks only)
 *   1.2.3.4-1.2.3.8, 2001:db8::1-2001:db8::ff   inclusive range, both ends of one family, start <= end
 * An IPv4-mapped IPv6 client (::ffff:1.2.3.4, what a dual-stack socket reports) matches the IPv4
 * entries. A bad entry throws ApprovedIpError naming it (the caller reports a config error).
 */
import { parseIp, unmapIpv4, type ParsedIp } from "./ip.js";

/** Entries kept; the list is operator-written, but every mail is matched against all of it, so a
 *  runaway generated list is refused at load instead of slowing every message. */
export const MAX_APPROVED_IP_ENTRIES = 10_000;

export class ApprovedIpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApprovedIpError";
  }
}

interface IpRange {
  family: 4 | 6;
  start: bigint;
  end: bigint;
}

export interface ApprovedIpList {
  /** true when `addr` (IPv4, IPv6 or IPv4-mapped IPv6 text) is inside an entry */
  matches(addr: string): boolean;
  readonly size: number;
}

export function parseApprovedList(entries: readonly string[]): ApprovedIpList {
  const ranges: IpRange[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === "") continue;
    ranges.push(parseEntry(entry));
    if (ranges.length > MAX_APPROVED_IP_ENTRIES) {
      throw new ApprovedIpError(`as_approved_ip_list: more than ${MAX_APPROVED_IP_ENTRIES} entries; use CIDR blocks or ranges`);
    }
  }
  return {
    size: ranges.length,
    matches(addr: string): boolean {
      const ip = parseIp(unmapIpv4(addr.trim()));
      if (!ip) return false;
      for (const r of ranges) {
        if (r.family === ip.family && ip.value >= r.start && ip.value <= r.end) return true;
      }
      return false;
    },
  };
}

function parseEntry(entry: string): IpRange {
  const bad = (why: string) =>
    new ApprovedIpError(`as_approved_ip_list: "${entry}" ${why} (forms: 1.2.3.4, 1.2.3.0/24, 1.2.3.0/255.255.255.0, 1.2.3.4-1.2.3.8, 2001:db8::/64)`);
  const address = (text: string): ParsedIp => {
    const ip = parseIp(unmapIpv4(text.trim()));
    if (!ip) throw bad(`has "${text.trim()}", which is not an IP address`);
    return ip;
  };
  const slash = entry.indexOf("/");
  if (slash >= 0) {
    const net = address(entry.slice(0, slash));
    const bitsText = entry.slice(slash + 1).trim();
    const width = net.family === 4 ? 32 : 128;
    let bits: number;
    if (/^\d{1,3}$/.test(bitsText)) {
      bits = Number(bitsText);
      if (bits > width) throw bad(`has a prefix length above ${width}`);
    } else {
      const mask = parseIp(bitsText);
      if (!mask || mask.family !== 4 || net.family !== 4) throw bad("has a prefix that is neither a length nor an IPv4 netmask");
      bits = maskToBits(mask.value);
      if (bits < 0) throw bad("has a netmask that is not contiguous");
    }
    const hostBits = BigInt(width - bits);
    const start = (net.value >> hostBits) << hostBits;
    return { family: net.family, start, end: start + (1n << hostBits) - 1n };
  }
  const dash = entry.indexOf("-");
  if (dash >= 0) {
    const a = address(entry.slice(0, dash));
    const b = address(entry.slice(dash + 1));
    if (a.family !== b.family) throw bad("mixes IPv4 and IPv6 in one range");
    if (a.value > b.value) throw bad("has its start after its end");
    return { family: a.family, start: a.value, end: b.value };
  }
  const one = address(entry);
  return { family: one.family, start: one.value, end: one.value };
}

/** 255.255.255.0 -> 24; -1 for a non-contiguous mask such as 255.0.255.0. */
function maskToBits(mask: bigint): number {
  const inverted = ~mask & 0xffffffffn;
  if ((inverted & (inverted + 1n)) !== 0n) return -1;
  return 32 - inverted.toString(2).replace(/^0+/, "").length;
}
