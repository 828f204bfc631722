import { fit, pick, wrap } from '../format.js';
import type { View } from './view.js';

const MARK = { error: '✗', warn: '!', info: '·' } as const;

/** The monitor's plain-language findings, most severe first, word-wrapped. */
export const findingsView: View = {
  id: 'findings',
  title: (_m, width) => pick([' Findings in plain words ', ' Findings '], width),
  lines(model, width, height) {
    const findings = [...(model.snapshot?.findings ?? [])];
    const rank = { error: 0, warn: 1, info: 2 } as const;
    findings.sort((a, b) => rank[a.severity] - rank[b.severity]);
    const run = model.status.run;
    // The scenario this dashboard ran explains its own result first.
    const why =
      run && run.state !== 'running'
        ? (run.explanation ?? []).map((text) => ({ severity: 'info' as const, message: `${run.name}: ${text}` }))
        : [];
    findings.unshift(...why.map((w) => ({ id: 'run', ...w })));
    if (findings.length === 0)
      return wrap('Nothing to report yet: run a scenario (s) or a load (r).', width).slice(0, height);
    const lines: string[] = [];
    for (const f of findings) {
      const wrapped = wrap(f.message, Math.max(1, width - 2));
      for (let i = 0; i < wrapped.length && lines.length < height; i++)
        lines.push(fit(`${i === 0 ? MARK[f.severity] : ' '} ${wrapped[i]}`, width));
      if (lines.length >= height) break;
    }
    return lines;
  },
};
