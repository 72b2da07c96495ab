/**
 * The few protobuf wire-format primitives the ONNX writer needs. Hand-written because the project only ever
 * *writes* a small, fixed subset of onnx.proto: a generated protobuf library would add a dependency and a
 * code-generation step for about a hundred lines of encoding.
 *
 * Wire format: https://protobuf.dev/programming-guides/encoding/
 */

/** Protobuf wire types used here (3 and 4, the deprecated groups, never appear in onnx.proto). */
const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LENGTH_DELIMITED = 2;

const utf8 = new TextEncoder();
const TWO_POW_32 = 2 ** 32;
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * An append-only byte buffer with protobuf field writers. Nested messages are written by encoding the child
 * into its own writer first, because the wire format puts the byte length before the content.
 */
export class ProtobufWriter {
  private bytes: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initialCapacity = 256) {
    this.bytes = new Uint8Array(initialCapacity);
    this.view = new DataView(this.bytes.buffer);
  }

  /** The bytes written so far (a copy, so the writer can be reused or discarded safely). */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  /** An int32/int64/enum/bool field. Skipped when `value` is undefined. */
  int(field: number, value: number | bigint | undefined): this {
    if (value === undefined) return this;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  /** A single `float` field (fixed32, little-endian). */
  float(field: number, value: number | undefined): this {
    if (value === undefined) return this;
    this.tag(field, WIRE_FIXED32);
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
    return this;
  }

  /** A `string` field, UTF-8 encoded. Skipped when undefined. */
  string(field: number, value: string | undefined): this {
    if (value === undefined) return this;
    if (NON_ASCII.test(value)) return this.bytesField(field, utf8.encode(value));
    // Names and attribute strings are ASCII in practice; copying them directly avoids a temporary array each.
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(value.length);
    this.reserve(value.length);
    for (let i = 0; i < value.length; i++) this.bytes[this.length++] = value.charCodeAt(i);
    return this;
  }

  /** A `bytes` field or an already-encoded nested message. */
  bytesField(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(value.length);
    this.reserve(value.length);
    this.bytes.set(value, this.length);
    this.length += value.length;
    return this;
  }

  /**
   * A nested message, written by `write` straight into this buffer. The length prefix comes first on the
   * wire but is known only afterwards: one byte is reserved and the body is shifted in the rare case the
   * length needs more, which is far cheaper than a buffer per nested message.
   */
  message(field: number, write: (child: ProtobufWriter) => void): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    const start = this.openLength();
    write(this);
    this.closeLength(start);
    return this;
  }

  /**
   * A packed `repeated float`. Parsers must accept packed encoding for any repeated scalar field (even the
   * proto2 fields onnx.proto leaves unpacked), and it is 1 tag per list instead of 1 tag per element.
   */
  packedFloats(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(values.length * 4);
    this.reserve(values.length * 4);
    for (let i = 0; i < values.length; i++) {
      this.view.setFloat32(this.length, values[i] as number, true);
      this.length += 4;
    }
    return this;
  }

  /** A packed `repeated int32/int64`. */
  packedInts(field: number, values: ArrayLike<number | bigint>): this {
    if (values.length === 0) return this;
    this.tag(field, WIRE_LENGTH_DELIMITED);
    const start = this.openLength();
    for (let i = 0; i < values.length; i++) this.varint(values[i] as number | bigint);
    this.closeLength(start);
    return this;
  }

  /** A `repeated bytes/string`: never packed, one length-delimited entry per element. */
  repeatedStrings(field: number, values: readonly string[]): this {
    for (const value of values) this.string(field, value);
    return this;
  }

  /**
   * A base-128 varint. int64 negatives are sign-extended to 64 bits (10 bytes), as protobuf requires for
   * `int64`; numbers must be safe integers so that nothing is silently rounded.
   */
  varint(value: number | bigint): void {
    if (typeof value === "bigint") {
      this.bigVarint(value);
      return;
    }
    if (!Number.isSafeInteger(value)) throw new RangeError(`varint needs a safe integer, got ${value}`);
    if (value < 0) {
      this.bigVarint(BigInt(value));
      return;
    }
    this.reserve(10);
    // Split into 32-bit halves: JavaScript bit operators truncate to 32 bits.
    let low = value % TWO_POW_32;
    let high = Math.floor(value / TWO_POW_32);
    while (high > 0 || low > 0x7f) {
      this.bytes[this.length++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | ((high & 0x7f) << 25)) >>> 0;
      high = Math.floor(high / 128);
    }
    this.bytes[this.length++] = low;
  }

  private bigVarint(value: bigint): void {
    let rest = BigInt.asUintN(64, value);
    this.reserve(10);
    while (rest > 0x7fn) {
      this.bytes[this.length++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.bytes[this.length++] = Number(rest);
  }

  /** Reserves one byte for a length prefix; returns where the body starts. */
  private openLength(): number {
    this.reserve(1);
    this.length += 1;
    return this.length;
  }

  private closeLength(start: number): void {
    const size = this.length - start;
    let extra = 0;
    for (let rest = size >>> 7; rest > 0; rest >>>= 7) extra++;
    if (extra > 0) {
      this.reserve(extra);
      this.bytes.copyWithin(start + extra, start, this.length);
      this.length += extra;
    }
    let at = start - 1;
    let rest = size;
    while (rest > 0x7f) {
      this.bytes[at++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.bytes[at] = rest;
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    let capacity = Math.max(16, this.bytes.length * 2);
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
}
