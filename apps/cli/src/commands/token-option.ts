import { BadOptionError } from '@kalab/core/options';
import { type Command, Option } from 'commander';

/** The environment variable every command that takes --token reads when neither flag is given. */
export const TOKEN_ENV = 'KALAB_TOKEN';

/** A token file holds one short line; anything bigger is not a token file. */
const TOKEN_FILE_MAX_BYTES = 4096;

export interface TokenFlags {
  token?: string;
  tokenFile?: string;
  /** Where flags.token came from, set by resolveToken: a flag, or the environment. */
  tokenFrom?: '--token' | '--token-file' | typeof TOKEN_ENV;
}

/**
 * --token, the one definition every command that talks to (or is) a monitor uses, with
 * tokenFileOption. An argument shows in `ps` to every user of the machine: the help says so.
 */
export function tokenOption(what: string): Option {
  return new Option('--token <token>', `${what} (visible in ps: prefer ${TOKEN_ENV} or --token-file)`);
}

export function tokenFileOption(): Option {
  return new Option('--token-file <file>', `read the token from FILE (one line); or set ${TOKEN_ENV}`);
}

/** Whether a command registered the token options (resolveToken applies to it). */
export function takesToken(cmd: Command): boolean {
  return cmd.options.some((o) => o.long === '--token-file');
}

/**
 * Resolves the token into `flags.token`: --token, else --token-file (one line, trimmed), else
 * KALAB_TOKEN (an empty variable counts as unset). An empty --token, both flags, or an empty
 * or multi-line file are bad input (exit 2 naming the flag). Messages never quote a token.
 */
export async function resolveToken(flags: TokenFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (flags.token !== undefined && flags.tokenFile !== undefined)
    throw new BadOptionError('--token', '--token and --token-file are two ways to give one token: use one');
  if (flags.token !== undefined) {
    if (flags.token.trim() === '')
      throw new BadOptionError('--token', '--token must not be empty (leave it out for no token)');
    flags.tokenFrom = '--token';
    return;
  }
  if (flags.tokenFile !== undefined) {
    flags.token = await readTokenFile(flags.tokenFile);
    flags.tokenFrom = '--token-file';
    return;
  }
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    flags.token = fromEnv.trim();
    flags.tokenFrom = TOKEN_ENV;
  }
}

async function readTokenFile(file: string): Promise<string> {
  const flag = '--token-file';
  if (file === '') throw new BadOptionError(flag, `${flag} needs a file, got ""`);
  // The same bounded reader as every file the lab reads (regular file, size limit).
  const { readBounded } = await import('@kalab/core');
  const text = readBounded(flag, file, TOKEN_FILE_MAX_BYTES).toString('utf8').trim();
  if (text === '') throw new BadOptionError(flag, `${flag} "${file}" is empty`);
  if (/[\r\n]/.test(text)) throw new BadOptionError(flag, `${flag} "${file}" must hold the token on one line`);
  return text;
}

/**
 * A command whose token is only for --monitor (server, loadgen, observe): a token given by
 * flag without --monitor is a mistake (exit 2); one from the environment is simply not used.
 */
export function tokenNeedsMonitor(flags: TokenFlags, monitor: string | undefined): void {
  if (flags.token === undefined || monitor !== undefined) return;
  if (flags.tokenFrom === TOKEN_ENV) {
    flags.token = undefined;
    return;
  }
  const flag = flags.tokenFrom ?? '--token';
  throw new BadOptionError(flag, `${flag} needs --monitor`);
}
