import type { Command } from 'commander';
import { registerDoctor } from './doctor.js';
import { registerLoadgen } from './loadgen.js';
import { registerMonitor, registerReport } from './monitor.js';
import { registerNetstat } from './netstat.js';
import { registerScenario } from './scenario.js';
import { registerServer } from './server.js';
import { registerDashboard, registerStart } from './start.js';

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
  registerReport(program);
}
