// SPDX-License-Identifier: MIT
//
// Every recorded CLI error transcript, replayed by the fake, must come back as the right HTTP
// status in the Anthropic error envelope (non-streaming), with the same real status before message_start (streaming),
// and as the SDK's matching error class.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertErrorEnvelope, messageBody, missing, postJson, requireOrSkip, sdkClient, startProxy,
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

requireOrSkip(missing({ sdk: true }));

describe('CLI-reported API errors', () => {
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

    test(`${name} -> ${status} before message_start (streaming)`, async () => {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(messageBody(`Say hello [[fake:${name}]]`, { stream: true })),
      });
      const text = await res.text();
      // Every recorded error comes before any assistant output, so before message_start: the
      // proxy holds the stream's headers back until then precisely to answer with the real
      // status and a JSON envelope, not a 200 stream ending in an error event.
      assert.equal(res.status, status, text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assertErrorEnvelope(JSON.parse(text), type);
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

  // The recorded reset time lies in the past (retry-after would be a constant 0): the fake
  // moves it RESETS_IN seconds into the future, and retry-after must count down to it.
  const RESETS_IN = 3600;
  const assertRetryAfter = (headers, sentAt) => {
    const ra = headers.get('retry-after');
    assert.match(ra ?? '', /^\d+$/, `retry-after: ${ra}`);
    const elapsed = (Date.now() - sentAt) / 1000;
    assert.ok(Math.abs(Number(ra) - (RESETS_IN - elapsed)) <= 2,
      `retry-after ${ra}, expected ${RESETS_IN} s less the ${elapsed.toFixed(1)} s since sending, ±2 s`);
    const reset = Number(headers.get('anthropic-ratelimit-unified-reset'));
    assert.ok(Math.abs(reset - (sentAt / 1000 + RESETS_IN)) <= 2 + elapsed,
      `anthropic-ratelimit-unified-reset ${reset} is not the moved reset time`);
  };

  test('err_429_oauth_rejected carries retry-after and the unified rate-limit headers', async () => {
    const body = messageBody(`hi [[fake:err_429_oauth_rejected resets_in=${RESETS_IN}]]`);
    let sentAt = Date.now();
    const r = await postJson(`${proxy.url}/v1/messages`, body);
    assert.equal(r.status, 429);
    assertRetryAfter(r.headers, sentAt);
    assert.equal(r.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
    const { client, sdk } = await sdkClient(proxy);
    sentAt = Date.now();
    await assert.rejects(client.messages.create(body), (e) => {
      assert.ok(e instanceof sdk.RateLimitError);
      assertRetryAfter(e.headers, sentAt);
      return true;
    });
  });

  test('a reset time in the past gives retry-after 0', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`,
      messageBody('hi [[fake:err_429_oauth_rejected resets_in=-30]]'));
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '0');
  });

  test('the CLI message reaches the client', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:err_404_model]]'));
    assert.match(r.json.error.message, /issue with the selected model/);
  });
});
