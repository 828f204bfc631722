import { checkCaPem, checkServername, parseUrl, readBounded } from '@kalab/core';
import { DOCTOR_DEFAULTS, doctorJson, formatDoctor, parseBudget, probeKeepAlive } from '@kalab/doctor';
import type { DoctorFlags } from './doctor.js';

/** `kalab doctor URL`: probe, then print the table or the one JSON object. */
export async function run(urlArg: string, flags: DoctorFlags): Promise<number> {
  const url = parseUrl('URL', urlArg);
  const budgetMs = parseBudget('--budget', flags.budget);
  const json = flags.json === true;
  // Progress goes to stderr, so stdout stays the table or the one JSON object.
  const onProgress =
    json || !process.stderr.isTTY ? undefined : (m: string) => process.stderr.write(`kalab doctor: ${m}\n`);
  // The budget covers the whole command: take out what node's start-up already used.
  const left = Math.max(DOCTOR_DEFAULTS.apiMinBudgetMs, Math.floor(budgetMs - performance.now()));
  const probe = await probeKeepAlive(url, { budgetMs: left, onProgress, ...tlsOptions(flags) });
  process.stdout.write(json ? `${JSON.stringify(doctorJson(probe))}\n` : formatDoctor(probe));
  return 0;
}

/** -k, --ca, --servername, checked as loadgen checks them; messages name the flag. */
function tlsOptions(flags: DoctorFlags): { rejectUnauthorized: boolean; ca?: string; servername?: string } {
  const out: { rejectUnauthorized: boolean; ca?: string; servername?: string } = {
    rejectUnauthorized: flags.insecure !== true,
  };
  if (flags.ca !== undefined) out.ca = checkCaPem('--ca', readBounded('--ca', flags.ca).toString('utf8'));
  if (flags.servername !== undefined) out.servername = checkServername('--servername', flags.servername);
  return out;
}
