import { HttpParseError } from '@kalab/core';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS, STATIC_TABLE } from './hpack-tables.js';

/**
 * HPACK (RFC 7541) for a client that only needs the response's `:status`: the request's
 * header block is encoded once per run, stateless (static-table indices and literals
 * without indexing, so the server's decoder table never changes on our account); the
 * server's blocks are decoded with a real dynamic table (every insertion applied, Huffman
 * strings decoded where the table keeps them), so every later block reads right.
 */

/** A header block that breaks RFC 7541: a COMPRESSION_ERROR, which ends the session (RFC 9113 §4.3). */
function compressionError(message: string): HttpParseError {
  return new HttpParseError('H2_COMPRESSION_ERROR', `HPACK: ${message}`);
}

// ---------------------------------------------------------------- Huffman (Appendix B)

/**
 * A nibble-driven decoder: each state is an inner node of the code tree; 4 input bits move
 * to the next state and emit at most one symbol (the shortest code is 5 bits). Built once
 * from the RFC's code table.
 */
const EOS = 256;
const HUFF = buildHuffmanDecoder();

interface HuffmanDecoder {
  /** [state * 16 + nibble]: next state. */
  next: Uint16Array;
  /** [state * 16 + nibble]: symbol emitted (0..255), -1 none, 256 EOS (an error in a string). */
  emit: Int16Array;
  /** Whether a string may end in this state: fewer than 8 bits since the last symbol, all 1s (a prefix of EOS). */
  accepting: Uint8Array;
}

function buildHuffmanDecoder(): HuffmanDecoder {
  // The code tree: node 0 is the root; children[2n + bit]; a leaf is stored as -(symbol + 1).
  const children: number[] = [0, 0];
  const depth: number[] = [0];
  const ones: boolean[] = [true];
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      if (i === 0) {
        children[2 * node + bit] = -(sym + 1);
        break;
      }
      let child = children[2 * node + bit]!;
      if (child === 0) {
        child = depth.length;
        depth.push(depth[node]! + 1);
        ones.push(ones[node]! && bit === 1);
        children.push(0, 0);
        children[2 * node + bit] = child;
      }
      node = child;
    }
  }
  const states = depth.length;
  const next = new Uint16Array(states * 16);
  const emit = new Int16Array(states * 16).fill(-1);
  const accepting = new Uint8Array(states);
  for (let s = 0; s < states; s++) {
    accepting[s] = s === 0 || (ones[s]! && depth[s]! < 8) ? 1 : 0;
    for (let nib = 0; nib < 16; nib++) {
      let node = s;
      for (let i = 3; i >= 0; i--) {
        const child = children[2 * node + ((nib >>> i) & 1)]!;
        if (child < 0) {
          emit[s * 16 + nib] = -child - 1;
          node = 0;
        } else node = child;
      }
      next[s * 16 + nib] = node;
    }
  }
  return { next, emit, accepting };
}

let huffOut = Buffer.allocUnsafe(4096);

/** Decodes a Huffman-coded string (RFC 7541 §5.2): padding must be a prefix of EOS, shorter than 8 bits, and EOS never appears. */
export function huffmanDecode(buf: Buffer, start: number, end: number): string {
  // At most 8 symbols per 5 bits: 8/5 of the input bounds the output.
  const max = Math.ceil(((end - start) * 8) / 5);
  if (huffOut.length < max) huffOut = Buffer.allocUnsafe(max);
  const out = huffOut;
  const { next, emit, accepting } = HUFF;
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    let t = state * 16 + (b >>> 4);
    let sym = emit[t]!;
    if (sym >= 0) {
      if (sym === EOS) throw compressionError('EOS inside a Huffman string');
      out[n++] = sym;
    }
    state = next[t]!;
    t = state * 16 + (b & 15);
    sym = emit[t]!;
    if (sym >= 0) {
      if (sym === EOS) throw compressionError('EOS inside a Huffman string');
      out[n++] = sym;
    }
    state = next[t]!;
  }
  if (accepting[state] !== 1) throw compressionError('bad Huffman padding');
  return out.toString('latin1', 0, n);
}

/** Huffman-encodes a string (for tests and peers; the request block itself is sent as plain literals). */
export function huffmanEncode(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  let bits = 0;
  for (const b of bytes) bits += HUFFMAN_LENGTHS[b]!;
  const out = Buffer.alloc(Math.ceil(bits / 8));
  let acc = 0;
  let accBits = 0;
  let o = 0;
  for (const b of bytes) {
    const len = HUFFMAN_LENGTHS[b]!;
    const code = HUFFMAN_CODES[b]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++accBits === 8) {
        out[o++] = acc & 0xff;
        acc = 0;
        accBits = 0;
      }
    }
  }
  if (accBits > 0) out[o] = ((acc << (8 - accBits)) | (0xff >>> accBits)) & 0xff;
  return out;
}

// ---------------------------------------------------------------- decoding

/** RFC 7541 §4.1: an entry's size is its name's and value's octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** Integers above this (2^28) are refused: no field, index or table size of ours comes near. */
const MAX_INT = 0x10000000;

/**
 * The decoding context of one connection: the dynamic table, its size, and the limit our
 * SETTINGS_HEADER_TABLE_SIZE allows (4096 by default). Not thread of streams: blocks must
 * be decoded in the order they arrive on the connection, every one of them (even of a
 * stream we no longer care about), or the table drifts.
 */
export class HpackDecoder {
  /** The dynamic table's maximum size, as the server's size updates set it (tests). */
  get maxTableSize(): number {
    return this.maxSize;
  }

  /** Newest first: index 62 is entries[0]. Names and values as latin1 strings. */
  private names: string[] = [];
  private values: string[] = [];
  private size = 0;
  private maxSize: number;
  private pos = 0;

  constructor(
    /** The SETTINGS_HEADER_TABLE_SIZE we advertised: size updates above it are errors. */
    private readonly limit = 4096,
  ) {
    this.maxSize = limit;
  }

  /** Entries in the dynamic table (tests). */
  get tableLength(): number {
    return this.names.length;
  }

  get tableSize(): number {
    return this.size;
  }

  /**
   * Decodes a whole block and returns its `:status` (0 when it has none, e.g. trailers).
   * Strings are built only where the dynamic table keeps them or the field is `:status`.
   */
  status(buf: Buffer, start: number, end: number): number {
    let status = 0;
    this.pos = start;
    let first = true;
    while (this.pos < end) {
      const b = buf[this.pos]!;
      if (b & 0x80) {
        // Indexed field (§6.1).
        const index = this.int(buf, end, 7);
        if (index === 0) throw compressionError('indexed field 0');
        if (status === 0) {
          if (index >= 8 && index <= 14) status = STATIC_STATUS[index - 8]!;
          else if (index > 61 && this.nameAt(index) === ':status') status = statusOf(this.valueAt(index));
          else this.check(index);
        } else this.check(index);
      } else if (b & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = this.int(buf, end, 6);
        if (this.maxSize === 0) {
          // A table of size 0 (our SETTINGS_HEADER_TABLE_SIZE, once the server applied it)
          // keeps nothing: the strings need not be made, except :status's value.
          status = this.unkeptLiteral(buf, end, index, status);
        } else {
          // The table keeps it, so both strings are made.
          const name = index === 0 ? this.str(buf, end) : this.nameAt(index);
          const value = this.str(buf, end);
          if (status === 0 && name === ':status') status = statusOf(value);
          this.insert(name, value);
        }
      } else if (b & 0x20) {
        this.sizeUpdate(buf, end, first);
        continue;
      } else {
        // Literal without indexing (§6.2.2) or never indexed (§6.2.3): nothing kept, strings skipped.
        status = this.unkeptLiteral(buf, end, this.int(buf, end, 4), status);
      }
      first = false;
    }
    return status;
  }

  /** Dynamic table size update (§6.3): only at the start of a block, never above our limit. */
  private sizeUpdate(buf: Buffer, end: number, first: boolean): void {
    if (!first) throw compressionError('table size update after the first field');
    const size = this.int(buf, end, 5);
    if (size > this.limit) throw compressionError(`table size ${size} above our limit ${this.limit}`);
    this.maxSize = size;
    this.evict(0);
  }

  /** A literal the table does not keep: its value is made only when it is the first `:status`, else skipped. */
  private unkeptLiteral(buf: Buffer, end: number, index: number, status: number): number {
    const isStatus = index === 0 ? this.str(buf, end) === ':status' : this.nameAt(index) === ':status';
    if (isStatus && status === 0) return statusOf(this.str(buf, end));
    this.skipStr(buf, end);
    return status;
  }

  /** Decodes a whole block into [name, value] pairs (tests, debugging). */
  decode(buf: Buffer, start = 0, end = buf.length): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    this.pos = start;
    let first = true;
    while (this.pos < end) {
      const b = buf[this.pos]!;
      if (b & 0x80) {
        const index = this.int(buf, end, 7);
        if (index === 0) throw compressionError('indexed field 0');
        out.push([this.nameAt(index), this.valueAt(index)]);
      } else if (b & 0x40) {
        const index = this.int(buf, end, 6);
        const name = index === 0 ? this.str(buf, end) : this.nameAt(index);
        const value = this.str(buf, end);
        this.insert(name, value);
        out.push([name, value]);
      } else if (b & 0x20) {
        this.sizeUpdate(buf, end, first);
        continue;
      } else {
        const index = this.int(buf, end, 4);
        const name = index === 0 ? this.str(buf, end) : this.nameAt(index);
        out.push([name, this.str(buf, end)]);
      }
      first = false;
    }
    return out;
  }

  /** The dynamic table, newest first (tests: RFC 7541 Appendix C lists it this way). */
  table(): Array<[string, string]> {
    return this.names.map((n, i) => [n, this.values[i]!]);
  }

  /** §5.1: an N-bit prefix integer at this.pos. */
  private int(buf: Buffer, end: number, prefix: number): number {
    const mask = (1 << prefix) - 1;
    let v = buf[this.pos++]! & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= end) throw compressionError('truncated integer');
      const b = buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (v > MAX_INT) throw compressionError('integer too large');
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  }

  /** §5.2: a string literal (plain or Huffman) at this.pos. */
  private str(buf: Buffer, end: number): string {
    if (this.pos >= end) throw compressionError('truncated string');
    const huffman = (buf[this.pos]! & 0x80) !== 0;
    const len = this.int(buf, end, 7);
    const from = this.pos;
    if (from + len > end) throw compressionError('string past the end of the block');
    this.pos = from + len;
    return huffman ? huffmanDecode(buf, from, from + len) : buf.toString('latin1', from, from + len);
  }

  private skipStr(buf: Buffer, end: number): void {
    if (this.pos >= end) throw compressionError('truncated string');
    const len = this.int(buf, end, 7);
    if (this.pos + len > end) throw compressionError('string past the end of the block');
    this.pos += len;
  }

  private check(index: number): void {
    if (index > 61 + this.names.length) throw compressionError(`index ${index} beyond the tables`);
  }

  private nameAt(index: number): string {
    if (index <= 61) {
      if (index === 0) throw compressionError('index 0');
      return STATIC_TABLE[index]![0];
    }
    const name = this.names[index - 62];
    if (name === undefined) throw compressionError(`index ${index} beyond the tables`);
    return name;
  }

  private valueAt(index: number): string {
    if (index <= 61) return STATIC_TABLE[index]![1];
    const value = this.values[index - 62];
    if (value === undefined) throw compressionError(`index ${index} beyond the tables`);
    return value;
  }

  /** §4.4: evict from the oldest end until the new entry fits; an entry larger than the table empties it. */
  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(size);
    if (size > this.maxSize) return;
    this.names.unshift(name);
    this.values.unshift(value);
    this.size += size;
  }

  private evict(room: number): void {
    while (this.names.length > 0 && this.size + room > this.maxSize) {
      const name = this.names.pop()!;
      const value = this.values.pop()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

const STATIC_STATUS = [200, 204, 206, 304, 400, 404, 500];

/** A `:status` value: three digits (RFC 9113 §8.3.2), else the block is malformed. */
function statusOf(v: string): number {
  if (v.length !== 3)
    throw new HttpParseError('H2_BAD_STATUS', `HTTP/2 :status "${v.slice(0, 16)}" is not three digits`);
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100)
    throw new HttpParseError('H2_BAD_STATUS', `HTTP/2 :status "${v}" is not a status`);
  return n;
}

// ---------------------------------------------------------------- encoding

/** A request header block: static indices where the static table has the exact field, else literals without indexing. */
export function encodeRequestBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: number[] = [];
  for (const [name, value] of fields) {
    const exact = STATIC_TABLE.findIndex(([n, v], i) => i > 0 && n === name && v === value);
    if (exact > 0) {
      pushInt(parts, exact, 7, 0x80);
      continue;
    }
    const byName = STATIC_TABLE.findIndex(([n], i) => i > 0 && n === name);
    if (byName > 0) pushInt(parts, byName, 4, 0x00);
    else {
      parts.push(0x00);
      pushString(parts, name);
    }
    pushString(parts, value);
  }
  return Buffer.from(parts);
}

function pushInt(out: number[], v: number, prefix: number, first: number): void {
  const mask = (1 << prefix) - 1;
  if (v < mask) {
    out.push(first | v);
    return;
  }
  out.push(first | mask);
  v -= mask;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function pushString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'latin1');
  pushInt(out, bytes.length, 7, 0x00);
  for (const b of bytes) out.push(b);
}
