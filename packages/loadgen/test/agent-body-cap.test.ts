import { BadOptionError } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { agentCapsFromFlags, checkCaps, resolveCaps } from '../src/index.js';

describe('an agent caps request bodies (--max-body-bytes)', () => {
  const caps = resolveCaps({});
  const T = 'http://127.0.0.1:8080/';

  it('refuses a body over the cap, counting bytes (base64 decoded), and takes one at the cap', () => {
    expect(checkCaps({ target: T, body: 'x'.repeat(11) }, caps, 10)).toBe(
      "a 11-byte request body is more than this agent's --max-body-bytes 10",
    );
    expect(checkCaps({ target: T, body: 'x'.repeat(10) }, caps, 10)).toBeNull();
    // 16 base64 characters are 12 bytes.
    expect(checkCaps({ target: T, body: 'AAAAAAAAAAAAAAAA', bodyEncoding: 'base64' }, caps, 12)).toBeNull();
    expect(checkCaps({ target: T, body: 'é' }, caps, 1)).toMatch(/a 2-byte request body/);
  });

  it('--max-body-bytes takes 0..8388608 and names itself otherwise', () => {
    expect(agentCapsFromFlags({ maxBodyBytes: '1024' }).maxBodyBytes).toBe(1024);
    expect(() => agentCapsFromFlags({ maxBodyBytes: '-1' })).toThrow(BadOptionError);
    expect(() => agentCapsFromFlags({ maxBodyBytes: '8388609' })).toThrow(/--max-body-bytes/);
  });
});
