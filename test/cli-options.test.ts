import { test } from 'node:test';
import assert from 'node:assert/strict';
import { integerOption, parseIntegerOption } from '../src/cli/integer-option.js';

test('integer flags accept integers within their range and name the flag otherwise', () => {
  assert.equal(parseIntegerOption('8', '--threads', { min: 1 }), 8);
  assert.equal(parseIntegerOption(' 0 ', '--seed', { min: 0 }), 0);
  assert.equal(integerOption('--port', { min: 1, max: 65535 })('4242'), 4242);
  assert.throws(() => parseIntegerOption('0', '--threads', { min: 1 }), /^Error: --threads must be a positive integer, got '0'$/);
  assert.throws(() => parseIntegerOption('-1', '--seed', { min: 0 }), /--seed must be a non-negative integer, got '-1'/);
  assert.throws(() => parseIntegerOption('2.5', '--slices', { min: 2, max: 30 }), /--slices must be an integer from 2 to 30, got '2.5'/);
  assert.throws(() => parseIntegerOption('31', '--slices', { min: 2, max: 30 }), /from 2 to 30/);
  assert.throws(() => parseIntegerOption('', '--port'), /--port must be an integer, got ''/);
  assert.throws(() => parseIntegerOption('eight', '--concurrency', { min: 1 }), /--concurrency must be a positive integer, got 'eight'/);
});
