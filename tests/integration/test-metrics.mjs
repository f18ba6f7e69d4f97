// SPDX-License-Identifier: MIT
//
// GET /metrics: Prometheus text, guarded like the APIs, counting what the requests did.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { getJson, messageBody, missing, postJson, requireOrSkip, startProxy, WARM_POOL } from './lib/harness.mjs';

const KEY = 'metrics-key';

function sample(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

requireOrSkip(missing());

describe('/metrics', () => {
  let proxy;
  before(async () => {
    proxy = await startProxy({ env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: KEY } });
  });
  after(async () => { await proxy?.stop(); });

  test('needs an API key like the APIs', async () => {
    const r = await getJson(`${proxy.url}/metrics`);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.error?.type, 'authentication_error');
  });

  test('counts requests, statuses, tokens, error classes and the rate-limit state', async () => {
    const h = { 'x-api-key': KEY };
    assert.equal((await postJson(`${proxy.url}/v1/messages`, messageBody('hi'), h)).status, 200);
    const limited = await postJson(`${proxy.url}/v1/messages`, messageBody('[[fake:err_429_oauth_rejected]]'), h);
    assert.equal(limited.status, 429, limited.text);

    // A request is counted when its session ends, i.e. once its CLI has been reaped, which may
    // be a moment after the client got its reply.
    let res, text;
    for (let i = 0; i < 50; i++) {
      res = await fetch(`${proxy.url}/metrics`, { headers: h });
      text = await res.text();
      if (sample(text, 'claude_proxy_request_duration_seconds_count') === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    assert.match(text, /^# TYPE claude_proxy_requests_total counter$/m);
    assert.equal(sample(text, 'claude_proxy_requests_total{api="anthropic",status="200"}'), 1);
    assert.equal(sample(text, 'claude_proxy_requests_total{api="anthropic",status="429"}'), 1);
    assert.equal(sample(text, 'claude_proxy_request_duration_seconds_count'), 2);
    assert.equal(sample(text, 'claude_proxy_request_duration_seconds_bucket{le="+Inf"}'), 2);
    // Recorded usage of the text transcript: 25 in, 17 out.
    assert.equal(sample(text, 'claude_proxy_tokens_total{direction="input"}'), 25);
    assert.equal(sample(text, 'claude_proxy_tokens_total{direction="output"}'), 17);
    assert.equal(sample(text, 'claude_proxy_errors_total{class="rate_limit"}'), 1);
    assert.equal(sample(text, 'claude_proxy_rate_limit_status{window="five_hour",status="rejected"}'), 1);
    assert.equal(sample(text, 'claude_proxy_rate_limit_resets_at_seconds{window="five_hour"}'), 1795529999);
    // The only CLI children left are idle pooled ones, which serve no request.
    assert.equal(sample(text, 'claude_proxy_cli_children'), sample(text, 'claude_proxy_pool_size'));
    assert.equal(sample(text, 'claude_proxy_pool_target'), Number(WARM_POOL));
    // Every request that reached a CLI either adopted a pooled one or was spawned cold.
    const spawned = sample(text, 'claude_proxy_pool_hits_total') + sample(text, 'claude_proxy_pool_misses_total');
    assert.equal(spawned, Number(WARM_POOL) > 0 ? 2 : 0, text);
    assert.equal(sample(text, 'claude_proxy_requests_in_flight'), 0);
  });
});
