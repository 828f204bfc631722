import type { Command } from 'commander';
import { registerDashboard } from './dashboard.js';
import { registerDoctor } from './doctor.js';
import { registerLoadgen } from './loadgen.js';
import { registerMonitor } from './monitor.js';
import { registerNetstat } from './netstat.js';
import { registerObserve } from './observe.js';
import { registerReport } from './report.js';
import { registerScenario } from './scenario.js';
import { registerServer } from './server.js';
import { registerStart } from './start.js';

/** One register function per command file; the order is the order of `kalab --help`. */
export function registerCommands(program: Command): void {
  registerStart(program);
  registerServer(program);
  registerLoadgen(program);
  registerMonitor(program);
  registerDashboard(program);
  registerScenario(program);
  registerNetstat(program);
  registerDoctor(program);
  registerObserve(program);
  registerReport(program);
}
