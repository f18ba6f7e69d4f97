// SPDX-License-Identifier: MIT
//
// Back-pressure: a client that stops reading while the CLI writes a lot. The proxy must stop
// reading the CLI (its stdout pipe fills and the CLI blocks) instead of buffering the whole
// answer, so its memory stays bounded; when the client reads again the stream completes,
// well-formed and whole.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  PROXY_BIN, TRANSCRIPTS, assertSseGrammar, messageBody, missing, requireOrSkip, postJson, sleep, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing() || (bytesWritten(process.pid) === null && '/proc/PID/io is not readable'));

// Each of the text transcript's 6 deltas repeated this often: ~30 MB of SSE, ~60 MB from the CLI.
const REPEAT = 40000;
// With back-pressure the proxy holds a client backlog of a few MB of SSE, but each small event
// sits in its own evbuffer chain (~1 KB): measured 35..43 MB over idle. Without it the proxy
// buffers the whole answer, several times its size (measured: past 130 MB and growing).
const RSS_BOUND_MB = 64;

// Under AddressSanitizer freed memory sits in a quarantine (256 MB by default) and counts in the
// RSS: switch it off for this measurement, the rest of ASan stays on. Its redzones still make
// every small allocation bigger (measured ~52 MB over idle), hence the larger bound.
const ASAN = !!PROXY_BIN && fs.existsSync(PROXY_BIN) && fs.readFileSync(PROXY_BIN).includes('__asan_init');
const BOUND_MB = ASAN ? RSS_BOUND_MB * 1.5 : RSS_BOUND_MB;
const ASAN_ENV = ASAN
  ? { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0', 'thread_local_quarantine_size_kb=0'].filter(Boolean).join(':') }
  : {};

function rssKb(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

// Bytes `pid` has written so far (/proc/PID/io), or null when that is not readable.
function bytesWritten(pid) {
  try {
    return Number(/^wchar:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
  } catch {
    return null;
  }
}

// utime + stime of `pid`, in clock ticks.
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

function transcriptDeltas(name) {
  return fs.readFileSync(path.join(TRANSCRIPTS, `${name}.ndjson`), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((j) => j.type === 'stream_event' && j.event.type === 'content_block_delta')
    .map((j) => j.event.delta.text);
}

describe('back-pressure',
  () => {
  test('a paused client: bounded proxy memory, the CLI held back; resumed: the whole stream, well-formed',
    { timeout: 240000 }, async () => {
      await withProxy({ env: { LOG_LEVEL: 'info', ...ASAN_ENV } }, async (proxy) => {
        // Warm up (allocator arenas, the first child), then measure the idle footprint.
        assert.equal((await postJson(`${proxy.url}/v1/messages`, messageBody('warm up'))).status, 200);
        await sleep(100);
        const idleKb = rssKb(proxy.pid);

        const body = JSON.stringify(messageBody(`flood [[fake:text repeat_deltas=${REPEAT}]]`, { stream: true }));
        const res = await new Promise((resolve, reject) => {
          const req = http.request({ host: proxy.host, port: proxy.port, path: '/v1/messages', method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
          req.on('error', reject);
          req.on('response', (r) => { r.pause(); resolve(r); });
          req.end(body);
        });
        assert.equal(res.statusCode, 200);

        // Paused: sample the proxy's RSS until the CLI sits blocked on its full pipe for a while
        // (the proxy stopped reading it), or it finished (the proxy read everything), or the
        // proxy's memory passed the bound.
        const log = await proxy.waitFakeLogFor('flood', (l) => l.state !== 'started', 10000);
        // "Held back" is the CLI's write count standing still for a second while the proxy is
        // idle too: a CLI merely faster than a busy proxy also sleeps on a full pipe.
        let maxKb = idleKb, last = -1, stillSince = Date.now(), cpuThen = 0, outcome = null;
        const deadline = Date.now() + 120000;
        while (!outcome) {
          maxKb = Math.max(maxKb, rssKb(proxy.pid));
          const state = proxy.fakeLogs().find((l) => l.pid === log.pid)?.state;
          const written = bytesWritten(log.pid);
          // Up to 50 ms of CPU a second for the proxy's back-pressure polling.
          if (written !== last || cpuTicks(proxy.pid) - cpuThen > 5) {
            last = written;
            stillSince = Date.now();
            cpuThen = cpuTicks(proxy.pid);
          }
          if (maxKb - idleKb > BOUND_MB * 1024) outcome = 'memory';
          else if (state === 'replayed' || state === 'exited' || written === null) outcome = 'cli finished';
          else if (Date.now() - stillSince > 1000) outcome = 'cli blocked';
          else if (Date.now() > deadline) outcome = 'timeout';
          await sleep(20);
        }
        const grewMb = (maxKb - idleKb) / 1024;
        assert.equal(outcome, 'cli blocked',
          `while the client paused: ${outcome}, proxy RSS grew ${grewMb.toFixed(1)} MB over ${(idleKb / 1024).toFixed(1)} MB idle`);
        assert.ok(grewMb < BOUND_MB, `proxy RSS grew ${grewMb.toFixed(1)} MB, bound ${BOUND_MB} MB`);
        console.log(`# paused client: proxy RSS idle ${(idleKb / 1024).toFixed(1)} MB, grew at most ${grewMb.toFixed(1)} MB;`
          + ` the CLI held back after writing ${(last / 1048576).toFixed(1)} MB`);

        // Resume and read it all, parsing incrementally; runs of deltas are collapsed to one
        // event for the grammar check.
        const events = [];
        let text = '', nDeltas = 0, rest = '', sseBytes = 0;
        const consume = (block) => {
          let event = null, data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
          }
          if (event === null) return;
          const parsed = JSON.parse(data);
          if (event === 'content_block_delta') {
            nDeltas++;
            text += parsed.delta.text;
            if (events.at(-1)?.event === 'content_block_delta') return;
          }
          events.push({ event, data: parsed });
        };
        res.setEncoding('utf8');
        await new Promise((resolve, reject) => {
          res.on('data', (d) => {
            sseBytes += Buffer.byteLength(d);
            const blocks = (rest + d).split('\n\n');
            rest = blocks.pop();
            for (const b of blocks) consume(b);
          });
          res.on('end', resolve);
          res.on('error', reject);
          res.resume();
        });
        assert.equal(rest.trim(), '', 'a partial event at the end');
        console.log(`# resumed: ${(sseBytes / 1048576).toFixed(1)} MB of SSE read, ${nDeltas} deltas`);
        assertSseGrammar(events);
        const deltas = transcriptDeltas('text');
        assert.equal(nDeltas, deltas.length * REPEAT);
        assert.equal(text, deltas.map((t) => t.repeat(REPEAT)).join(''), 'the streamed text differs');
      });
    });
});
