import type { TcpEndpoint, TcpSocket } from './proc-net-tcp.js';
import { normalizeTcpState } from './tcp-states.js';

const WINDOWS_STATES: Record<string, string> = { LISTENING: 'LISTEN', CLOSED: 'CLOSE' };

/**
 * Splits `127.0.0.1.8080` / `::1.8080` / `*.*` (BSD, macOS), `127.0.0.1:8080` / `:::8080` /
 * `0.0.0.0:*` (Linux net-tools) and `[::1]:8080` (Windows). BSD puts the port after the
 * last dot, the others after the last colon, so whichever comes last separates the port.
 */
function splitEndpoint(text: string, family: 4 | 6): TcpEndpoint | undefined {
  let addr: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    addr = text.slice(1, close);
    port = text.slice(close + 2);
  } else {
    const cut = Math.max(text.lastIndexOf('.'), text.lastIndexOf(':'));
    if (cut <= 0 && text[0] !== ':') return undefined;
    addr = text.slice(0, cut);
    port = text.slice(cut + 1);
  }
  if (addr === '*' || addr === '') addr = family === 6 ? '::' : '0.0.0.0';
  addr = addr.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(addr);
  if (mapped) addr = mapped[1]!;
  const p = port === '*' ? 0 : Number(port);
  if (!Number.isInteger(p) || p < 0 || p > 65_535 || !/^(\*|\d+)$/.test(port)) return undefined;
  return { address: addr, port: p };
}

/**
 * Parses the TCP rows of `netstat -an` output: macOS/BSD (`tcp4 0 0 127.0.0.1.8080
 * 127.0.0.1.51000 TIME_WAIT`, tcp6 and tcp46 rows), Linux net-tools (`tcp ... 127.0.0.1:8080`)
 * and Windows (`TCP 127.0.0.1:8080 ... LISTENING`). State names are mapped to the kernel's
 * (FIN_WAIT_1 → FIN_WAIT1, SYN_RCVD → SYN_RECV, CLOSED → CLOSE). Other rows (UDP, unix
 * sockets, headers) are skipped.
 */
export function parseNetstatAn(text: string): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const raw of text.split('\n')) {
    const t = raw.trim().split(/\s+/);
    const proto = t[0]?.toLowerCase() ?? '';
    if (!proto.startsWith('tcp')) continue;
    let local: string | undefined;
    let remote: string | undefined;
    let stateText: string | undefined;
    if (t.length >= 6 && /^\d+$/.test(t[1]!) && /^\d+$/.test(t[2]!)) {
      [, , , local, remote, stateText] = t;
    } else if (t.length === 4) {
      [, local, remote, stateText] = t;
    } else continue;
    const family: 4 | 6 = proto.includes('6') || (t.length === 4 && local!.startsWith('[')) ? 6 : 4;
    const state = normalizeTcpState(WINDOWS_STATES[stateText!.toUpperCase()] ?? stateText!);
    const l = splitEndpoint(local!, family);
    const r = splitEndpoint(remote!, family);
    if (!state || !l || !r) continue;
    out.push({ local: l, remote: r, state, family });
  }
  return out;
}
