// SPDX-License-Identifier: MIT
//
// The Vercel AI SDK (npm `ai`) as a real client: generateText and streamText through its
// Anthropic provider (/v1/messages), its OpenAI Chat Completions provider (openai.chat,
// /v1/chat/completions) and its OpenAI Responses provider (openai.responses, /v1/responses),
// against the fake CLI. The SDK validates every response and stream part against its own
// schemas of the real APIs, so a shape it does not accept fails here. With a tool that has an
// `execute` and stopWhen, one call makes the whole round trip: the model's call, the client's
// execute, its result back upstream, the final text.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { cliSettings, conversationLines, missing, NODE_DIR, requireOrSkip, startProxy } from './lib/harness.mjs';

const TEXT = 'Hello! I am a scripted mock reply, streamed in several small chunks.';
const MODEL = 'claude-sonnet-4-5';
const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));
const have = (p) => fs.existsSync(path.join(NODE_DIR, 'node_modules', ...p.split('/')));
requireOrSkip(missing() || (!['ai', '@ai-sdk/anthropic', '@ai-sdk/openai', 'zod'].every(have) &&
  'the Vercel AI SDK is missing: run npm ci --prefix tests/node'));

const ai = await import(nodeRequire.resolve('ai'));
const { createAnthropic } = await import(nodeRequire.resolve('@ai-sdk/anthropic'));
const { createOpenAI } = await import(nodeRequire.resolve('@ai-sdk/openai'));
const { z } = await import(nodeRequire.resolve('zod'));

let proxy, anthropic, openai;

before(async () => {
  proxy = await startProxy();
  anthropic = createAnthropic({ baseURL: `${proxy.url}/v1`, apiKey: 'sk-ant-proxy-test' });
  openai = createOpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'sk-proxy-test' });
});

after(async () => { await proxy?.stop(); });

// Every provider's model for one name, so each case runs on all three surfaces.
const surfaces = {
  anthropic: () => anthropic(MODEL),
  'openai.chat': () => openai.chat(MODEL),
  'openai.responses': () => openai.responses(MODEL),
};

async function streamAll(opts) {
  const r = ai.streamText({ ...opts, maxRetries: 0 });
  const parts = [];
  let error = null;
  for await (const p of r.fullStream) {
    parts.push(p);
    if (p.type === 'error') error = p.error;
  }
  if (error) throw error;
  return { parts, text: await r.text, finishReason: await r.finishReason, usage: await r.totalUsage,
    steps: await r.steps };
}

for (const [name, model] of Object.entries(surfaces)) {
  describe(name, () => {
    test('generateText', async () => {
      const r = await ai.generateText({ model: model(), prompt: `Say hello [[fake:text]] ${name}`, maxRetries: 0 });
      assert.equal(r.text, TEXT);
      assert.equal(r.finishReason, 'stop');
      assert.ok(r.usage.inputTokens > 0, JSON.stringify(r.usage));
      assert.ok(r.usage.outputTokens > 0, JSON.stringify(r.usage));
    });

    test('streamText: deltas add up, one finish with usage', async () => {
      const r = await streamAll({ model: model(), prompt: `Say hello [[fake:text]] ${name}` });
      assert.equal(r.text, TEXT);
      assert.ok(r.parts.filter((p) => p.type === 'text-delta').length > 1, 'streamed in several deltas');
      assert.equal(r.parts.filter((p) => p.type === 'finish').length, 1);
      assert.equal(r.finishReason, 'stop');
      assert.ok(r.usage.outputTokens > 0, JSON.stringify(r.usage));
    });

    test('a tool offered: the request is accepted and the model answers in text', async () => {
      const r = await ai.generateText({
        model: model(), prompt: `What is the weather? [[fake:text]] ${name}`, maxRetries: 0,
        tools: { weather: ai.tool({ description: 'The weather in a city', inputSchema: z.object({ city: z.string() }),
          execute: async () => 'sunny' }) },
      });
      assert.equal(r.text, TEXT);
      assert.deepEqual(r.toolCalls, []);
    });

    // A tool round trip in one generateText/streamText call: the fake replays the recorded
    // client-tool run (s2b: the model calls lookup {key: alpha}), the SDK runs the tool's
    // execute, sends its result back, and the second step (the fake's recorded text answer,
    // as no directive is in a turn of tool results) is the final text.
    for (const stream of [false, true])
      test(`a tool round trip with execute and stopWhen (${stream ? 'streamText' : 'generateText'})`, async () => {
        const mark = `vercel-result-${name}-${stream ? 's' : 'g'}`;
        const calls = [];
        const opts = {
          model: model(), prompt: `Look up alpha. [[fake:s2b_park_then_interrupt]] ${name}`, maxRetries: 0,
          stopWhen: ai.stepCountIs(2),
          // openai.responses stores by default and then sends item_reference for the model's
          // earlier items; the proxy stores nothing (a 400 says so), so it must send them.
          ...(name === 'openai.responses' ? { providerOptions: { openai: { store: false } } } : {}),
          tools: { lookup: ai.tool({ description: 'Look up a value by key.', inputSchema: z.object({ key: z.string() }),
            execute: async (input) => { calls.push(input); return `42 ${mark}`; } }) },
        };
        const r = stream ? await streamAll(opts) : await ai.generateText(opts);
        const steps = await r.steps;
        assert.deepEqual(calls, [{ key: 'alpha' }], 'the SDK ran the model\'s call');
        assert.equal(steps.length, 2, JSON.stringify(steps.map((st) => st.finishReason)));
        assert.equal(steps[0].finishReason, 'tool-calls');
        assert.equal(steps[0].toolCalls[0].toolName, 'lookup');
        assert.equal(steps[0].toolResults[0].output, `42 ${mark}`);
        assert.equal(r.text, TEXT);
        assert.equal(r.finishReason, 'stop');

        // The result reached the CLI as a real tool_result for the model's call.
        const log = await proxy.waitFakeLogFor(mark, (l) => l.state === 'exited', 20000);
        const lines = conversationLines(log);
        const asst = lines.find((l) => l.type === 'assistant');
        const use = asst?.message.content.find((b) => b.type === 'tool_use');
        assert.equal(use?.name, 'mcp__cp__lookup', JSON.stringify(lines).slice(0, 2000));
        const result = lines.at(-1).message.content.find((b) => b.type === 'tool_result');
        assert.equal(result?.tool_use_id, use.id);
        assert.match(JSON.stringify(result.content), new RegExp(mark));
      });

    test('a 429 from the CLI is an APICallError with status 429', async () => {
      await assert.rejects(ai.generateText({ model: model(), prompt: `hi [[fake:err_429]] ${name}`, maxRetries: 0 }),
        (e) => {
          const err = ai.APICallError.isInstance(e) ? e : e.lastError ?? e.cause;
          assert.ok(ai.APICallError.isInstance(err), `${e.name}: ${e.message}`);
          assert.equal(err.statusCode, 429);
          return true;
        });
    });
  });
}

describe('reasoning', () => {
  test('anthropic: thinking streams as reasoning before the text', async () => {
    const r = await streamAll({ model: anthropic(MODEL), prompt: 'Say hello [[fake:thinking]] BUDGET-MARK',
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 2048 } } } });
    const kinds = r.parts.map((p) => p.type);
    assert.ok(kinds.includes('reasoning-delta'), kinds.join(' '));
    assert.ok(kinds.indexOf('reasoning-delta') < kinds.indexOf('text-delta'));
    assert.ok(r.text.length > 0);
    const log = await proxy.waitFakeLogFor('BUDGET-MARK');
    assert.equal(cliSettings(log).maxThinkingTokens, 2048);
  });

  test('openai.chat: reasoning_effort reaches the CLI and the answer comes back', async () => {
    const r = await ai.generateText({ model: openai.chat(MODEL), prompt: 'Say hello [[fake:thinking]] EFFORT-MARK',
      providerOptions: { openai: { reasoningEffort: 'high' } }, maxRetries: 0 });
    assert.ok(r.text.length > 0);
    const log = await proxy.waitFakeLogFor('EFFORT-MARK');
    assert.equal(cliSettings(log).effort, 'high');
  });

  for (const stream of [false, true])
    test(`openai.responses: reasoning summaries come back as reasoning (${stream ? 'streamText' : 'generateText'})`, async () => {
      const opts = { model: openai.responses(MODEL), prompt: 'Say hello [[fake:thinking]]',
        // A Claude model id is no reasoning model the SDK knows: forceReasoning makes it send `reasoning`.
        providerOptions: { openai: { forceReasoning: true, reasoningEffort: 'high', reasoningSummary: 'auto' } },
        maxRetries: 0 };
      const r = stream ? await streamAll(opts) : await ai.generateText(opts);
      const reasoning = stream ? r.parts.filter((p) => p.type === 'reasoning-delta').map((p) => p.text).join('')
        : r.reasoningText;
      assert.ok(reasoning && reasoning.length > 0, `no reasoning: ${JSON.stringify(stream ? r.parts.map((p) => p.type) : r.reasoning)}`);
      assert.ok(r.text.length > 0);
    });
});

// Parking (TOOL_PARK_MS): the fake follows s2a_park_tools_call_15s, the recorded run whose
// tools/call was answered (with "value-of-alpha") after a wait; the SDK's second step must
// continue that same process rather than replay the conversation in a new one.
describe('tool round trip with parking on', { concurrency: false }, () => {
  let parked, providers;

  before(async () => {
    parked = await startProxy({ env: { TOOL_PARK_MS: '60000' } });
    providers = {
      anthropic: createAnthropic({ baseURL: `${parked.url}/v1`, apiKey: 'sk-ant-proxy-test' }),
      openai: createOpenAI({ baseURL: `${parked.url}/v1`, apiKey: 'sk-proxy-test' }),
    };
  });
  after(async () => { await parked?.stop(); });

  const parkedModels = {
    anthropic: () => providers.anthropic(MODEL),
    'openai.chat': () => providers.openai.chat(MODEL),
    'openai.responses': () => providers.openai.responses(MODEL),
  };
  for (const [name, model] of Object.entries(parkedModels))
    test(`${name}: the second step continues the parked process`, async () => {
      const mark = `vercel-park-${name}`;
      const calls = [];
      const r = await ai.generateText({
        model: model(), prompt: `Look up alpha. [[fake:s2a_park_tools_call_15s]] ${mark}`, maxRetries: 0,
        stopWhen: ai.stepCountIs(2),
        ...(name === 'openai.responses' ? { providerOptions: { openai: { store: false } } } : {}),
        tools: { lookup: ai.tool({ description: 'Look up a value by key.', inputSchema: z.object({ key: z.string() }),
          execute: async (input) => { calls.push(input); return 'value-of-alpha'; } }) },
      });
      assert.deepEqual(calls, [{ key: 'alpha' }]);
      assert.equal(r.text, 'The value is value-of-alpha.');
      const log = await parked.waitFakeLogFor(mark, (l) => l.state === 'exited', 20000);
      assert.deepEqual(log.tool_answer?.result, { content: [{ type: 'text', text: 'value-of-alpha' }], isError: false },
        JSON.stringify(log.tool_answer));
      assert.equal(parked.fakeLogs().filter((l) => JSON.stringify(l.stdin).includes(mark)).length, 1,
        'no second process for the second step');
    });
});
