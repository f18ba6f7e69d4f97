// SPDX-License-Identifier: MIT
/*
 * The warm pool's premise, checked on the recorded runs of the real CLI (tests/data/transcripts,
 * re-record with tests/record/record.mjs): a per-request setting applied late over the control
 * channel gives the same upstream request as the same setting passed as argv, except a model
 * *change*, which leaves the /model command's record in the conversation. cli/control.h keys the
 * pool on this; a new CLI version that breaks it must fail here, not leak into requests.
 *
 * Reads files only (no CLI, no daemon).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.env.SOURCE_ROOT || path.resolve(here, '../..');
const dir = path.join(root, 'tests/data/transcripts');

/* The last POST /v1/messages of a run, minus what differs between any two runs. */
function upstream(name) {
        const reqs = JSON.parse(fs.readFileSync(path.join(dir, `${name}.upstream.json`), 'utf8'));
        const posts = reqs.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
        assert.ok(posts.length > 0, `${name}: no upstream request`);
        const body = structuredClone(posts.at(-1).body);
        delete body.metadata;                   /* device and session ids */
        /* Each run has its own temp HOME and cwd, named after the scenario; the system prompt shows both. */
        const text = JSON.stringify(body)
                .replace(/\/tmp\/rec-(home|cwd)-[A-Za-z0-9_]+-[A-Za-z0-9]{6}/g, '/tmp/rec-$1-X')
                .replace(/-tmp-rec-cwd-[A-Za-z0-9-]+/g, '-tmp-rec-cwd-X');
        return { body: JSON.parse(text), beta: posts.at(-1).headers['anthropic-beta'] };
}

/* Does the first user message carry the /model command's record? */
function has_model_record(body) {
        const first = body.messages[0].content;
        return Array.isArray(first) && first.some((b) => typeof b.text === 'string' &&
                                                        b.text.includes('<local-command-stdout>Set model to'));
}

const SAME = [
        ['warm_effort', 'cold_effort'],
        ['warm_effort_max', 'cold_effort_max'],
        ['warm_thinking_off', 'cold_thinking_off'],
        ['warm_keyed_model_thinking_budget', 'cold_thinking_budget'],
        ['warm_system_replace', 'cold_system_replace'],
        ['warm_system_append', 'cold_system_append'],
        ['warm_keyed_model_pipelined', 'cold_all'],
        ['warm_keyed_model_idle_60s', 'cold_all'],
        ['warm_keyed_model_probe', 'cold_all'],
        ['warm_keyed_model_same_set_model', 'cold_model_id'],
        ['warm_initialize_empty', 'warm_default'],
];

/* Model switched late: right model, settings, system, but the /model record in the messages. */
const MODEL_CHANGED = [
        ['warm_set_model_alias', 'cold_model_alias'],
        ['warm_set_model_id', 'cold_model_id'],
        ['warm_model_flag_settings', 'cold_model_id'],
        ['warm_model_alias_flag_settings', 'cold_model_alias'],
        ['warm_thinking_budget', 'cold_thinking_budget'],
        ['warm_all_pipelined', 'cold_all'],
        ['warm_all_flag_settings_pipelined', 'cold_all'],
];

for (const [warm, cold] of SAME) {
        test(`${warm}: upstream request equals ${cold}`, () => {
                const w = upstream(warm);
                const c = upstream(cold);
                assert.deepEqual(w.body, c.body);
                assert.equal(w.beta, c.beta);
        });
}

for (const [warm, cold] of MODEL_CHANGED) {
        test(`${warm}: a late model change adds the /model record, the rest equals ${cold}`, () => {
                const w = upstream(warm);
                const c = upstream(cold);
                assert.ok(has_model_record(w.body), 'the /model record is in the first user message');
                assert.ok(!has_model_record(c.body));
                for (const k of ['model', 'max_tokens', 'thinking', 'output_config', 'tools'])
                        assert.deepEqual(w.body[k], c.body[k], k);
                /* system[0] is the billing header, whose hash covers the messages */
                assert.deepEqual(w.body.system.slice(1), c.body.system.slice(1));
                assert.equal(w.beta, c.beta);
        });
}

test('thinking off through apply_flag_settings alwaysThinkingEnabled does nothing', () => {
        assert.deepEqual(upstream('warm_thinking_off_flag_settings').body, upstream('warm_default').body);
        assert.deepEqual(upstream('cold_thinking_off').body.thinking, { type: 'disabled' });
});

test('a process spawned without settings runs the defaults the pool starts from', () => {
        const { body } = upstream('warm_default');
        assert.equal(body.model, 'claude-opus-4-8');
        assert.deepEqual(body.thinking, { type: 'adaptive' });
        assert.deepEqual(body.output_config, { effort: 'high' });
});
