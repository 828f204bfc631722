import { spawnSync } from 'node:child_process';
import { kalabInNetns, type Proc, sh } from './monitor-procs.js';

/**
 * Several "machines" on one switch: a bridge in this namespace (address 10.201.N.1/24) and
 * one network namespace per machine, each joined to the bridge by a veth pair with its own
 * address (10.201.N.(10+i)), TCP table and ports. Traffic never leaves the host.
 */
export class NetnsBridge {
  readonly bridge: string;
  readonly hostAddr: string;
  readonly machines: { ns: string; hostIf: string; addr: string }[];

  constructor(count: number) {
    const n = 1 + Math.floor(Math.random() * 250);
    const tag = `${process.pid % 1000}${n}`;
    this.bridge = `kfb${tag}`;
    this.hostAddr = `10.201.${n}.1`;
    this.machines = Array.from({ length: count }, (_, i) => ({
      ns: `kalab-fo-${tag}-${i + 1}`,
      hostIf: `kf${tag}${i + 1}`,
      addr: `10.201.${n}.${10 + i + 1}`,
    }));
  }

  up(): void {
    sh(`ip link add ${this.bridge} type bridge`);
    sh(`ip addr add ${this.hostAddr}/24 dev ${this.bridge} && ip link set ${this.bridge} up`);
    for (const m of this.machines) {
      const peer = `${m.hostIf}p`;
      sh(`ip netns add ${m.ns}`);
      sh(`ip link add ${m.hostIf} type veth peer name ${peer}`);
      sh(`ip link set ${peer} netns ${m.ns}`);
      sh(`ip link set ${m.hostIf} master ${this.bridge} && ip link set ${m.hostIf} up`);
      sh(
        `ip netns exec ${m.ns} sh -c 'ip addr add ${m.addr}/24 dev ${peer} && ip link set ${peer} up && ip link set lo up'`,
      );
    }
  }

  /** `kalab ARGS` on machine `i` (0-based), with host name `hostName`. */
  kalab(i: number, hostName: string, args: string[]): Proc {
    return kalabInNetns(this.machines[i]!.ns, hostName, args);
  }

  down(): void {
    for (const m of this.machines) {
      spawnSync('sh', ['-c', `ip netns pids ${m.ns} 2>/dev/null | xargs -r kill -9`]);
      spawnSync('ip', ['netns', 'del', m.ns]);
      spawnSync('ip', ['link', 'del', m.hostIf]);
    }
    spawnSync('ip', ['link', 'del', this.bridge]);
  }
}
