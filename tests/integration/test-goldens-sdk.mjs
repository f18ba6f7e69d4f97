// SPDX-License-Identifier: MIT
//
// Each golden of tests/data/expected/ checked once on its own, without the proxy: the official
// SDKs' stream accumulators must rebuild from a streaming golden exactly the non-streaming golden
// of the same run. test-goldens.mjs and test-openai.mjs compare the daemon's bytes with these
// files; this one makes sure the files themselves are right, so a golden rewritten
// (TEST_UPDATE_GOLDEN=1) from a broken proxy cannot silently become the truth.
//
// A local HTTP server plays a golden back as it came off the wire (status, headers, and the SSE
// frames re-serialised), and the SDK reads it through its own client, SSE decoder and accumulator:
//
//   stream-NAME.json       @anthropic-ai/sdk client.messages.stream().finalMessage()
//                          = stream-NAME.message.json (the non-streaming reply);
//                          a pre-stream failure: the SDK's APIError = outcome-TRANSCRIPT.json;
//                          a failure mid-stream: the SDK raises the error event, and what it had
//                          accumulated is a prefix of the whole run's message.
//   chat-NAME.json         openai client.chat.completions.stream().finalChatCompletion()
//                          = chat-NAME.message.json; chat-err_*: the SDK's APIError.
//   resp-NAME.json         openai client.responses.stream().finalResponse() = resp-NAME.message.json
//
// Where the SDK's rebuilt object differs from the non-streaming reply for a reason that is not a
// defect, the difference is named and checked on its own below; everything else is compared
// exactly. The last test makes sure no golden file is left unchecked.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { EXPECTED, readGolden } from './lib/goldens.mjs';
import { missing, requireOrSkip, NODE_DIR } from './lib/harness.mjs';

const haveOpenAI = fs.existsSync(path.join(NODE_DIR, 'node_modules', 'openai'));
requireOrSkip(missing({ proxy: false, fake: false, sdk: true }) ||
  (!haveOpenAI && 'the openai npm package is missing: run npm ci --prefix tests/node'));

const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));

// As JSON has it: drops the accumulators' `undefined` members.
const asJson = (v) => JSON.parse(JSON.stringify(v));

// The streaming goldens of test-goldens.mjs. `message`: the non-streaming golden the stream must
// add up to; `outcome`: the failure the stream must report; `prefixOf`: a run cut short whose
// stream must be the start of that whole run's message.
const MESSAGES = [
  ...['text', 'image', 'history', 'multi_message', 'rate_limit_warning', 'slash_raw', 'thinking', 'thinking-off']
    .map((n) => ({ stream: `stream-${n}.json`, message: `stream-${n}.message.json` })),
  { stream: 'stream-text-truncated.json', prefixOf: 'stream-text.message.json' },
  ...['err_400', 'err_401', 'err_403', 'err_404_model', 'err_413', 'err_429', 'err_429_oauth_rejected',
    'err_500', 'err_529', 'err_connection_refused', 'err_not_logged_in', 'err_prompt_too_long']
    .map((t) => ({ stream: `stream-${t}.json`, outcome: `outcome-${t}.json` })),
];
// include_usage: the request asked for stream_options.include_usage (test-openai.mjs GOLDENS).
const CHATS = [
  { stream: 'chat-text.json', message: 'chat-text.message.json', includeUsage: true },
  { stream: 'chat-thinking.json', message: 'chat-thinking.message.json' },
  { stream: 'chat-multi_message.json', message: 'chat-multi_message.message.json' },
  { stream: 'chat-err_429.json', outcome: 'outcome-err_429.json' },
];
const RESPONSES = ['text', 'thinking', 'multi_message']
  .map((n) => ({ stream: `resp-${n}.json`, message: `resp-${n}.message.json` }));

// ---- the wire ----------------------------------------------------------------------------------

// A golden's frames back into SSE bytes: `event:` when named, `data:` as JSON (or [DONE]).
function sseBytes(frames) {
  return frames.map((f) => `${f.event ? `event: ${f.event}\n` : ''}data: ${
    typeof f.data === 'string' ? f.data : JSON.stringify(f.data)}\n\n`).join('');
}

// How each golden format holds a reply: {status, headers, body text}.
function wireReply(file) {
  const g = readGolden(file);
  if (file.startsWith('resp-')) // the raw events, always a 200 stream
    return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' }, body: sseBytes(g) };
  if (g.frames) // chat-NAME.json: {status, contentType, frames}
    return { status: g.status, headers: { 'content-type': g.contentType }, body: sseBytes(g.frames) };
  const headers = { ...g.headers };
  // retry-after is kept only by its form; any whole number will do for a client.
  if (headers['retry-after'] === '<seconds>') headers['retry-after'] = '0';
  if (g.events) return { status: g.status, headers, body: sseBytes(g.events) };
  return { status: g.status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(g.body) };
}

let server, baseURL;
before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      try {
        const r = wireReply(req.headers['x-golden']);
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      } catch (e) {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(String(e));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${server.address().port}`;
});
after(() => new Promise((resolve) => server.close(resolve)));

async function anthropic() {
  const mod = await import(nodeRequire.resolve('@anthropic-ai/sdk'));
  const Anthropic = mod.default?.Anthropic ?? mod.default ?? mod.Anthropic;
  return { Anthropic, client: new Anthropic({ baseURL, apiKey: 'sk-golden', maxRetries: 0, timeout: 10000 }) };
}

async function openai() {
  const mod = await import(nodeRequire.resolve('openai'));
  const OpenAI = mod.default ?? mod.OpenAI;
  return { OpenAI, client: new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'sk-golden', maxRetries: 0, timeout: 10000 }) };
}

const golden = (file) => ({ headers: { 'x-golden': file } });
const ASK = { model: 'claude-sonnet-4-5-client-name', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] };

// ---- Messages ----------------------------------------------------------------------------------

describe('stream-*.json through @anthropic-ai/sdk MessageStream', () => {
  for (const c of MESSAGES) {
    if (c.message) {
      test(`${c.stream}: finalMessage() = ${c.message}`, async () => {
        const { client } = await anthropic();
        // parsed_output is the SDK's structured-output helper (null without a schema), not wire data.
        const { parsed_output: _, ...m } = await client.messages.stream(ASK, golden(c.stream)).finalMessage();
        assert.deepStrictEqual(asJson(m), readGolden(c.message),
          `the SDK rebuilds from ${c.stream} a message other than ${c.message}`);
      });
    } else if (c.outcome) {
      test(`${c.stream}: the SDK raises what ${c.outcome} says`, async () => {
        const { Anthropic, client } = await anthropic();
        const o = readGolden(c.outcome);
        await assert.rejects(client.messages.stream(ASK, golden(c.stream)).finalMessage(), (e) => {
          assert.ok(e instanceof Anthropic.APIError, `${e}`);
          assert.equal(e.status, o.status);
          assert.deepStrictEqual(asJson(e.error), { type: 'error', error: { type: o.type, message: o.message } });
          for (const [k, v] of Object.entries(o.headers ?? {})) assert.equal(e.headers.get(k), v, `header ${k}`);
          return true;
        });
      });
    } else {
      test(`${c.stream}: the SDK raises the error event; what came before starts ${c.prefixOf}`, async () => {
        const { Anthropic, client } = await anthropic();
        const whole = readGolden(c.prefixOf);
        const s = client.messages.stream(ASK, golden(c.stream));
        let snapshot = null;
        s.on('streamEvent', (_e, snap) => { snapshot = asJson(snap); });
        await assert.rejects(s.finalMessage(), (e) => {
          assert.ok(e instanceof Anthropic.APIError, `${e}`);
          assert.equal(e.error?.error?.type, 'api_error');
          return true;
        });
        // Up to the cut: the same message, its one text block a strict prefix of the whole.
        // stop_reason and the final usage come only with message_delta, which a cut run never sends.
        assert.ok(snapshot, 'the stream started');
        const text = snapshot.content.map((b) => b.text).join('');
        const full = whole.content.map((b) => b.text).join('');
        assert.equal(snapshot.content.length, 1);
        assert.ok(text.length > 0 && text.length < full.length && full.startsWith(text),
          `"${text}" is not a strict prefix of "${full}"`);
        for (const k of ['id', 'type', 'role', 'model']) assert.equal(snapshot[k], whole[k], k);
        assert.equal(snapshot.stop_reason, null);
      });
    }
  }
});

// ---- Chat Completions --------------------------------------------------------------------------

// reasoning_content is not an OpenAI field (DeepSeek's, which the proxy follows): the SDK copies
// unknown delta members with Object.assign, so its snapshot holds the last fragment only. The
// golden stream's fragments, joined, are checked against the message instead.
function reasoningFragments(frames) {
  return frames.filter((f) => f.data && typeof f.data === 'object')
    .flatMap((f) => f.data.choices ?? []).map((ch) => ch.delta?.reasoning_content).filter((x) => x !== undefined);
}

describe('chat-*.json through openai ChatCompletionStream', () => {
  for (const c of CHATS) {
    if (c.message) {
      test(`${c.stream}: finalChatCompletion() = ${c.message}`, async () => {
        const { client } = await openai();
        const want = structuredClone(readGolden(c.message).body);
        const st = readGolden(c.stream);
        const body = { model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }], stream: true,
          ...(c.includeUsage ? { stream_options: { include_usage: true } } : {}) };
        const got = asJson(await client.chat.completions.stream(body, golden(c.stream)).finalChatCompletion());
        for (const ch of got.choices) {
          // `parsed` is the SDK's structured-output helper, not wire data.
          assert.equal(ch.message.parsed, null);
          delete ch.message.parsed;
        }
        // system_fingerprint: the SDK keeps it only when truthy; the proxy has none (null).
        assert.equal(want.system_fingerprint, null);
        delete want.system_fingerprint;
        // usage: a stream carries it only when the request asked (stream_options.include_usage).
        if (!c.includeUsage) {
          assert.equal(got.usage, undefined, 'usage in a stream that did not ask for it');
          delete want.usage;
        }
        const wantReasoning = want.choices[0].message.reasoning_content;
        if (wantReasoning !== undefined) {
          const parts = reasoningFragments(st.frames);
          assert.equal(parts.join(''), wantReasoning, 'the reasoning_content fragments add up to the message\'s');
          assert.equal(got.choices[0].message.reasoning_content, parts.at(-1));
          delete got.choices[0].message.reasoning_content;
          delete want.choices[0].message.reasoning_content;
        } else {
          assert.equal(reasoningFragments(st.frames).length, 0);
        }
        assert.deepStrictEqual(got, want, `the SDK rebuilds from ${c.stream} a completion other than ${c.message}`);
      });
    } else {
      test(`${c.stream}: the SDK raises what ${c.outcome} says`, async () => {
        const { OpenAI, client } = await openai();
        const o = readGolden(c.outcome);
        const g = readGolden(c.stream);
        await assert.rejects(client.chat.completions.stream({ model: 'claude-sonnet-4', messages: [
          { role: 'user', content: 'hi' }], stream: true }, golden(c.stream)).finalChatCompletion(), (e) => {
          assert.ok(e instanceof OpenAI.APIError, `${e}`);
          assert.equal(e.status, o.status);
          assert.equal(e.error?.message, o.message);
          assert.deepStrictEqual(asJson(e.error), g.body.error);
          return true;
        });
      });
    }
  }
});

// ---- Responses ---------------------------------------------------------------------------------

describe('resp-*.json through openai ResponseStream', () => {
  for (const c of RESPONSES) {
    test(`${c.stream}: finalResponse() = ${c.message}`, async () => {
      const { client } = await openai();
      const want = readGolden(c.message);
      assert.equal(want.status, 200);
      const st = client.responses.stream({ model: 'claude-sonnet-4', input: 'hi' }, golden(c.stream));
      // A Responses stream repeats each part's whole text after its deltas (output_text.done,
      // content_part.done, output_item.done, response.completed) and finalResponse() is built
      // from those copies: the deltas are held to the result through the SDK's own running
      // snapshot (the `snapshot` of a part's last output_text.delta), and every copy too.
      // A reasoning item's summary likewise (reasoning_summary_text.done, reasoning_summary_part.done,
      // output_item.done); the SDK gives no running snapshot there, so its decoded deltas are joined.
      const deltaText = new Map(), copies = [];
      st.on('response.output_text.delta', (e) => deltaText.set(`${e.output_index}/${e.content_index}`, e.snapshot));
      st.on('event', (e) => {
        const part = `${e.output_index}/${e.content_index}`, summary = `${e.output_index}/s${e.summary_index}`;
        if (e.type === 'response.reasoning_summary_text.delta')
          deltaText.set(summary, (deltaText.get(summary) ?? '') + e.delta);
        if (e.type === 'response.output_text.done') copies.push([part, e.text, e.type]);
        if (e.type === 'response.content_part.done') copies.push([part, e.part.text, e.type]);
        if (e.type === 'response.reasoning_summary_text.done') copies.push([summary, e.text, e.type]);
        if (e.type === 'response.reasoning_summary_part.done') copies.push([summary, e.part.text, e.type]);
        if (e.type === 'response.output_item.done') {
          e.item.content?.forEach((p, i) => copies.push([`${e.output_index}/${i}`, p.text, e.type]));
          e.item.summary?.forEach((p, i) => copies.push([`${e.output_index}/s${i}`, p.text, e.type]));
        }
      });
      const got = asJson(await st.finalResponse());
      const parts = got.output.flatMap((o, oi) => [...(o.content ?? []).map((p, pi) => [`${oi}/${pi}`, p.text]),
        ...(o.summary ?? []).map((p, si) => [`${oi}/s${si}`, p.text])]);
      assert.ok(parts.length > 0, 'a response with text');
      for (const [k, text] of parts) {
        assert.equal(deltaText.get(k), text, `part ${k}: the deltas add up to the final text`);
        const mine = copies.filter(([ck]) => ck === k);
        assert.equal(mine.length, 3, `part ${k}: the two .done events and output_item.done`);
        for (const [, t, type] of mine) assert.equal(t, text, `part ${k}: ${type}`);
      }
      // output_text is the SDK's convenience (the text parts joined), not wire data: checked, then dropped.
      assert.equal(got.output_text, want.body.output.flatMap((o) => o.content ?? [])
        .filter((p) => p.type === 'output_text').map((p) => p.text).join(''));
      delete got.output_text;
      // output_parsed and each text part's `parsed`: the SDK's structured-output helpers (null
      // without a schema), not wire data.
      assert.equal(got.output_parsed, null);
      delete got.output_parsed;
      for (const p of got.output.flatMap((o) => o.content ?? [])) {
        assert.equal(p.parsed, null);
        delete p.parsed;
      }
      assert.deepStrictEqual(got, want.body, `the SDK rebuilds from ${c.stream} a response other than ${c.message}`);
    });
  }
});

// ---- nothing left out --------------------------------------------------------------------------

test('every stream-, chat- and resp- golden is checked here', () => {
  const checked = new Set([...MESSAGES, ...CHATS, ...RESPONSES]
    .flatMap((c) => [c.stream, c.message, c.prefixOf]).filter(Boolean));
  const files = fs.readdirSync(EXPECTED).filter((f) => /^(stream|chat|resp)-.*\.json$/.test(f));
  assert.deepEqual(files.filter((f) => !checked.has(f)), [], 'goldens no SDK check reads');
  for (const f of checked) assert.ok(files.includes(f), `${f} is named here but missing`);
});
