/** Values copied from the source into our objects are sanitised to their VR, and the change is reported without the value. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyValues, cutToCharacters, describeSanitised, isValidDa, isValidTm } from '../src/dicom/modules/copied-values.js';
import { checkCreatedUid, checkReferencedUid } from '../src/dicom/modules/sop-class.js';
import { BadInputError } from '../src/core/errors.js';

test('DA accepts real calendar dates only', () => {
  for (const ok of ['20240229', '19000101', '00010101']) assert.equal(isValidDa(ok), true, ok);
  for (const bad of ['00000000', '20230229', '20241301', '2024-01-01', '2024010', '20240100']) assert.equal(isValidDa(bad), false, bad);
});

test('TM accepts HH, HHMM, HHMMSS and fractions; refuses 25 hours or 61 minutes', () => {
  for (const ok of ['09', '0930', '093015', '093015.123456', '235960']) assert.equal(isValidTm(ok), true, ok);
  for (const bad of ['256199', '0961', '09:30:00', '093015.1234567', '']) assert.equal(isValidTm(bad), false, bad);
});

test('an invalid Type 2 date becomes empty and a Type 3 one is left out; neither value is reported', () => {
  const { attributes, sanitised } = copyValues({ PatientBirthDate: '00000000', StudyTime: '256199', PatientAge: '41 years', PatientSex: 'male' }, ['PatientBirthDate', 'StudyTime', 'PatientSex'], ['PatientAge']);
  assert.equal(attributes.PatientBirthDate, '');
  assert.equal(attributes.StudyTime, '');
  assert.equal(attributes.PatientSex, '');
  assert.equal('PatientAge' in attributes, false);
  assert.deepEqual(describeSanitised(sanitised), ['PatientBirthDate emptied (invalid DA)', 'StudyTime emptied (invalid TM)', 'PatientSex emptied (invalid CS)', 'PatientAge omitted (invalid AS)']);
  for (const line of describeSanitised(sanitised)) assert.doesNotMatch(line, /00000000|256199|male|41 years/);
});

test('over-long values are cut at a character boundary, never inside a character', () => {
  const name = `${'É'.repeat(63)}😀😀`; // 65 characters, the last two outside the BMP
  const { attributes, sanitised } = copyValues({ PatientName: [{ Alphabetic: name }], StudyDescription: 'x'.repeat(70), AccessionNumber: 'A'.repeat(20) }, ['PatientName', 'AccessionNumber'], ['StudyDescription']);
  const written = (attributes.PatientName as Array<{ Alphabetic: string }>)[0]!.Alphabetic;
  assert.equal(Array.from(written).length, 64);
  assert.ok(written.endsWith('😀'), 'the surrogate pair stays whole');
  assert.equal((attributes.StudyDescription as string).length, 64);
  assert.equal(attributes.AccessionNumber, 'A'.repeat(16));
  assert.deepEqual(sanitised.map((s) => `${s.keyword}:${s.action}`), ['PatientName:truncated', 'AccessionNumber:truncated', 'StudyDescription:truncated']);
  assert.equal(cutToCharacters('ab😀c', 3), 'ab😀');
});

test('valid values pass unchanged and missing Type 2 ones are written empty', () => {
  const source = { PatientID: 'P1', PatientBirthDate: '19700101', StudyTime: '093000.5', PatientSize: 1.8, PatientAge: '054Y' };
  const { attributes, sanitised } = copyValues(source, ['PatientID', 'PatientBirthDate', 'StudyTime', 'StudyID'], ['PatientSize', 'PatientAge', 'StudyDescription']);
  assert.deepEqual(attributes, { PatientID: 'P1', PatientBirthDate: '19700101', StudyTime: '093000.5', StudyID: '', PatientSize: 1.8, PatientAge: '054Y' });
  assert.deepEqual(sanitised, []);
});

test('referenced UIDs pass as the source holds them; created UIDs must be valid', () => {
  const leadingZero = '2.16.124.113543.6006.99.0898.1';
  assert.equal(checkReferencedUid(leadingZero, 'StudyInstanceUID'), leadingZero);
  assert.throws(() => checkCreatedUid(leadingZero, 'sopInstanceUID'), /sopInstanceUID is not a valid UID/);
  assert.throws(() => checkReferencedUid('', 'StudyInstanceUID', '1.2'), (e: unknown) => e instanceof BadInputError && /StudyInstanceUID is missing/.test(e.message));
  assert.throws(() => checkReferencedUid(`1.${'2'.repeat(70)}`, 'SOPInstanceUID'), /longer than 64/);
  assert.throws(() => checkReferencedUid('1.2\\3.4', 'SOPInstanceUID'), /backslash/);
});
