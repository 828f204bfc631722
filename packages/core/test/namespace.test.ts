import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readChildLines } from '../src/namespace.js';

interface Line {
  t: 'n';
  n: number;
}

// What scenarios and observe pass: a function that throws on a line it does not accept.
function parseLine(v: unknown): Line {
  const o = v as { t?: unknown; n?: unknown };
  if (o?.t !== 'n' || typeof o.n !== 'number') throw new Error(`not a line: ${JSON.stringify(v)}`);
  return { t: 'n', n: o.n };
}

describe('readChildLines', () => {
  it('hands on checked lines, skips text that is not JSON, and reports JSON the parse rejects', async () => {
    const input = new PassThrough();
    const got: number[] = [];
    const bad: string[] = [];
    const lines = readChildLines(
      input,
      parseLine,
      (l) => got.push(l.n),
      (_err, text) => bad.push(text),
    );
    const closed = new Promise((r) => lines.once('close', r));
    // Split across writes on purpose: a line is whole only at its newline.
    input.write('{"t":"n","n":1}\nnot json from a library\n{"t":"n",');
    input.write('"n":2}\n{"t":"x","n":3}\n{"t":"n","n":"4"}\n');
    input.end('{"t":"n","n":5}\n');
    await closed;
    expect(got).toEqual([1, 2, 5]);
    expect(bad).toEqual(['{"t":"x","n":3}', '{"t":"n","n":"4"}']);
  });
});
