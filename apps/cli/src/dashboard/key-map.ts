/** The one key map of the dashboard: the footer, the help overlay and the key bindings all read it. */
export type DashboardAction = 'picker' | 'run' | 'fan-out' | 'pause' | 'focus' | 'help' | 'quit';

export interface KeyBinding {
  /** blessed key names. */
  keys: string[];
  /** How the footer shows the key. */
  label: string;
  action: DashboardAction;
  /** What the key does, for the help overlay. */
  help: string;
}

export const KEY_MAP: readonly KeyBinding[] = [
  { keys: ['s'], label: 's', action: 'picker', help: 'pick a scenario; Enter runs it with the local loadgen' },
  { keys: ['r'], label: 'r', action: 'run', help: 'run the last scenario again (or a load); stop a run' },
  {
    keys: ['a'],
    label: 'a',
    action: 'fan-out',
    help: 'run the load on all agents of the monitor (one merged run); a stops it',
  },
  { keys: ['p'], label: 'p', action: 'pause', help: 'pause the view; p again shows the latest' },
  { keys: ['tab'], label: 'tab', action: 'focus', help: 'focus the next panel; arrows scroll it' },
  { keys: ['?', 'h'], label: '?', action: 'help', help: 'show or hide this help' },
  { keys: ['q', 'C-c'], label: 'q', action: 'quit', help: 'quit (stops a run, restores the terminal)' },
];

const SHORT: Record<DashboardAction, string> = {
  picker: 'scenarios',
  run: 'run/stop',
  'fan-out': 'all agents',
  pause: 'pause',
  focus: 'focus',
  help: 'help',
  quit: 'quit',
};

/** The footer line: every key and a one-word meaning. */
export function footerText(): string {
  return KEY_MAP.map((k) => `${k.label} ${SHORT[k.action]}`).join('   ');
}

/** The help overlay's text, one key per line. */
export function helpLines(): string[] {
  return [
    'keepalive-lab dashboard',
    '',
    ...KEY_MAP.map(
      (k) =>
        `${k.keys
          .filter((x) => !x.startsWith('C-'))
          .join(' / ')
          .padEnd(7)} ${k.help}`,
    ),
    '',
    "Panels draw the monitor's latest snapshot, 4 times a second.",
    'Headless commands (no terminal needed):',
    '  kalab server, loadgen, monitor, scenario, netstat, doctor',
    '',
    'Press ? or Escape to close.',
  ];
}
