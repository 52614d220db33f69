/** UIDs (PS3.5 9.1): what we accept when reading, what we write, and deterministic UIDs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deterministicUid, isValidUid, newUid, readUid } from '../src/dicom/uid.js';

test('a valid UID is digits and dots, no leading zero in a component, 1 to 64 characters', () => {
  for (const uid of ['0', '1.2.840.10008.1.2.1', '2.25.0', `1.${'2'.repeat(62)}`]) assert.equal(isValidUid(uid), true, uid);
  for (const uid of ['', '1.02.3', '1..2', '.1', '1.', '1.2a', 'a', '1.2.3 ', `1.${'2'.repeat(63)}`]) assert.equal(isValidUid(uid), false, JSON.stringify(uid));
});

test('readUid trims the padding real files carry and refuses what is no UID', () => {
  assert.equal(readUid('1.2.3\0', 'StudyInstanceUID'), '1.2.3');
  assert.equal(readUid(' 1.2.3 ', 'StudyInstanceUID'), '1.2.3');
  assert.equal(readUid('1.2.3 \0\0', 'StudyInstanceUID'), '1.2.3', 'a run of mixed padding');
  // Odd but real (older archives): kept verbatim, never written by us.
  assert.equal(readUid('1.02.3', 'SeriesInstanceUID'), '1.02.3');
  assert.throws(() => readUid(undefined, 'StudyInstanceUID'), /StudyInstanceUID is missing or not a string/);
  assert.throws(() => readUid(' \0', 'SeriesInstanceUID'), /SeriesInstanceUID is empty or longer than 64 characters/);
  assert.throws(() => readUid(`1.${'2'.repeat(63)}`, 'SOPInstanceUID'), /SOPInstanceUID is empty or longer/);
  assert.equal(readUid(`1.${'2'.repeat(62)}`, 'SOPInstanceUID').length, 64);
});

test('new and deterministic UIDs are valid 2.25 UIDs; deterministic ones depend on every part and its boundaries', () => {
  const fresh = [newUid(), newUid()];
  for (const uid of fresh) assert.match(uid, /^2\.25\.[1-9][0-9]*$/);
  assert.notEqual(fresh[0], fresh[1]);
  const a = deterministicUid('study', 1);
  assert.equal(a, deterministicUid('study', '1'), 'numbers and their text are the same part');
  assert.ok(isValidUid(a) && a.startsWith('2.25.'), a);
  assert.notEqual(deterministicUid('ab', 'c'), deterministicUid('a', 'bc'), 'parts are kept apart');
  assert.notEqual(deterministicUid('study', 1), deterministicUid('study', 2));
  // The 128-bit integer of the hash, not a truncated one: some UIDs reach 39 digits after "2.25.".
  const lengths = Array.from({ length: 64 }, (_, k) => deterministicUid('length', k).length - 5);
  assert.ok(Math.max(...lengths) >= 38, `longest ${Math.max(...lengths)} digits`);
});
