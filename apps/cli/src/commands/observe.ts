import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';
import { type TokenFlags, tokenFileOption, tokenOption } from './token-option.js';

export interface ObserveFlags {
  json?: boolean;
  duration?: string;
  interval?: string;
  portRange?: string;
  twReuse?: string;
  serve?: string;
  capture?: string;
  net?: string;
  pid?: string;
  cgroup?: string;
  tracer?: string;
  watch?: boolean;
  monitor?: string;
  token?: string;
  tokenFile?: string;
  tokenFrom?: TokenFlags['tokenFrom'];
  name?: string;
}

const EXAMPLES = `
Examples:
  kalab observe -- go run ./client              run it in a private network namespace, report on stderr
  kalab observe --json -- python3 fetch.py      kalab.observe/v1 as the last line of stdout
  kalab observe --net outbound -- python3 fetch.py   a way out: $KALAB_HOST (10.0.2.2) is this machine's loopback
  kalab observe --serve 8080 -- ./client        the lab server on 127.0.0.1:8080 first: requests per connection
  kalab observe --capture /tmp/c.pcap -- ./client   tcpdump the namespace's loopback: SYN/FIN/RST per connection
  kalab observe --duration 30s --port-range 40000-40999 --tw-reuse 0 -- ./client
  kalab observe --pid 4242 --duration 20s       attach to a running process: its new connections, TIME_WAIT left behind
  kalab observe --pid 4242 --tracer sampling    sample the TCP table instead of eBPF (also KALAB_OBSERVE_TRACER=sampling)
  kalab observe --cgroup /sys/fs/cgroup/system.slice/nginx.service --duration 10s   every process of a cgroup (eBPF)
  kalab observe --pid 4242 --watch              a live line a second until Ctrl-C or the process exits
  kalab observe --monitor ws://127.0.0.1:7070/ws --token T -- ./client   stream it live (role observer)

The program's stdin, stdout and stderr are untouched and its exit code is kalab observe's.`;

export function registerObserve(program: Command): void {
  program
    .command('observe')
    .description('run a program in a private network namespace and report what it did with its TCP connections')
    .argument('[command...]', 'the program and its arguments, after --')
    .option('--json', 'print kalab.observe/v1 as the last line of stdout')
    .option('--duration <D>', 'end the observation after D (SIGTERM, then SIGKILL): 30s, 2m, plain number = seconds')
    .option('--interval <D>', 'time between samples of the TCP table', '100ms')
    .option('--port-range <A-B>', "the namespace's ip_local_port_range")
    .option('--tw-reuse <0|1|2>', "the namespace's net.ipv4.tcp_tw_reuse")
    .option('--serve <PORT>', 'start the lab server on 127.0.0.1:PORT inside the namespace before the program')
    .option(
      '--net <MODE>',
      "the program's network: isolated (default, loopback only) or outbound (a way out through slirp4netns; counters stay the namespace's)",
    )
    .option('--capture <FILE>', "write a tcpdump capture of the namespace's interfaces and report its packets")
    .option('--pid <PID>', 'attach to a running process instead (its sockets via /proc/PID/fd and /proc/PID/net/tcp)')
    .option('--cgroup <PATH>', 'with eBPF: watch every process of a cgroup v2 directory instead of one pid')
    .option(
      '--tracer <auto|ebpf|sampling>',
      '--pid/--cgroup: kernel tracepoints via bpftrace (exact; root, BTF) or sampling; auto: eBPF where it can run (default: $KALAB_OBSERVE_TRACER or auto)',
    )
    .option('--watch', 'with --pid: print a live line every second (a redrawn table on a terminal)')
    .option('--monitor <url>', 'stream it live to a monitor (ws://HOST:PORT/ws) as role observer')
    .addOption(tokenOption('token for --monitor'))
    .addOption(tokenFileOption())
    .option('--name <name>', "this observation's name in the monitor")
    .addHelpText('after', EXAMPLES)
    .action(lazyAction(() => import('./observe-run.js')));
}
