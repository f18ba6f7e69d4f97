// SPDX-License-Identifier: MIT
//
// What reaches the CLI, end to end: SYSTEM_PROMPT_MODE=append|replace hand the client's system
// text to the CLI's prompt-file flags through a memfd on fd 3 (the fake reads the path it is
// given and logs the text), user mode puts it in the first user turn; PDFs and URL media reach
// the CLI's stdin as the blocks the client sent.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  cliSettings, messageBody, missing, requireOrSkip, postJson, startProxy, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

// Multi-line, non-ASCII, quotes, a tab and a trailing newline: what a copy could mangle or trim.
const SYSTEM = 'You are a terse assistant.\n\nRules:\n- Answer in "one" line;\n- ünïcödé ✓ 日本語\n\ttabbed\n';

// The last user line the fake read (the one it answered).
function lastUserLine(log) {
  return log.stdin.filter((l) => l?.type === 'user').at(-1);
}

function promptArgs(log) {
  return log.argv.filter((a) => /system-prompt/.test(a));
}

describe('SYSTEM_PROMPT_MODE', () => {
  // Both paths, each forced: WARM_POOL=0 spawns every CLI cold (the text through the memfd on
  // fd 3, which the fake opens by the path it is given and logs what it read); WARM_POOL=1 with
  // the pooled CLI ready before each request adopts it (the text in the control channel's
  // initialize). Left to timing, either path could go untested.
  for (const [mode, flag] of [['append', '--append-system-prompt-file'], ['replace', '--system-prompt-file']]) {
    for (const path of ['cold', 'pooled']) {
      const via = path === 'cold' ? `through ${flag} /dev/fd/3` : 'in initialize';
      test(`${mode}, ${path} CLI: the system text arrives intact ${via}, not in the user turn`, async () => {
        await withProxy({ env: { SYSTEM_PROMPT_MODE: mode, WARM_POOL: path === 'cold' ? '0' : '1' } }, async (proxy) => {
          const poolReady = () => proxy.waitHealth((h) => h.pool.ready === 1,
            30000, 'the pooled CLI to be ready');
          for (const [what, system, expected] of [
            ['a string', SYSTEM, SYSTEM],
            ['text blocks', [{ type: 'text', text: 'first block' }, { type: 'text', text: SYSTEM }],
              `first block\n\n${SYSTEM}`],
            ['a large one (256 KiB)', 'x'.repeat(256 * 1024 - 3) + 'end', 'x'.repeat(256 * 1024 - 3) + 'end'],
          ]) {
            const marker = `prompt-${mode}-${path}-${what.replace(/\W/g, '')}`;
            if (path === 'pooled') await poolReady();
            const r = await postJson(`${proxy.url}/v1/messages`, messageBody(marker, { system }));
            assert.equal(r.status, 200, r.text);
            const log = await proxy.waitFakeLogFor(marker);
            const cfg = cliSettings(log);
            if (path === 'pooled') {
              // Started without the request's prompt, it gets the text before the conversation.
              assert.ok(cfg.controls.includes('mcp_status'), `${what}: not an adopted pooled CLI: ${JSON.stringify(cfg)}`);
              assert.equal(cfg.via, 'control', `${what}: ${JSON.stringify(cfg)}`);
              assert.deepEqual(promptArgs(log), [], `${what}: ${JSON.stringify(log.argv)}`);
              assert.deepEqual(log.system_prompt_files, []);
              const text = mode === 'append' ? cfg.appendSystemPrompt : cfg.systemPrompt;
              assert.equal(mode === 'append' ? cfg.systemPrompt : cfg.appendSystemPrompt, undefined);
              assert.equal(typeof text, 'string', `${what}: no ${mode} prompt in initialize`);
              assert.equal(text.length, expected.length, `${what}: length`);
              assert.equal(text, expected, `${what}: the text differs`);
            } else {
              assert.ok(!cfg.controls.includes('mcp_status'), `${what}: a pooled CLI with WARM_POOL=0`);
              assert.deepEqual(promptArgs(log), [flag], `${what}: ${JSON.stringify(log.argv)}`);
              assert.equal(log.argv[log.argv.indexOf(flag) + 1], '/dev/fd/3');
              assert.ok(log.inherited.fds.includes(3), `${what}: fd 3 not inherited: ${JSON.stringify(log.inherited)}`);
              assert.equal(log.system_prompt_files.length, 1);
              const f = log.system_prompt_files[0];
              assert.equal(f.flag, flag);
              assert.equal(typeof f.text, 'string', `${what}: the CLI could not read ${f.path}`);
              assert.equal(f.text.length, expected.length, `${what}: length`);
              assert.equal(f.text, expected, `${what}: the text differs`);
              assert.equal(cfg.systemPrompt, undefined, `${what}: the text in initialize too`);
              assert.equal(cfg.appendSystemPrompt, undefined, `${what}: the text in initialize too`);
            }
            // Not also in argv or the user turn: it travels once, out of sight of ps.
            assert.ok(!log.argv.some((a) => a.includes('terse assistant')), 'system text in argv');
            assert.ok(!JSON.stringify(lastUserLine(log)).includes('terse assistant'), 'system text in the user turn');
          }
          // A request without system text passes no prompt file at all.
          if (path === 'pooled') await poolReady();
          const r = await postJson(`${proxy.url}/v1/messages`, messageBody(`no-system-${mode}-${path}`));
          assert.equal(r.status, 200, r.text);
          const log = await proxy.waitFakeLogFor(`no-system-${mode}-${path}`);
          assert.deepEqual(promptArgs(log), []);
          assert.deepEqual(log.system_prompt_files, []);
          const cfg = cliSettings(log);
          assert.equal(cfg.systemPrompt, undefined, 'no system prompt in initialize either');
          assert.equal(cfg.appendSystemPrompt, undefined, 'no appended prompt in initialize either');
        });
      });
    }
  }

  test('user (the default): no prompt flag; the text leads the first user turn', async () => {
    await withProxy({}, async (proxy) => {
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('prompt-user', { system: SYSTEM }));
      assert.equal(r.status, 200, r.text);
      const log = await proxy.waitFakeLogFor('prompt-user');
      assert.deepEqual(promptArgs(log), []);
      assert.ok(JSON.stringify(lastUserLine(log)).includes(JSON.stringify(SYSTEM).slice(1, -1)),
        JSON.stringify(lastUserLine(log)));
    });
  });
});

describe('media reach the CLI', () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });

  // A minimal, valid one-page PDF.
  const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>'
    + 'endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n')
    .toString('base64');
  const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

  const cases = [
    ['a base64 PDF', { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF } }],
    ['a PDF by URL', { type: 'document', source: { type: 'url', url: 'https://example.com/paper.pdf' } }],
    ['a titled PDF with a cache_control', { type: 'document', title: 'Paper', context: 'for review',
      cache_control: { type: 'ephemeral' }, source: { type: 'base64', media_type: 'application/pdf', data: PDF } }],
    ['a plain-text document', { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'some text' } }],
    ['an image by URL', { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png?size=1&x=%20' } }],
    ['a base64 image', { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }],
  ];

  for (const [what, block] of cases) {
    for (const stream of [false, true]) {
      test(`${what} arrives on the CLI's stdin as sent (stream: ${stream})`, async () => {
        const marker = `media-${what.replace(/\W/g, '')}-${stream}`;
        const r = await postJson(`${proxy.url}/v1/messages`, messageBody([block, { type: 'text', text: marker }],
          { stream }));
        assert.equal(r.status, 200, r.text);
        const log = await proxy.waitFakeLogFor(marker);
        const content = lastUserLine(log).message.content;
        assert.ok(Array.isArray(content), JSON.stringify(content));
        assert.deepEqual(content[0], block);
        assert.deepEqual(content[1], { type: 'text', text: marker });
      });
    }
  }

  test('media in an earlier turn of the history reach the CLI too', async () => {
    const block = cases[0][1];
    const r = await postJson(`${proxy.url}/v1/messages`, {
      model: 'claude-sonnet-4-5', max_tokens: 64,
      messages: [
        { role: 'user', content: [block, { type: 'text', text: 'summarise' }] },
        { role: 'assistant', content: 'A one-page PDF.' },
        { role: 'user', content: 'media-history and now?' },
      ],
    });
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('media-history');
    const first = log.stdin.find((l) => l?.type === 'user');
    assert.deepEqual(first.message.content[0], block);
  });
});
