import { fit, fmtCount, fmtDuration, pick } from '../format.js';
import type { DashboardModel, LocalRun } from '../model.js';
import type { View } from './view.js';

/** Two lines: where the data comes from and what runs, then the state of the current run. */
export const headerView: View = {
  id: 'header',
  title: () => '',
  lines(model, width, height) {
    const { snapshot: snap, status } = model;
    const target = status.target ?? snap?.run?.target ?? '-';
    const scenario = status.run?.name ?? snap?.run?.scenario ?? '-';
    const runStart = status.run?.startedAt ?? snap?.run?.startedAt ?? snap?.startedAt;
    const runEnd = status.run?.endedAt ?? (snap?.run && !snap.run.running ? snap.at : undefined);
    const elapsed = runStart === undefined ? '-' : fmtDuration((runEnd ?? model.now) - runStart);
    const sources = snap?.sources ?? [];
    const live = sources.filter((s) => s.connected && !s.lost).length;
    const link = status.link === 'connected' ? '' : ` (${status.link})`;
    const paused = status.paused ? ' · PAUSED' : '';
    const sourcesText = `sources ${live}/${sources.length}`;
    const first = pick(
      [
        `kalab · target ${target} · scenario ${scenario} · elapsed ${elapsed} · ${sourcesText} connected · monitor ${status.monitorUrl}${link}${paused}`,
        `target ${target} · scenario ${scenario} · elapsed ${elapsed} · ${sourcesText} · monitor ${status.monitorUrl}${link}${paused}`,
        `target ${target} · scenario ${scenario} · elapsed ${elapsed} · ${sourcesText}${link}${paused}`,
        `${target} · ${scenario} · ${elapsed} · ${sourcesText}${link}${paused}`,
      ],
      width,
    );
    const lines = [fit(first, width)];
    if (height > 1)
      lines.push(
        fit(
          status.message ?? (status.run || !snap?.run ? runLine(status.run, status.mode) : monitorRunLine(snap.run)),
          width,
        ),
      );
    return lines;
  },
};

type MonitorRun = NonNullable<NonNullable<DashboardModel['snapshot']>['run']>;

/** A run the monitor knows about but this dashboard did not start (an agent's, a standalone loadgen's). */
function monitorRunLine(run: MonitorRun): string {
  const what = run.scenario ?? `run ${run.id}`;
  return `${what} ${run.running ? 'running' : 'ended'}${run.target ? ` against ${run.target}` : ''} (reported to the monitor)`;
}

function runLine(run: LocalRun | null, mode: DashboardModel['status']['mode']): string {
  if (!run && mode === 'remote')
    return 'View only: runs appear here as agents and loadgens report them to the monitor. ? for help.';
  if (!run) return 'No run yet: press s to pick a scenario, r to run a load against the embedded server, ? for help.';
  if (run.summary && run.state !== 'running') return `${run.name} ${run.state}: ${run.summary}`;
  const counts: string[] = [];
  if (run.requests !== undefined) counts.push(`${fmtCount(run.requests)} requests`);
  if (run.connectionsOpened !== undefined) counts.push(`${fmtCount(run.connectionsOpened)} connections opened`);
  const verb = run.state === 'running' ? 'running' : run.state;
  return `${run.name} ${verb}${counts.length ? `: ${counts.join(', ')}` : ''}${run.state === 'running' ? ' (r stops it)' : ''}`;
}
