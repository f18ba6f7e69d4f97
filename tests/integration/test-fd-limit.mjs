// SPDX-License-Identifier: MIT
//
// File descriptors: the soft limit is raised to the hard one at start, and running out of them
// (more idle connections than the limit) neither spins the loop nor floods the log: accepting
// pauses, waiting connections are answered 503 in our envelope through a reserve descriptor, one
// log line says so, and once the idle connections go, /health answers 200 again.
//
// The proxy is started through `sh -c 'ulimit ...; exec proxy'` so its limits are set before it
// runs; the harness's Proxy class then handles it like any other.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';

import { PROXY_BIN, Proxy, missing, requireOrSkip, pidAlive, proxyEnv, sleep, tmpdir, waitFor } from './lib/harness.mjs';

requireOrSkip(missing());


async function startLimited(soft, hard, env = {}) {
  const logDir = tmpdir('cp-fakelog-');
  const workDir = tmpdir('cp-work-');
  const fullEnv = proxyEnv({ LOG_LEVEL: 'info', ...env }, { logDir, workDir });
  // Soft first: a hard limit below the current soft one is refused.
  const script = `ulimit -Sn ${soft} && ulimit -Hn ${hard} && exec "$0"`;
  const child = spawn('/bin/sh', ['-c', script, PROXY_BIN], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new Proxy(child, { logDir, workDir, env: fullEnv });
  await p.waitListening();
  return p;
}

function openFiles(pid) {
  const m = /^Max open files\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return { soft: Number(m[1]), hard: Number(m[2]) };
}

// utime + stime, in clock ticks (100 per second on Linux).
function cpuTicks(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

// Scheduler state: 'R' while running or runnable. A spinning loop is 'R' even when a loaded
// machine gives it little CPU; an idle one sleeps in epoll_wait ('S').
function procState(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
}

function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// GET /health on a new connection: { status, json } or { error } (reset, closed without answer).
function health(proxy, ms = 5000) {
  return new Promise((resolve) => {
    const s = net.connect(proxy.port, '127.0.0.1');
    let data = '';
    const t = setTimeout(() => { s.destroy(); resolve({ error: 'timeout', data }); }, ms);
    const done = (error) => {
      clearTimeout(t);
      s.destroy();
      const h = data.indexOf('\r\n\r\n');
      if (h < 0) return resolve({ error: error ?? 'closed without an answer', data });
      let json = null;
      try { json = JSON.parse(data.slice(h + 4)); } catch { /* partial */ }
      resolve({ status: Number(data.split(' ')[1]), head: data.slice(0, h), json });
    };
    s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => { data += d; });
    s.on('end', () => done());
    s.on('error', (e) => done(e.code));
  });
}

describe('file descriptor limit', () => {
  test('the soft limit is raised to the hard limit at start', async () => {
    const p = await startLimited(256, 4096);
    try {
      assert.deepEqual(openFiles(p.pid), { soft: 4096, hard: 4096 });
    } finally {
      await p.stop();
    }
  });

  test('out of descriptors: no spin, no flood, waiting connections answered 503, recovery', async () => {
    const LIMIT = 64, IDLE = 100;
    const p = await startLimited(LIMIT, LIMIT);
    const idle = [];
    try {
      assert.equal(openFiles(p.pid).soft, LIMIT);
      const linesBefore = p.stderrText.split('\n').length;

      // Idle connections: connected, nothing sent. The kernel completes the handshake for the
      // backlog, so all of them connect; the proxy can accept only until its table is full.
      for (let i = 0; i < IDLE; i++) {
        const s = net.connect(p.port, '127.0.0.1');
        s.on('error', () => {});
        s.answer = '';
        s.on('data', (d) => { s.answer += d; });
        idle.push(s);
      }
      await waitFor(() => fdCount(p.pid) >= LIMIT - 1, 10000, 'the descriptor table to fill');

      // ~2 s while full: a spinning accept loop is always runnable and uses what CPU it gets.
      const t0 = cpuTicks(p.pid), w0 = Date.now();
      let samples = 0, running = 0;
      while (Date.now() - w0 < 2000) {
        samples++;
        if (procState(p.pid) === 'R') running++;
        await sleep(10);
      }
      const ticks = cpuTicks(p.pid) - t0, wall = (Date.now() - w0) / 10;
      console.log(`while full: runnable in ${running}/${samples} samples, ${ticks} CPU ticks in ${wall} ticks`);
      assert.ok(running < samples * 0.2, `runnable in ${running} of ${samples} samples while out of descriptors`);
      assert.ok(ticks < wall * 0.25, `CPU while out of descriptors: ${ticks} ticks in ${wall} ticks of wall time`);

      // Shed connections were answered in our envelope, not left hanging.
      await waitFor(() => idle.some((s) => s.answer.includes('\r\n\r\n')), 5000, 'a shed connection to be answered');
      const shed = idle.find((s) => s.answer.includes('\r\n\r\n')).answer;
      assert.match(shed, /^HTTP\/1\.1 503 /);
      assert.match(shed, /content-type: application\/json/i);
      const shedBody = shed.slice(shed.indexOf('\r\n\r\n') + 4);
      assert.equal(Number(/content-length: (\d+)/i.exec(shed)?.[1]), Buffer.byteLength(shedBody), 'Content-Length');
      assert.equal(JSON.parse(shedBody).error.type, 'overloaded_error');

      // A new client while full gets an answer (the 503, through the reserve descriptor).
      const during = await health(p);
      console.log(`/health while full: ${during.status ?? during.error}`);
      assert.ok(during.status === 503 || during.status === 200, `a request while full: ${JSON.stringify(during)}`);
      if (during.status === 503) assert.equal(during.json?.error?.type, 'overloaded_error');

      // The log says so, a few times at most, not once per accept attempt.
      const lines = p.stderrText.split('\n').slice(linesBefore - 1);
      const accepts = lines.filter((l) => /accept/i.test(l));
      assert.ok(accepts.length >= 1, 'the condition is logged');
      assert.ok(lines.length < 40, `log lines while full: ${lines.length}:\n${lines.slice(0, 20).join('\n')}`);

      // The idle connections go: /health answers 200 again.
      for (const s of idle) s.destroy();
      await waitFor(async () => (await health(p, 2000)).status === 200, 10000, '/health to answer 200 again');
      assert.ok(pidAlive(p.pid));
    } finally {
      for (const s of idle) s.destroy();
      await p.stop();
    }
  });
});
