/**
 * IP address helpers for the network checks (pure code, no I/O): parsing IPv4 and IPv6 text into
 * numbers, unmapping IPv4-mapped IPv6 addresses (::ffff:1.2.3.4), the DNSBL query names (IPv4
 * octets and IPv6 nibbles reversed, RFC 5782 §2.1 and §2.4), and telling public client addresses
 * from local ones (loopback, private, link-local), which are never looked up in block lists.
 */
import { isIP } from "node:net";

export interface ParsedIp {
  family: 4 | 6;
  /** IPv4 as 0..2^32-1, IPv6 as 0..2^128-1 */
  value: bigint;
}

/** "::ffff:1.2.3.4" (and its hex form ::ffff:102:304) -> "1.2.3.4"; anything else unchanged. */
export function unmapIpv4(addr: string): string {
  const ip = parseIp(addr);
  if (ip && ip.family === 6 && ip.value >> 32n === 0xffffn) return formatIpv4(Number(ip.value & 0xffffffffn));
  return addr;
}

/** Parses an IPv4 or IPv6 address (no zone id, no brackets); undefined when it is not one. */
export function parseIp(text: string): ParsedIp | undefined {
  const family = isIP(text);
  if (family === 4) return { family: 4, value: BigInt(ipv4ToNumber(text)) };
  if (family === 6 && !text.includes("%")) return { family: 6, value: ipv6ToBigInt(text) };
  return undefined;
}

function ipv4ToNumber(text: string): number {
  const p = text.split(".").map(Number);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Expects text that isIP() accepted as IPv6. */
function ipv6ToBigInt(text: string): bigint {
  let s = text.toLowerCase();
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    const v4 = ipv4ToNumber(s.slice(lastColon + 1));
    tail = [v4 >>> 16, v4 & 0xffff];
    s = s.slice(0, lastColon + 1) + "0"; // placeholder group, replaced below
  }
  const [head, rest] = s.includes("::") ? s.split("::") as [string, string] : [s, undefined];
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  let groups = headGroups.map((g) => parseInt(g, 16));
  let restNums = restGroups.map((g) => parseInt(g, 16));
  if (tail.length) {
    // the placeholder "0" is the last group of whichever side holds it
    if (rest !== undefined && restNums.length) restNums = [...restNums.slice(0, -1), ...tail];
    else groups = [...groups.slice(0, -1), ...tail];
  }
  const fill = rest === undefined ? 0 : 8 - groups.length - restNums.length;
  const all = [...groups, ...new Array<number>(fill).fill(0), ...restNums];
  let v = 0n;
  for (const g of all) v = (v << 16n) | BigInt(g);
  return v;
}

/** The DNSBL query name of a client address under `zone` (IPv4-mapped IPv6 is unmapped first). */
export function dnsblQueryName(addr: string, zone: string): string | undefined {
  const ip = parseIp(unmapIpv4(addr));
  if (!ip) return undefined;
  if (ip.family === 4) return `${formatIpv4(Number(ip.value)).split(".").reverse().join(".")}.${zone}`;
  const hex = ip.value.toString(16).padStart(32, "0");
  return `${[...hex].reverse().join(".")}.${zone}`;
}

/** Networks whose addresses are never a mail source worth a block-list query: the lists do not
 *  list them and a query would only leak local topology to the list operator. */
const LOCAL_V4: ReadonlyArray<readonly [number, number]> = [
  [0x00000000, 8], // 0.0.0.0/8 "this network"
  [0x0a000000, 8], // 10/8 private
  [0x64400000, 10], // 100.64/10 carrier-grade NAT
  [0x7f000000, 8], // 127/8 loopback
  [0xa9fe0000, 16], // 169.254/16 link-local
  [0xac100000, 12], // 172.16/12 private
  [0xc0a80000, 16], // 192.168/16 private
  [0xe0000000, 3], // 224/3 multicast and reserved
];
const LOCAL_V6: ReadonlyArray<readonly [bigint, number]> = [
  [0n, 127], // :: and ::1
  [0xfc00n << 112n, 7], // fc00::/7 unique local
  [0xfe80n << 112n, 10], // fe80::/10 link-local
  [0xff00n << 112n, 8], // ff00::/8 multicast
];

export function isPublicIp(addr: string): boolean {
  const ip = parseIp(unmapIpv4(addr));
  if (!ip) return false;
  if (ip.family === 4) {
    const v = Number(ip.value);
    return !LOCAL_V4.some(([net, bits]) => (v >>> (32 - bits)) === (net >>> (32 - bits)));
  }
  return !LOCAL_V6.some(([net, bits]) => ip.value >> BigInt(128 - bits) === net >> BigInt(128 - bits));
}

export function isLoopbackIp(addr: string): boolean {
  const ip = parseIp(unmapIpv4(addr));
  if (!ip) return false;
  return ip.family === 4 ? Number(ip.value) >>> 24 === 127 : ip.value === 1n;
}
