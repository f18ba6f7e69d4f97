// SPDX-License-Identifier: MIT
//
// A client that sends a whole request and leaves at once (close, or shutdown(SHUT_WR)) ends its
// session while the CLI child may still sit between fork() and exec(). The kill that follows
// must reach only the child: it once ran the proxy's own SIGTERM handler in the child, which
// told the proxy to stop (exit 0). Many tries, both kinds of close, streaming and not; the
// daemon must stay up, answer, and be left with no child.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';

import {
  messageBody, missing, postJson, requireOrSkip, sleep, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());
const TRIES = 150;

function rawRequest(body) {
  const b = Buffer.from(JSON.stringify(body));
  return Buffer.concat([
    Buffer.from(`POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${b.length}\r\n\r\n`), b]);
}

// Connect, send everything, then leave: `how` is 'close' (RST-free close) or 'shutdown' (FIN,
// keep reading until the proxy closes).
function sendAndLeave(port, bytes, how) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(bytes, () => {
        if (how === 'close') s.destroy();
        else s.end();
      });
    });
    s.on('error', () => {});
    s.on('close', resolve);
    s.resume();
  });
}

describe('client leaves right after sending', () => {
  for (const stream of [false, true]) {
    test(`${TRIES} early closes (stream: ${stream}): the proxy stays up and leaks no child`, async () => {
      await withProxy({ env: { MAX_QUEUE: String(TRIES), LOG_LEVEL: 'info' } }, async (proxy) => {
        const bytes = rawRequest(messageBody('hi [[fake:text delay=20]]', { stream }));
        for (let i = 0; i < TRIES; i++) {
          await sendAndLeave(proxy.port, bytes, i % 2 ? 'close' : 'shutdown');
          assert.equal(proxy.exited, null,
            `the proxy exited after ${i + 1} early closes: ${JSON.stringify(proxy.exited)}`);
          // Vary where in the child's start the disconnect lands.
          if (i % 3 === 0) await sleep(i % 7);
        }
        await proxy.waitHealth((h) => h.requests_in_flight === 0, 20000,
          'requests_in_flight 0');
        // Left: only idle pooled processes (WARM_POOL), which /health counts.
        await waitFor(() => proxy.onlyPoolLeft(), 20000, 'no CLI child left but the idle pool');
        assert.doesNotMatch(proxy.stderrText, /stopping:/, 'the proxy began to stop by itself');
        // Still serving after all that.
        const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
        assert.equal(r.status, 200);
        assert.equal(proxy.exited, null);
      });
    });
  }
});
