// SPDX-License-Identifier: MIT
//
// Every recorded CLI error transcript, replayed by the fake, must come back as the right HTTP
// status in the Anthropic error envelope (non-streaming), as an SSE error event (streaming),
// and as the SDK's matching error class.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertErrorEnvelope, assertSseGrammar, messageBody, missing, parseSse, postJson, sdkClient, startProxy,
} from './lib/harness.mjs';

// transcript -> [HTTP status, Anthropic error type, SDK error class]
const CASES = {
  err_400: [400, 'invalid_request_error', 'BadRequestError'],
  err_prompt_too_long: [400, 'invalid_request_error', 'BadRequestError'],
  // The CLI's own credential is bad: the operator's problem, not the client's (no 401).
  err_401: [503, 'api_error', 'ServiceUnavailableError'],
  err_not_logged_in: [503, 'api_error', 'ServiceUnavailableError'],
  err_403: [403, 'permission_error', 'PermissionDeniedError'],
  err_404_model: [404, 'not_found_error', 'NotFoundError'],
  err_413: [413, 'request_too_large', 'ContentTooLargeError'],
  err_429: [429, 'rate_limit_error', 'RateLimitError'],
  err_429_oauth_rejected: [429, 'rate_limit_error', 'RateLimitError'],
  err_500: [500, 'api_error', 'InternalServerError'],
  err_529: [529, 'overloaded_error', 'OverloadedError'],
  err_connection_refused: [500, 'api_error', 'InternalServerError'],
};

describe('CLI-reported API errors', { skip: missing({ sdk: true }) }, () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });

  for (const [name, [status, type, cls]] of Object.entries(CASES)) {
    test(`${name} -> ${status} ${type} (non-streaming)`, async () => {
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody(`Say hello [[fake:${name}]]`));
      assert.equal(r.status, status, r.text);
      assertErrorEnvelope(r.json, type);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.ok(r.headers.get('request-id'), 'request-id on errors too');
    });

    test(`${name} -> SSE error event (streaming)`, async () => {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(messageBody(`Say hello [[fake:${name}]]`, { stream: true })),
      });
      const text = await res.text();
      // Errors known before the first byte may be a plain HTTP error; after message_start
      // they must be an SSE error event. Both are fine; a 200 stream must end in `error`.
      if (res.status === 200) {
        const events = assertSseGrammar(parseSse(text), { allowError: true });
        const last = events.at(-1);
        assert.equal(last.event, 'error', `stream ended with ${last.event}`);
        assert.equal(last.data.error.type, type);
      } else {
        assert.equal(res.status, status, text);
        assertErrorEnvelope(JSON.parse(text), type);
      }
    });

    test(`${name} -> SDK ${cls}`, async () => {
      const { client, sdk } = await sdkClient(proxy);
      await assert.rejects(client.messages.create(messageBody(`Say hello [[fake:${name}]]`)), (e) => {
        assert.ok(e instanceof sdk[cls], `expected ${cls}, got ${e.constructor.name}: ${e.message}`);
        assert.equal(e.status, status);
        assert.equal(e.error?.error?.type, type);
        return true;
      });
    });
  }

  test('err_429_oauth_rejected carries retry-after and the unified rate-limit headers', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:err_429_oauth_rejected]]'));
    assert.equal(r.status, 429);
    const ra = r.headers.get('retry-after');
    assert.match(ra ?? '', /^\d+$/, `retry-after: ${ra}`);
    assert.ok(Number(ra) >= 0);
    assert.equal(r.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
    const { client, sdk } = await sdkClient(proxy);
    await assert.rejects(client.messages.create(messageBody('hi [[fake:err_429_oauth_rejected]]')), (e) => {
      assert.ok(e instanceof sdk.RateLimitError);
      assert.match(e.headers.get('retry-after') ?? '', /^\d+$/);
      return true;
    });
  });

  test('the CLI message reaches the client', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:err_404_model]]'));
    assert.match(r.json.error.message, /issue with the selected model/);
  });
});
