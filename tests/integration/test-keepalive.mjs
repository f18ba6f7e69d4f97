// SPDX-License-Identifier: MIT
//
// SSE keep-alive timing: no silence on the wire may exceed PING_INTERVAL_MS (plus the loop's
// latency). The ping timer once fired every interval counted from the spawn and skipped a tick
// when anything had been written within the last interval, so a write just after a tick left
// the client without a byte for almost two intervals.
//
// How this stays robust on a loaded machine: the fake CLI writes a line every 1.5 intervals, so
// the pauses alternate in phase against any fixed tick grid. With a grid, one pause in two holds
// no ping at all and the client sees a 1.5-interval silence, however fast or slow the machine
// is (load only lengthens it). Re-armed from the last write, every pause holds a ping one
// interval after the write. The bound, 1.3 intervals, leaves 300 ms for scheduling latency
// and still fails the old behaviour, whose silence can only be longer than 1.5 intervals.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { assertSseGrammar, messageBody, missing, requireOrSkip, openStream, parseSse, waitFor, withProxy } from './lib/harness.mjs';

requireOrSkip(missing());

const INTERVAL_MS = 1000;

describe('keep-alive', () => {
  test('no silence between SSE writes exceeds the ping interval', async (t) => {
    await withProxy({ env: { PING_INTERVAL_MS: String(INTERVAL_MS) } }, async (proxy) => {
      // Six lines, 1.5 intervals apart (init, status, message_start, block start, 2 deltas),
      // then a crash: the stream ends with an SSE error event, which is fine here.
      const delay = INTERVAL_MS * 1.5;
      const s = await openStream(`${proxy.url}/v1/messages`,
        messageBody(`hi [[fake:text delay=${delay} crash_after=6]]`, { stream: true }));
      const arrivals = [Date.now()];        // the headers come with the first ping
      s.res.on('data', () => arrivals.push(Date.now()));
      await waitFor(() => s.ended, 30000, 'the stream to end');

      const events = parseSse(s.text);
      assertSseGrammar(events.filter((e) => !e.comment), { allowError: true });
      assert.ok(events.some((e) => e.event === 'content_block_start'), 'the stream got to the content');
      const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
      const longest = Math.max(...gaps);
      t.diagnostic(`gaps between writes (ms): ${gaps.join(', ')}`);
      assert.ok(longest <= INTERVAL_MS * 1.3,
        `a ${longest} ms silence with PING_INTERVAL_MS=${INTERVAL_MS} (gaps: ${gaps.join(', ')})`);
      // The pauses were really there and really bridged by pings.
      assert.ok(events.filter((e) => e.event === 'ping').length >= 3, 'pings inside the message');
    });
  });
});
