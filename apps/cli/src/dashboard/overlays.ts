import blessed from 'blessed';
import { helpLines } from './key-map.js';

export interface ScenarioItem {
  name: string;
  description?: string;
  /** Shown under the list while the item is highlighted (what the run should show). */
  detail?: string;
}

export type OverlayState = 'none' | 'help' | 'picker';

export interface Overlays {
  readonly state: OverlayState;
  /** Shows the key map; shown already, hides it. */
  toggleHelp(): void;
  /** Opens the scenario picker on these entries, the first highlighted. */
  openPicker(items: ScenarioItem[]): void;
  close(): void;
}

/**
 * The two boxes drawn over the panels: the help (the key map) and the scenario picker (the
 * list, and under it what the highlighted scenario should show). Enter in the picker closes
 * it and calls `onPick` with the scenario's name.
 */
export function createOverlays(screen: blessed.Widgets.Screen, onPick: (name: string) => void): Overlays {
  const help = blessed.box({
    parent: screen,
    hidden: true,
    top: 'center',
    left: 'center',
    width: Math.max(...helpLines().map((l) => l.length)) + 4,
    height: helpLines().length + 2,
    border: { type: 'line' },
    label: ' Help ',
    padding: { left: 1, right: 1 },
    tags: false,
    content: helpLines().join('\n'),
    style: { border: { fg: 'cyan' } },
  });
  const pickerBox = blessed.box({
    parent: screen,
    hidden: true,
    top: 'center',
    left: 'center',
    width: '80%',
    height: '60%',
    border: { type: 'line' },
    label: ' Scenarios · Enter runs · Esc closes ',
    tags: false,
    style: { border: { fg: 'cyan' } },
  });
  const picker = blessed.list({
    parent: pickerBox,
    top: 0,
    left: 0,
    right: 0,
    bottom: 3,
    keys: true,
    vi: true,
    tags: false,
    style: { selected: { bg: 'blue', fg: 'white' }, item: { fg: 'white' } },
  });
  const pickerDetail = blessed.box({
    parent: pickerBox,
    bottom: 0,
    left: 0,
    right: 0,
    height: 3,
    tags: false,
    style: { fg: 'cyan' },
  });
  let items: ScenarioItem[] = [];
  let state: OverlayState = 'none';

  const close = () => {
    help.hide();
    pickerBox.hide();
    state = 'none';
    screen.render();
  };

  picker.on('select item', (_item, index) => {
    pickerDetail.setContent(items[index]?.detail ?? '');
  });
  picker.on('select', (_item, index) => {
    const name = items[index]?.name;
    close();
    if (name) onPick(name);
  });

  return {
    get state() {
      return state;
    },
    toggleHelp() {
      if (state === 'help') {
        close();
        return;
      }
      pickerBox.hide();
      help.show();
      help.setFront();
      state = 'help';
      screen.render();
    },
    openPicker(entries) {
      items = entries;
      const nameW = Math.max(0, ...entries.map((s) => s.name.length));
      picker.setItems(entries.map((s) => `${s.name.padEnd(nameW)}  ${s.description ?? ''}`) as unknown as string[]);
      if (entries.length === 0) picker.setItems(['(no scenarios available)'] as unknown as string[]);
      picker.select(0);
      pickerDetail.setContent(entries[0]?.detail ?? '');
      pickerBox.show();
      pickerBox.setFront();
      picker.focus();
      state = 'picker';
      screen.render();
    },
    close,
  };
}
