import { spawn } from 'node:child_process';
import http from 'node:http';
import type { Socket } from 'node:net';
import { readTcpTable } from '@kalab/core';
import { afterEach, vi } from 'vitest';
import { createLabServer, type LabServer, type LabServerOptions } from '../src/index.js';

const servers: LabServer[] = [];
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
  await Promise.all(servers.splice(0).map((s) => s.close({ graceMs: 0 })));
});

/** A lab server on a free loopback port, closed after the test. */
export async function startLab(options: LabServerOptions = {}): Promise<LabServer & { url: string; port: number }> {
  const lab = createLabServer({ port: 0, ...options });
  servers.push(lab);
  const address = await lab.listen();
  return Object.assign(lab, { url: address.url, port: address.port });
}

export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** Resolves when `check()` holds, re-checking every 10 ms; fails with `what` after timeoutMs. */
export async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  await vi.waitFor(
    () => {
      if (!check()) throw new Error(`timed out waiting for ${what}`);
    },
    { timeout: timeoutMs, interval: 10 },
  );
}

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

/** GET with node:http; reads the body to the end. */
export function get(url: string, options: http.RequestOptions = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reusedSocket: req.reusedSocket }),
      );
    });
    req.on('error', reject);
  });
}

/** GET with node:http that resolves on the response head and never reads the body. */
export function getUnread(url: string, options: http.RequestOptions = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, options, resolve).on('error', reject);
  });
}

/**
 * An Agent that keeps sockets whatever the server's `Keep-Alive: timeout=` hint says
 * (node's Agent drops a socket whose hint is under 1 s), like Go's Transport does.
 */
export class HintBlindAgent extends http.Agent {
  override keepSocketAlive(socket: Socket): boolean {
    socket.setKeepAlive(true, 1000);
    socket.unref();
    return true;
  }
}

/** ESTABLISHED sockets whose local port is `port` (the server's side of each connection). */
export async function establishedOnServerPort(port: number): Promise<{ count: number; remotePorts: number[] }> {
  const rows = (await readTcpTable({ port, side: 'local' })).filter((s) => s.state === 'ESTABLISHED');
  return { count: rows.length, remotePorts: rows.map((r) => r.remote.port).sort((a, b) => a - b) };
}

export function run(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
