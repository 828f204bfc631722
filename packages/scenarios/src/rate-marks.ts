/**
 * Progress marks of one run (ms since it began), so its final tick carries an honest rate:
 * over the last second, or over the whole run when it is shorter — requests / elapsed. The
 * interval since the previous tick alone can be a few ms and a handful of requests, and a
 * monitor shows that rate until the run's report (its per-second history samples it).
 */
export class RateMarks {
  private readonly marks: { atMs: number; requests: number; opened: number }[] = [{ atMs: 0, requests: 0, opened: 0 }];

  add(atMs: number, requests: number, opened: number): void {
    this.marks.push({ atMs, requests, opened });
    // Keep one mark at least a second old; older ones are never used again.
    while (this.marks.length > 2 && this.marks[1]!.atMs <= atMs - 1000) this.marks.shift();
  }

  /** Rates per second from the newest mark at least a second before `atMs` (else the start) to `atMs`. */
  since(atMs: number, requests: number, opened: number): { rps: number; newConnPerSec: number } {
    let from = this.marks[0]!;
    for (const m of this.marks) if (m.atMs <= atMs - 1000) from = m;
    const secs = Math.max(0.001, (atMs - from.atMs) / 1000);
    return {
      rps: Math.max(0, (requests - from.requests) / secs),
      newConnPerSec: Math.max(0, (opened - from.opened) / secs),
    };
  }
}
