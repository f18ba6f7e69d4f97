// SPDX-License-Identifier: MIT
//
// OpenClaw as a client, with the fake CLI: the bodies OpenClaw's provider library sends on the
// Chat Completions and Responses routes (tests/data/requests/openclaw-*.json; README there says
// where their shape comes from) are accepted, and the CLI gets OpenClaw's whole system prompt,
// its tool-call history as tool_use/tool_result blocks under OpenClaw's own tool names, and its
// last turn. `input_text` parts are read as text on every route, the Messages API included,
// and reach the CLI spelled "text".

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SOURCE_ROOT, conversationLines, messageBody, missing, parseSse, postJson, requireOrSkip, startProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

const REQUESTS = path.join(SOURCE_ROOT, 'tests', 'data', 'requests');
const load = (name) => JSON.parse(fs.readFileSync(path.join(REQUESTS, name), 'utf8'));

// Every content block of the conversation the CLI was given.
const blocksOf = (log) => conversationLines(log).flatMap((l) => l?.message?.content ?? []);

function assertOpenClawConversation(log, systemPrompt) {
  const blocks = blocksOf(log);
  const text = blocks.filter((b) => b.type === 'text').map((b) => b.text).join('\n');
  // The system prompt arrives whole: every section is OpenClaw's contract with the model.
  assert.ok(text.includes(systemPrompt), 'the system prompt is not whole in the first user turn');
  const use = blocks.find((b) => b.type === 'tool_use');
  // History names are the ones the model saw: the client's tools are served as mcp__cp__<name>.
  assert.deepEqual([use?.id, use?.name, use?.input], ['call_oc_1', 'mcp__cp__exec', { command: 'ls' }]);
  const result = blocks.find((b) => b.type === 'tool_result');
  assert.equal(result?.tool_use_id, 'call_oc_1');
  assert.match(JSON.stringify(result.content), /AGENTS\.md/);
  assert.match(text, /OPENCLAW-LAST-TURN/);
  assert.ok(!blocks.some((b) => b.type === 'input_text' || b.type === 'output_text'), 'an OpenAI part type reached the CLI');
}

describe('OpenClaw-shaped requests', () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });

  test('Chat Completions, as pi-ai\'s openai-completions provider sends it', async () => {
    const body = load('openclaw-chat.json');
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const raw = await res.text();
    assert.equal(res.status, 200, raw);
    const frames = parseSse(raw);
    assert.equal(frames.at(-1).data, '[DONE]');
    assert.ok(frames.some((f) => f.data?.usage), 'the usage chunk OpenClaw asks for');
    assertOpenClawConversation(await proxy.waitFakeLogFor('OPENCLAW-LAST-TURN'), body.messages[0].content);
  });

  test('Responses, as pi-ai\'s openai-responses provider sends it (input_text parts)', async () => {
    proxy.clearFakeLogs();
    const body = load('openclaw-responses.json');
    const res = await fetch(`${proxy.url}/v1/responses`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const raw = await res.text();
    assert.equal(res.status, 200, raw);
    assert.match(raw, /response\.completed/);
    assertOpenClawConversation(await proxy.waitFakeLogFor('OPENCLAW-LAST-TURN'), body.input[0].content);
  });

  test('input_text blocks on the Messages API: system, content and tool results', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('unused', {
      system: [{ type: 'input_text', text: 'SYS-INPUT-TEXT' }],
      messages: [
        { role: 'user', content: [{ type: 'input_text', text: 'first' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'exec', input: { command: 'ls' } }] },
        { role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'input_text', text: 'a.txt' }] },
          { type: 'input_text', text: 'INPUT-TEXT-LAST' },
        ] },
      ],
    }));
    assert.equal(r.status, 200, r.text);
    const blocks = blocksOf(await proxy.waitFakeLogFor('INPUT-TEXT-LAST'));
    const json = JSON.stringify(blocks);
    assert.ok(!json.includes('input_text'), json);
    assert.match(json, /SYS-INPUT-TEXT/);
    assert.deepEqual(blocks.find((b) => b.type === 'tool_result').content, [{ type: 'text', text: 'a.txt' }]);
  });
});
