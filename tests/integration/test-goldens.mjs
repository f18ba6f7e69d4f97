// SPDX-License-Identifier: MIT
//
// The golden files of tests/data/expected/ against the daemon's own bytes: every recorded
// transcript that has a golden is replayed by the fake CLI through the real proxy, streaming and
// not, and what the client receives (ids normalised) must equal the golden:
//
//   stream-NAME.json          the streaming reply: {status, headers, events} for an event stream
//                             (every SSE event, name + parsed data, pings included), or
//                             {status, headers, body} when the proxy answered with a plain HTTP
//                             error before anything streamed. `headers` keeps only those a client
//                             acts on (content-type, retry-after, anthropic-*).
//   stream-NAME.message.json  the non-streaming 200 body of a successful run.
//   outcome-TRANSCRIPT.json   (read only; written by the unit test test-cli-outcome.c) the
//                             status, error type, message and headers of a failed run: the
//                             non-streaming error reply must say exactly that; {r: 0} for a
//                             successful one, which must then be a 200.
//
// Each golden is also checked once on its own, without the proxy: the official SDK's stream
// accumulator (MessageStream) must rebuild from stream-NAME.json exactly the message in
// stream-NAME.message.json, the stream must follow the Messages SSE grammar, and a streaming
// error reply must say what outcome-TRANSCRIPT.json says. So a golden rewritten from a broken
// proxy does not silently become the truth. test-goldens-sdk.mjs does the same through the
// SDKs' own clients and SSE decoders, for the chat- and resp- goldens too.
//
// TEST_UPDATE_GOLDEN=1 rewrites stream-*.json from what the proxy actually sent (outcome-*.json
// are left to their unit test); review the diff by hand before committing it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { checkGolden, EXPECTED, normaliseResp, readGolden, sortKeys } from './lib/goldens.mjs';
import { assertSseGrammar, missing, requireOrSkip, NODE_DIR, parseSse, startProxy } from './lib/harness.mjs';

requireOrSkip(missing({ sdk: true }));

const MODEL = 'claude-sonnet-4-5-client-name';
// What a proxy-made message id becomes in a golden (ids are random per request).
const MESSAGE_ID = 'msg_NORMALISED';
const MESSAGE_ID_RE = /^msg_[A-Za-z0-9]{24}$/;

const user = (content) => ({ role: 'user', content });
const assistant = (content) => ({ role: 'assistant', content });
const ask = (text, extra = {}) => ({ model: MODEL, max_tokens: 1024, messages: [user(text)], ...extra });

// The recorded requests (tests/data/transcripts/NAME.meta.json, "stdin"), as a client sends them,
// with the fake's directive in the last user message. `ok`: the run succeeds.
const CASES = [
  { name: 'text', transcript: 'text', ok: true, body: ask('Say hello [[fake:text]]') },
  {
    name: 'image', transcript: 'image', ok: true,
    body: ask([
      { type: 'image', source: { type: 'base64', media_type: 'image/png',
        data: 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==' } },
      { type: 'text', text: 'What is in this image? [[fake:image]]' },
    ]),
  },
  {
    // Real history, so the proxy goes through its history phase (one shouldQuery:false line
    // and its acknowledgement per earlier turn) before the final turn is replayed.
    name: 'history', transcript: 'history', ok: true,
    body: {
      model: MODEL, max_tokens: 1024,
      messages: [
        user('My name is Bob.'), assistant('Nice to meet you, Bob.'),
        user([{ type: 'text', text: 'I live in Paris.' }]), assistant('Paris is lovely.'),
        user('What is my name and city? [[fake:history]]'),
      ],
    },
  },
  { name: 'multi_message', transcript: 'multi_message', ok: true, body: ask('Write a long answer. [[fake:multi_message]]') },
  { name: 'rate_limit_warning', transcript: 'rate_limit_warning', ok: true, body: ask('Say hi [[fake:rate_limit_warning]]') },
  { name: 'slash_raw', transcript: 'slash_raw', ok: true, body: ask('hi [[fake:slash_raw]]') },
  {
    name: 'thinking', transcript: 'thinking', ok: true,
    body: ask('Say hello [[fake:thinking]]', { thinking: { type: 'adaptive' }, metadata: { effort: 'high' } }),
  },
  // The same run for a client that did not ask for thinking: the thinking block is dropped.
  { name: 'thinking-off', transcript: 'thinking', ok: true, body: ask('Say hello [[fake:thinking]]') },
  // The CLI dies (SIGKILL) after 7 lines, inside the text block: streaming only.
  {
    name: 'text-truncated', transcript: 'text', ok: false, streamOnly: true,
    body: ask('Say hello [[fake:text crash_after=7]]'),
  },
  ...['err_400', 'err_401', 'err_403', 'err_404_model', 'err_413', 'err_429', 'err_429_oauth_rejected',
    'err_500', 'err_529', 'err_connection_refused', 'err_not_logged_in', 'err_prompt_too_long']
    .map((t) => ({ name: t, transcript: t, ok: false, body: ask(`Say hello [[fake:${t}]]`) })),
];

// ---- what the client got, normalised -----------------------------------------------------------

// Random per request: the message id (checked for its form before it is replaced).
function normaliseMessage(m) {
  if (m && typeof m === 'object' && typeof m.id === 'string') {
    assert.match(m.id, MESSAGE_ID_RE, `message id ${m.id}`);
    return { ...m, id: MESSAGE_ID };
  }
  return m;
}

function normaliseEvent(e) {
  if (e.event === 'message_start' && e.data?.message)
    return { event: e.event, data: { ...e.data, message: normaliseMessage(e.data.message) } };
  return { event: e.event, data: e.data };
}

// The headers a client acts on. retry-after counts down to a recorded instant: only its form is kept.
function clientHeaders(h) {
  const out = {};
  for (const [k, v] of h.entries()) {
    if (k === 'content-type' || k === 'x-should-retry' || k.startsWith('anthropic-')) out[k] = v;
    else if (k === 'retry-after') {
      assert.match(v, /^\d+$/, 'retry-after is whole seconds');
      out[k] = '<seconds>';
    }
  }
  return out;
}

async function post(proxy, body, path = '/v1/messages') {
  const res = await fetch(`${proxy.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// The streaming reply as a golden holds it.
async function streamingReply(proxy, body) {
  const r = await post(proxy, { ...body, stream: true });
  const reply = { status: r.status, headers: clientHeaders(r.headers) };
  if (/^text\/event-stream/.test(r.headers.get('content-type') ?? ''))
    reply.events = parseSse(r.text).filter((e) => !('comment' in e)).map(normaliseEvent);
  else
    reply.body = JSON.parse(r.text);
  return reply;
}

// ---- independent checks of a golden ------------------------------------------------------------

// The official SDK's accumulator over a golden's events, as if they had come off the wire.
const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));

async function sdkFinalMessage(events) {
  const { MessageStream } = await import(nodeRequire.resolve('@anthropic-ai/sdk/lib/MessageStream'));
  const lines = events.map((e) => `${JSON.stringify(e.data)}\n`).join('');
  const rs = new ReadableStream({
    start(c) { c.enqueue(new TextEncoder().encode(lines)); c.close(); },
  });
  // parsed_output is the SDK's structured-output helper (null without a schema), not wire data.
  const { parsed_output: _, ...m } = await MessageStream.fromReadableStream(rs).finalMessage();
  // The accumulator sets absent fields (stop_details) to undefined: compare as JSON does.
  return JSON.parse(JSON.stringify(m));
}

// What a non-streaming error reply must say, from outcome-TRANSCRIPT.json.
function expectedError(outcome) {
  const headers = {};
  for (const [k, v] of Object.entries(outcome.headers ?? {})) headers[k] = v;
  if (outcome.retry_at > 0) headers['retry-after'] = '<seconds>';
  return {
    status: outcome.status,
    headers: { ...headers, 'content-type': 'application/json' },
    body: { type: 'error', error: { type: outcome.type, message: outcome.message } },
  };
}

function assertErrorReply(reply, outcome, what) {
  const want = expectedError(outcome);
  assert.equal(reply.status, want.status, `${what}: status`);
  assert.deepStrictEqual(reply.body, want.body, `${what}: body`);
  assert.deepStrictEqual(sortKeys(reply.headers), sortKeys(want.headers), `${what}: headers`);
}

// ---- the tests ---------------------------------------------------------------------------------


// One proxy for the tests of a describe(), started before them and stopped after: `.proxy`.
function goldenProxy() {
  const handle = {};
  before(async () => {
    // No keep-alive pings in a golden: the runs take milliseconds, the interval an hour.
    handle.proxy = await startProxy({ env: { PING_INTERVAL_MS: 3600000, ENABLE_THINKING: 'false' } });
  });
  after(async () => { await handle.proxy?.stop(); });
  return handle;
}

describe('goldens: the proxy\'s replies to recorded transcripts', () => {
  const golden = goldenProxy();

  for (const c of CASES) {
    test(`${c.name}: streaming reply = stream-${c.name}.json`, async () => {
      const reply = sortKeys(await streamingReply(golden.proxy, c.body));
      checkGolden(`stream-${c.name}.json`, reply);
    });

    if (c.streamOnly) continue;
    test(`${c.name}: non-streaming reply = ${c.ok ? `stream-${c.name}.message.json` : `outcome-${c.transcript}.json`}`,
      async () => {
        const r = await post(golden.proxy, c.body);
        if (c.ok) {
          assert.equal(r.status, 200, r.text);
          assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
          checkGolden(`stream-${c.name}.message.json`, sortKeys(normaliseMessage(JSON.parse(r.text))));
          // outcome-TRANSCRIPT.json (the unit test's verdict on the recording) must agree: a success.
          assert.deepStrictEqual(readGolden(`outcome-${c.transcript}.json`), { r: 0 },
            `outcome-${c.transcript}.json says the run failed; the proxy answered 200`);
        } else {
          assertErrorReply({ status: r.status, headers: clientHeaders(r.headers), body: JSON.parse(r.text) },
            readGolden(`outcome-${c.transcript}.json`), 'non-streaming');
        }
      });
  }
});

// The Responses surface over the recordings whose shape it changes: a reasoning item before the
// message (thinking), one message item per upstream message (multi_message). resp-text*.json is
// test-openai.mjs's. Formats as there: resp-NAME.json the parsed events, resp-NAME.message.json
// {status, body} of the non-streaming reply; test-goldens-sdk.mjs checks the one against the other.
const RESP_CASES = [
  { name: 'thinking', body: { model: 'claude-sonnet-4', input: 'Say hello [[fake:thinking]]',
    reasoning: { effort: 'high', summary: 'auto' } } },
  { name: 'multi_message', body: { model: 'claude-sonnet-4', input: 'Write a long answer. [[fake:multi_message]]' } },
];

describe('goldens: the proxy\'s Responses replies', () => {
  const golden = goldenProxy();

  for (const c of RESP_CASES) {
    test(`${c.name}: Responses replies = resp-${c.name}.json, resp-${c.name}.message.json`, async () => {
      const s = await post(golden.proxy, { ...c.body, stream: true }, '/v1/responses');
      assert.equal(s.status, 200);
      assert.match(s.headers.get('content-type') ?? '', /^text\/event-stream/);
      checkGolden(`resp-${c.name}.json`, sortKeys(normaliseResp(parseSse(s.text).filter((e) => !('comment' in e)))));
      const m = await post(golden.proxy, c.body, '/v1/responses');
      checkGolden(`resp-${c.name}.message.json`, sortKeys({ status: m.status, body: normaliseResp(JSON.parse(m.text)) }));
    });
  }
});

// After the replies (so an update run checks what it just wrote).
describe('goldens: each checked on its own', () => {
  for (const c of CASES) {
    test(`stream-${c.name}.json is a well-formed reply${c.ok ? ' the SDK accumulates into the message golden' : ''}`,
      async () => {
        const g = readGolden(`stream-${c.name}.json`);
        if (c.ok) {
          assert.equal(g.status, 200);
          assert.match(g.headers['content-type'], /^text\/event-stream/);
          assert.ok(Array.isArray(g.events), 'a successful run streams events');
          assertSseGrammar(g.events);
          assert.equal(g.events[0].data.message.model, MODEL, 'the client\'s model name is echoed');
          const message = readGolden(`stream-${c.name}.message.json`);
          assert.deepStrictEqual(await sdkFinalMessage(g.events), message,
            `the SDK's MessageStream rebuilds from stream-${c.name}.json a message other than stream-${c.name}.message.json`);
        } else if (g.events) {
          // Failed after the stream started: the blocks are closed, then one error event.
          assertSseGrammar(g.events, { allowError: true });
          assert.equal(g.events.at(-1).event, 'error');
          assert.ok(!g.events.some((e) => e.event === 'message_stop'), 'a failed run has no message_stop');
        } else {
          // Failed before anything streamed: a real HTTP error, the same as without streaming.
          assertErrorReply(g, readGolden(`outcome-${c.transcript}.json`), `stream-${c.name}.json`);
        }
      });
  }

  test('every stream golden has a case here, and every outcome golden a transcript', () => {
    const files = fs.readdirSync(EXPECTED);
    const streams = files.filter((f) => /^stream-.*\.json$/.test(f) && !f.endsWith('.message.json'))
      .map((f) => f.slice('stream-'.length, -'.json'.length));
    const messages = files.filter((f) => /^stream-.*\.message\.json$/.test(f))
      .map((f) => f.slice('stream-'.length, -'.message.json'.length));
    const outcomes = files.filter((f) => /^outcome-.*\.json$/.test(f)).map((f) => f.slice('outcome-'.length, -'.json'.length));
    assert.deepEqual(streams.sort(), CASES.map((c) => c.name).sort(), 'stream-*.json files vs cases');
    assert.deepEqual(messages.sort(), CASES.filter((c) => c.ok).map((c) => c.name).sort(),
      'stream-*.message.json files vs successful cases');
    for (const t of outcomes)
      assert.ok(CASES.some((c) => c.transcript === t && !c.streamOnly), `outcome-${t}.json has no case replaying it`);
  });
});
