import { BadOptionError } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { createLabServer, resolveServerOptions, SERVER_DEFAULTS, SERVER_LIMITS } from '../src/index.js';

function badOption(fn: () => unknown): BadOptionError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadOptionError);
    return err as BadOptionError;
  }
  throw new Error('expected a BadOptionError');
}

describe('resolveServerOptions', () => {
  it('fills node:http defaults from one module', () => {
    expect(resolveServerOptions()).toMatchObject({
      host: '127.0.0.1',
      port: SERVER_DEFAULTS.port,
      keepAliveTimeout: 5000,
      headersTimeout: 60_000,
      requestTimeout: 300_000,
      maxRequestsPerSocket: 0,
      close: false,
      delayUs: 0,
      bodyBytes: null,
      h2cPort: null,
    });
  });

  it.each([
    [{ port: 70_000 }, 'port', /port must be an integer from 0 to 65535/],
    [{ keepAliveTimeout: -1 }, 'keepAliveTimeout', /keepAliveTimeout must be an integer from 0/],
    [{ maxRequestsPerSocket: 1.5 }, 'maxRequestsPerSocket', /maxRequestsPerSocket must be an integer/],
    [{ delayUs: '50' as unknown as number }, 'delayUs', /delayUs must be a number/],
    [{ host: 'not a host' }, 'host', /host must be an IP address or a host name/],
    [{ headersTimeout: 10_000, requestTimeout: 5000 }, 'headersTimeout', /headersTimeout must be <= requestTimeout/],
    [{ port: 9000, h2cPort: 9000 }, 'h2cPort', /h2cPort must differ from port/],
    [{ keepAlive: 1 } as never, 'keepAlive', /unknown option keepAlive/],
  ])('%j is refused naming %s', (options, option, message) => {
    const err = badOption(() => createLabServer(options));
    expect(err.option).toBe(option);
    expect(err.code).toBe('KALAB_ERR_BAD_OPTION');
    expect(err.message).toMatch(message);
  });

  it('names the option as its caller calls it (a CLI passes its flags), with the range of SERVER_LIMITS', () => {
    const err = badOption(() =>
      resolveServerOptions({ delayUs: SERVER_LIMITS.delayUs.max + 1 }, { delayUs: '--delay-us' }),
    );
    expect(err.option).toBe('--delay-us');
    expect(err.message).toBe('--delay-us must be an integer from 0 to 60000000, got "60000001"');
    const rel = badOption(() =>
      resolveServerOptions(
        { headersTimeout: 2000, requestTimeout: 1000 },
        { headersTimeout: '--headers-timeout', requestTimeout: '--request-timeout' },
      ),
    );
    expect(rel.message).toBe('--headers-timeout must be <= --request-timeout (1000 ms), got 2000 ms');
  });
});
