import { describe, expect, it } from 'vitest';
import { requestFields } from '../src/engine-h2c.js';
import { encodeRequestBlock, HpackDecoder, huffmanDecode, huffmanEncode } from '../src/h2/hpack.js';
import { requestShape } from '../src/request-shape.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

/** RFC 7541 Appendix C: each block, the fields it decodes to, the table after it (newest first) and its size. */
const REQUESTS: Array<[string, Array<[string, string]>, Array<[string, string]>, number]> = [
  [
    '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ],
    [[':authority', 'www.example.com']],
    57,
  ],
  [
    '8286 84be 5808 6e6f 2d63 6163 6865',
    [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ],
    [
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    110,
  ],
  [
    '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ],
    [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    164,
  ],
];
const REQUESTS_HUFFMAN = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
];

const RESPONSES: Array<[string, Array<[string, string]>, Array<[string, string]>, number]> = [
  [
    '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    [
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', DATE1],
      ['location', 'https://www.example.com'],
    ],
    [
      ['location', 'https://www.example.com'],
      ['date', DATE1],
      ['cache-control', 'private'],
      [':status', '302'],
    ],
    222,
  ],
  [
    '4803 3330 37c1 c0bf',
    [
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', DATE1],
      ['location', 'https://www.example.com'],
    ],
    [
      [':status', '307'],
      ['location', 'https://www.example.com'],
      ['date', DATE1],
      ['cache-control', 'private'],
    ],
    222,
  ],
  [
    '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', DATE2],
      ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'],
      ['set-cookie', COOKIE],
    ],
    [
      ['set-cookie', COOKIE],
      ['content-encoding', 'gzip'],
      ['date', DATE2],
    ],
    215,
  ],
];
const RESPONSES_HUFFMAN = [
  '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
  '4883 640e ffc1 c0bf',
  '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
];

describe('HPACK decoding follows RFC 7541 Appendix C', () => {
  it('C.2: one field of each representation', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))).toEqual([
      ['custom-key', 'custom-header'],
    ]);
    expect(d.tableSize).toBe(55);
    const e = new HpackDecoder();
    expect(e.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([[':path', '/sample/path']]);
    expect(e.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual([['password', 'secret']]);
    expect(e.decode(hex('82'))).toEqual([[':method', 'GET']]);
    expect(e.tableLength).toBe(0);
  });

  for (const [name, blocks] of [
    ['C.3 (plain)', REQUESTS.map((r) => r[0])],
    ['C.4 (Huffman)', REQUESTS_HUFFMAN],
  ] as const)
    it(`${name}: three requests on one connection, the dynamic table after each`, () => {
      const d = new HpackDecoder();
      blocks.forEach((block, i) => {
        const [, fields, table, size] = REQUESTS[i]!;
        expect(d.decode(hex(block))).toEqual(fields);
        expect(d.table()).toEqual(table);
        expect(d.tableSize).toBe(size);
      });
    });

  for (const [name, blocks] of [
    ['C.5 (plain)', RESPONSES.map((r) => r[0])],
    ['C.6 (Huffman)', RESPONSES_HUFFMAN],
  ] as const)
    it(`${name}: three responses in a 256-byte table, with eviction; status() reads :status and keeps the table in step`, () => {
      const d = new HpackDecoder(256);
      const fast = new HpackDecoder(256);
      blocks.forEach((block, i) => {
        const [, fields, table, size] = RESPONSES[i]!;
        expect(d.decode(hex(block))).toEqual(fields);
        expect(d.table()).toEqual(table);
        expect(d.tableSize).toBe(size);
        expect(fast.status(hex(block), 0, hex(block).length)).toBe(Number(fields[0]![1]));
        expect(fast.table()).toEqual(table);
      });
    });

  it('Huffman: the RFC strings decode, and what we encode decodes back (every byte value)', () => {
    expect(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'), 0, 12)).toBe('www.example.com');
    expect(huffmanDecode(hex('a8eb 1064 9cbf'), 0, 6)).toBe('no-cache');
    expect(huffmanEncode('custom-key').toString('hex')).toBe('25a849e95ba97d7f');
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    const enc = huffmanEncode(all);
    expect(huffmanDecode(enc, 0, enc.length)).toBe(all);
  });

  it('Huffman: padding longer than 7 bits, padding of 0s, and EOS are COMPRESSION_ERRORs', () => {
    const enc = huffmanEncode('a'); // 5 bits + 3 bits of padding: 0x1f
    expect(enc).toEqual(Buffer.from([0x1f]));
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as { reason?: string }).reason;
      }
      return 'no error';
    };
    expect(code(() => huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2))).toBe('H2_COMPRESSION_ERROR');
    expect(code(() => huffmanDecode(Buffer.from([0x18]), 0, 1))).toBe('H2_COMPRESSION_ERROR');
    expect(code(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4))).toBe('H2_COMPRESSION_ERROR');
    // A size update above the table size we allow, and an index past both tables.
    expect(code(() => new HpackDecoder(0).status(Buffer.from([0x3f, 0xe1, 0x1f]), 0, 3))).toBe('H2_COMPRESSION_ERROR');
    expect(code(() => new HpackDecoder().status(Buffer.from([0xbf]), 0, 1))).toBe('H2_COMPRESSION_ERROR');
  });
});

describe('with our SETTINGS_HEADER_TABLE_SIZE 0 applied, literals are skipped, :status still read', () => {
  it("nginx's block after its size update to 0: status 200, nothing kept; a :status sent as a literal with indexing is read", () => {
    const d = new HpackDecoder();
    // What nginx 1.22 sends for `return 200 "Hello world"` (server, date, content-type, content-length, all "with indexing").
    const nginx = hex(
      '887689aa6355e580ae212e1f6196d07abe94640a693f75040138a01eb8166e36ca98b46f5f87497ca58ae819aa5c023131',
    );
    expect(d.status(Buffer.concat([Buffer.from([0x20]), nginx]), 0, nginx.length + 1)).toBe(200);
    expect(d.maxTableSize).toBe(0);
    expect(d.tableLength).toBe(0);
    expect(d.status(nginx, 0, nginx.length)).toBe(200);
    const literal302 = Buffer.from([0x48, 0x03, 0x33, 0x30, 0x32, 0x76, 0x01, 0x78]);
    expect(d.status(literal302, 0, literal302.length)).toBe(302);
    expect(d.tableLength).toBe(0);
    // Before the update the same block fills the default 4096-byte table.
    const full = new HpackDecoder();
    expect(full.status(nginx, 0, nginx.length)).toBe(200);
    expect(full.table().map(([n]) => n)).toEqual(['content-length', 'content-type', 'date', 'server']);
  });
});

describe('the request block is encoded once, statelessly', () => {
  it('pseudo-headers by static index where the table has them, literals without indexing otherwise', () => {
    const shape = requestShape(new URL('http://127.0.0.1:8080/'), 'GET', [['X-Test', '1']], null);
    const block = encodeRequestBlock(requestFields(shape, 'http'));
    const d = new HpackDecoder();
    expect(d.decode(block)).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', '127.0.0.1:8080'],
      [':path', '/'],
      ['user-agent', 'kalab'],
      ['accept', '*/*'],
      ['x-test', '1'],
    ]);
    // Nothing was indexed: the server's table never changes on our account.
    expect(d.tableLength).toBe(0);
    expect(block.subarray(0, 2)).toEqual(Buffer.from([0x82, 0x86]));
  });
});
