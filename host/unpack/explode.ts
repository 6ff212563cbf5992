/**
 * Decoder for ZIP method 6, PKWARE Implode (PKZIP 1.x), following APPNOTE.TXT 5.3.
 *
 * The stream starts with 2 or 3 Shannon-Fano trees (literal tree optional, then length,
 * then distance), each sent as run-length pairs of (bit length, count). Then a loop of:
 * flag bit 1 = literal (8 raw bits, or a literal-tree code), flag bit 0 = a match whose
 * distance is 6 (4 KiB dictionary) or 7 (8 KiB) raw low bits plus a distance-tree code for
 * the high 6 bits, and whose length is a length-tree code (63 adds 8 raw bits) plus the
 * minimum match (3 with a literal tree, else 2). There is no end marker: decoding stops at
 * the member's declared uncompressed size.
 *
 * Bounds: output is capped at min(declared size, maxOutput) and lives in a BoundedOutput;
 * truncated or corrupt input returns the prefix decoded so far.
 */
import { BoundedOutput, OutputOverflow } from "./bounded.js";
import { BadData, BitReader, Huffman, InputEnd } from "./inflate64.js";

/** General-purpose flag bits that configure Implode (APPNOTE 4.4.4). */
const FLAG_8K_DICTIONARY = 0x2;
const FLAG_LITERAL_TREE = 0x4;

/** Symbols decoded between two checkTime() calls (see inflate64.ts). */
const SYMBOLS_PER_TIME_CHECK = 1 << 16;

/**
 * Expand an imploded member. `flags` is the ZIP general-purpose bit flag; `declaredSize`
 * is the member's uncompressed size from its header. Throws OutputOverflow when
 * declaredSize > maxOutput and the data really goes past maxOutput.
 */
export function explode(
  input: Uint8Array,
  flags: number,
  declaredSize: number,
  maxOutput: number,
  checkTime?: () => void,
): Uint8Array {
  const bigDictionary = (flags & FLAG_8K_DICTIONARY) !== 0;
  const hasLiteralTree = (flags & FLAG_LITERAL_TREE) !== 0;
  const minMatch = hasLiteralTree ? 3 : 2;
  const lowDistanceBits = bigDictionary ? 7 : 6;
  const out = new BoundedOutput(maxOutput, Math.min(declaredSize, input.length * 8));
  let pos = 0;
  const readTree = (n: number): Huffman => {
    const r = readShannonFanoLengths(input, pos, n);
    pos = r.next;
    return new Huffman(r.lengths);
  };
  try {
    const literals = hasLiteralTree ? readTree(256) : undefined;
    const lengths = readTree(64);
    const distances = readTree(64);
    const br = new BitReader(input, pos);
    let budget = SYMBOLS_PER_TIME_CHECK;
    while (out.length < declaredSize) {
      if (--budget === 0) {
        budget = SYMBOLS_PER_TIME_CHECK;
        checkTime?.();
      }
      if (br.bits(1)) {
        out.push(literals ? literals.decode(br, true) : br.bits(8));
        continue;
      }
      const low = br.bits(lowDistanceBits);
      const distance = ((distances.decode(br, true) << lowDistanceBits) | low) + 1;
      let length = lengths.decode(br, true);
      if (length === 63) length += br.bits(8);
      length += minMatch;
      // the last match may run past the declared end; the declared size wins
      out.copyBack(distance, Math.min(length, declaredSize - out.length));
    }
  } catch (e) {
    if (e instanceof OutputOverflow) throw e;
    if (!(e instanceof InputEnd || e instanceof BadData)) throw e;
  }
  return out.result();
}

/**
 * A tree is sent as: one byte (number of following bytes - 1), then bytes whose low
 * nibble is (bit length - 1) and high nibble (count - 1), for symbols in order.
 * The counts must add up to exactly n.
 */
function readShannonFanoLengths(input: Uint8Array, pos: number, n: number): { lengths: Uint8Array; next: number } {
  if (pos >= input.length) throw new InputEnd();
  const nbytes = input[pos++] + 1;
  if (pos + nbytes > input.length) throw new InputEnd();
  const lengths = new Uint8Array(n);
  let k = 0;
  for (let i = 0; i < nbytes; i++) {
    const b = input[pos++];
    const bitLength = (b & 0x0f) + 1;
    const count = (b >> 4) + 1;
    if (k + count > n) throw new BadData("Shannon-Fano tree has too many codes");
    lengths.fill(bitLength, k, k + count);
    k += count;
  }
  if (k !== n) throw new BadData("Shannon-Fano tree has too few codes");
  return { lengths, next: pos };
}
