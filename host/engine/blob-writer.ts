/** An append-only little-endian byte buffer for building the database blob. */
export class BlobWriter {
  private buf = new Uint8Array(1 << 16);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  get size(): number {
    return this.len;
  }

  reserve(n: number): number {
    this.ensure(n);
    const at = this.len;
    this.len += n;
    return at;
  }

  pad(n: number): void {
    this.reserve(n);
  }

  align(a: number): number {
    const next = (this.len + a - 1) & ~(a - 1);
    this.reserve(next - this.len);
    return this.len;
  }

  bytes(b: Uint8Array): number {
    this.ensure(b.length);
    const at = this.len;
    this.buf.set(b, at);
    this.len += b.length;
    return at;
  }

  bytesAligned(b: Uint8Array, a: number): number {
    this.align(a);
    return this.bytes(b);
  }

  u32s(a: Uint32Array): number {
    this.align(4);
    return this.bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }

  /** The bytes written (a view: the writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}
