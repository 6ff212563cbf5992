/**
 * A message's feature list as stored in the Bayes database (learned.features, changes.features):
 * little-endian doubles, 8 bytes each, exact for the tokenizer's unsigned integers below 2^53.
 */

/** Stored data (a feature list, the tokens table) that cannot be read back: the file was damaged or edited. */
export class BayesBlobError extends Error {}

export function packFeatures(features: Float64Array): Buffer {
  const buf = Buffer.allocUnsafe(features.length * 8);
  for (let i = 0; i < features.length; i++) buf.writeDoubleLE(features[i], i * 8);
  return buf;
}

export function unpackFeatures(blob: unknown, file: string): Float64Array {
  if (!Buffer.isBuffer(blob) || blob.length % 8 !== 0) throw new BayesBlobError(`${file}: a stored feature list is damaged`);
  const out = new Float64Array(blob.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = blob.readDoubleLE(i * 8);
  return out;
}
