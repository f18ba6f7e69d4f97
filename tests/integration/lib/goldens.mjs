// SPDX-License-Identifier: MIT
//
// The golden files of tests/data/expected/, shared by the files that compare the daemon's replies
// with them (test-goldens.mjs, test-openai.mjs) and the one that checks them on their own
// (test-goldens-sdk.mjs). TEST_UPDATE_GOLDEN=1 makes checkGolden() write instead of compare.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { SOURCE_ROOT } from './harness.mjs';

export const EXPECTED = path.join(SOURCE_ROOT, 'tests', 'data', 'expected');
export const UPDATE = !!process.env.TEST_UPDATE_GOLDEN;

// Keys in order at every level: a golden's diff shows content, not member order.
export function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

export function readGolden(file) {
  return JSON.parse(fs.readFileSync(path.join(EXPECTED, file), 'utf8'));
}

// Compare with the golden, or (TEST_UPDATE_GOLDEN=1) write it.
export function checkGolden(file, actual) {
  const p = path.join(EXPECTED, file);
  if (UPDATE) {
    fs.writeFileSync(p, `${JSON.stringify(sortKeys(actual), null, 2)}\n`);
    return;
  }
  assert.ok(fs.existsSync(p), `${file} is missing: run with TEST_UPDATE_GOLDEN=1 and review it`);
  assert.deepStrictEqual(actual, readGolden(file), `the proxy's reply differs from ${file}`);
}

// A Responses reply with what is random per request fixed: resp_ ids and the item ids made from
// them (their form checked), created_at.
export function normaliseResp(v) {
  if (Array.isArray(v)) return v.map(normaliseResp);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'id' || k === 'item_id') && typeof x === 'string') {
        assert.match(x, /^(resp|msg|rs)_[A-Za-z0-9]{24}(_\d+)?$/, `${k} ${x}`);
        o[k] = x.replace(/^(resp|msg|rs)_[A-Za-z0-9]{24}/, '$1_NORMALISED');
      } else if (k === 'created_at' && typeof x === 'number') o[k] = 0;
      else o[k] = normaliseResp(x);
    }
    return o;
  }
  return v;
}
