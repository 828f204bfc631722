import { fit, fmtCount, pick, sparkline } from '../format.js';
import type { View } from './view.js';

/** The states the article is about come first and are always shown, even at zero. */
const ALWAYS = ['ESTABLISHED', 'TIME_WAIT', 'CLOSE_WAIT'];
const ORDER = [...ALWAYS, 'FIN_WAIT1', 'FIN_WAIT2', 'SYN_SENT', 'SYN_RECV', 'LAST_ACK', 'CLOSING', 'CLOSE'];
const NAME_W = 11;
const COUNT_W = 7;

/** TCP states over time, one block of rows per host: a sparkline and the current count. */
export const tcpStatesView: View = {
  id: 'states',
  title: (_m, width) =>
    pick(
      [
        ' TCP states over time · ESTABLISHED · TIME_WAIT · CLOSE_WAIT ',
        ' TCP states · TIME_WAIT · CLOSE_WAIT ',
        ' TCP states · TIME_WAIT ',
        ' TIME_WAIT ',
      ],
      width,
    ),
  lines(model, width, height) {
    const snap = model.snapshot;
    const hosts = Object.keys(snap?.hosts ?? {}).sort();
    const lines: string[] = [];
    const sparkW = Math.max(0, width - NAME_W - COUNT_W - 2);
    const row = (state: string, history: readonly number[], now: number) =>
      fit(`${state.padEnd(NAME_W)} ${sparkline(history, sparkW)} ${fmtCount(now).padStart(COUNT_W)}`, width);
    if (hosts.length === 0) {
      lines.push(fit('waiting for a TCP sample…', width));
      for (const s of ALWAYS) lines.push(row(s, [], 0));
      return lines.slice(0, height);
    }
    for (let i = 0; i < hosts.length; i++) {
      const host = hosts[i]!;
      const current = snap!.hosts[host]!.states;
      const history = snap!.history.states[host] ?? {};
      const states = ORDER.filter((s) => ALWAYS.includes(s) || (current[s] ?? 0) > 0);
      for (const s of Object.keys(current))
        if (!states.includes(s) && s !== 'LISTEN' && (current[s] ?? 0) > 0) states.push(s);
      const left = height - lines.length;
      if (left < 2) {
        if (left === 1) lines.push(fit(`+${hosts.length - i} more host(s)`, width));
        break;
      }
      lines.push(fit(`${host}`, width));
      for (const s of states) {
        if (lines.length >= height) break;
        lines.push(row(s, history[s] ?? [], current[s] ?? 0));
      }
    }
    return lines.slice(0, height);
  },
};
