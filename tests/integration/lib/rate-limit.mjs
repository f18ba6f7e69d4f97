// SPDX-License-Identifier: MIT
//
// Recorded rate-limit transcripts with their reset time moved: the recorded rejection resets at
// a fixed instant long past, a test needs one a few seconds from now.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { TRANSCRIPTS } from './harness.mjs';

export const RECORDED_RESET = 1795529999;

// Into `dir`: `name` made from the recorded transcript `recorded`, its rate_limit_event's
// resetsAt set to `resetsAt` (unix seconds).
export function transcriptsWith(dir, name, recorded, resetsAt) {
  const ndjson = fs.readFileSync(path.join(TRANSCRIPTS, `${recorded}.ndjson`), 'utf8');
  assert.ok(ndjson.includes(`"resetsAt":${RECORDED_RESET}`), `${recorded} has the recorded resetsAt`);
  fs.writeFileSync(path.join(dir, `${name}.ndjson`),
    ndjson.replaceAll(`"resetsAt":${RECORDED_RESET}`, `"resetsAt":${resetsAt}`));
  fs.copyFileSync(path.join(TRANSCRIPTS, `${recorded}.meta.json`), path.join(dir, `${name}.meta.json`));
}
