import { fit, fmtCount, fmtRate, spread } from '../format.js';
import type { View } from './view.js';

/** One row per loadgen agent the monitor knows: its state, request rate and totals (`a` runs a load on all of them). */
export const agentsView: View = {
  id: 'agents',
  title: (_m, width) => (width >= 20 ? ' Agents (a: run on all) ' : ' Agents '),
  sticky: 1,
  lines(model, width, height) {
    const agents = (model.snapshot?.sources ?? []).filter((s) => s.role === 'agent');
    if (agents.length === 0) return [fit('no agents: kalab loadgen --agent --monitor URL', width)].slice(0, height);
    const lines = [spread('agent', 'req/s   requests', width)];
    for (const a of agents) {
      const state = a.lost ? 'lost' : !a.connected ? 'gone' : a.rates.rps > 0 ? 'busy' : 'idle';
      const right = `${fmtRate(a.rates.rps).padStart(5)} ${fmtCount(a.totals.requests).padStart(10)}`;
      lines.push(spread(`${a.name} ${state}`, right, width));
    }
    return lines.slice(0, height);
  },
};
