import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/pulse.js', import.meta.url));

test('pulse --help lists every subcommand', () => {
  const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  for (const name of ['synth', 'import-nifti', 'upload', 'infer', 'eval', 'serve']) {
    assert.match(out, new RegExp(`^\\s+${name}\\b`, 'm'), `missing subcommand ${name}`);
  }
});
