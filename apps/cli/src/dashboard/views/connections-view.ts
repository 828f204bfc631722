import { fit, fitStart, fmtCount, fmtDuration, pick } from '../format.js';
import type { DashboardModel } from '../model.js';
import type { View } from './view.js';

const STATE_W = 11;
const AGE_W = 6;
const REQ_W = 6;

/** A netstat-like table: state, local, remote, age, requests served. */
export const connectionsView: View = {
  id: 'connections',
  sticky: 1,
  title(model, width) {
    const m = model.snapshot?.merged;
    const rows = model.snapshot?.connections ?? [];
    const est = rows.filter((r) => r.state === 'ESTABLISHED').length;
    const opened = fmtCount(m?.connectionsOpened ?? 0);
    return pick(
      [
        ` Connections · ${opened} opened · ${fmtCount(est)} established · ${fmtCount(rows.length)} listed `,
        ` Connections · ${opened} opened · ${fmtCount(est)} est. `,
        ` Connections · ${opened} opened `,
        ' Connections ',
      ],
      width,
    );
  },
  lines(model, width, height) {
    const rows = sortRows(model.snapshot?.connections ?? []);
    const addrW = Math.max(8, Math.floor((width - STATE_W - AGE_W - REQ_W - 4) / 2));
    const line = (state: string, local: string, remote: string, age: string, reqs: string) =>
      fit(
        `${fit(state, STATE_W)} ${fitStart(local, addrW)} ${fitStart(remote, addrW)} ${age.padStart(AGE_W)} ${reqs.padStart(REQ_W)}`,
        width,
      );
    const lines = [line('STATE', 'LOCAL', 'REMOTE', 'AGE', 'REQS')];
    if (rows.length === 0) {
      lines.push(fit('no connections', width));
      return lines.slice(0, height);
    }
    const room = height - 1;
    const shown = rows.length > room ? rows.slice(0, Math.max(0, room - 1)) : rows;
    for (const r of shown) {
      lines.push(
        line(
          r.state,
          r.local,
          r.remote,
          r.ageMs === null ? '-' : fmtDuration(r.ageMs),
          r.requests === null ? '-' : fmtCount(r.requests),
        ),
      );
    }
    if (shown.length < rows.length) lines.push(fit(`… ${fmtCount(rows.length - shown.length)} more`, width));
    return lines.slice(0, height);
  },
};

const STATE_ORDER = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'CLOSE_WAIT',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'LAST_ACK',
  'CLOSING',
  'TIME_WAIT',
  'CLOSE',
  'LISTEN',
];
type Row = NonNullable<DashboardModel['snapshot']>['connections'][number];

/** Live connections first (the ones serving requests), listeners last: the order netstat users scan in. */
function sortRows(rows: readonly Row[]): Row[] {
  const rank = (s: string) => {
    const i = STATE_ORDER.indexOf(s);
    return i === -1 ? STATE_ORDER.length - 1 : i;
  };
  return [...rows].sort((a, b) => rank(a.state) - rank(b.state) || (b.requests ?? -1) - (a.requests ?? -1));
}
