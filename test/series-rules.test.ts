// Series-selection rules are validated configuration: each bound and default says what a site may set
// and what the reader then accepts. These tests pin the schema's edges (the survivors of the
// series-rules mutation run, docs/testing.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSeriesSelectionRules, parseSeriesSelectionRules, seriesMetadataRejection } from '../src/study/series-rules.js';

function refuses(input: unknown, field: string): void {
  assert.throws(() => parseSeriesSelectionRules(input), (error: unknown) => {
    assert.match(String((error as Error).message), new RegExp(field));
    return true;
  });
}

function excludedByDefault(description: string): boolean {
  return defaultSeriesSelectionRules.seriesDescriptionExclude.some((p) => new RegExp(p, 'iu').test(description));
}

describe('series-selection rules', () => {
  it('default to MR and Enhanced MR cine stacks of at least 3 slices and 2 phases, preferring a short-axis stack', () => {
    const rules = parseSeriesSelectionRules({});
    assert.deepEqual(rules.modalities, ['MR']);
    assert.deepEqual(rules.sopClassUIDs, ['1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.4.1']);
    assert.deepEqual(rules.seriesDescriptionInclude, []);
    assert.equal(rules.orientation, 'prefer-short-axis');
    assert.equal(rules.minSlices, 3);
    assert.equal(rules.minPhases, 2);
    assert.equal(rules.maxAxisAlignmentDeg, 10);
    assert.equal(rules.orientationToleranceDeg, 2);
    assert.equal(rules.triggerTimeToleranceMs, 5);
    assert.equal(rules.slicePositionToleranceMm, 0.5);
  });

  it('exclude localizers, LGE and parametric maps, and our own outputs by default, but not a cine', () => {
    for (const d of ['Localizer', 'tri-pilot', 'LGE SA', 'PSIR short axis', 'T1 map', 'MOLLI 5(3)3', 'PULSE automated segmentation (not reviewed)']) {
      assert.ok(excludedByDefault(d), `${d} should be excluded`);
    }
    for (const d of ['SA cine', 'cine_retro_sax', 'TrueFISP short axis', '']) {
      assert.ok(!excludedByDefault(d), `${d} should be kept`);
    }
  });

  it('accept several modalities and SOP classes, and every orientation mode', () => {
    const rules = parseSeriesSelectionRules({ modalities: ['MR', 'CT'], sopClassUIDs: ['1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.2'] });
    assert.deepEqual(rules.modalities, ['MR', 'CT']);
    assert.equal(rules.sopClassUIDs.length, 2);
    for (const orientation of ['short-axis', 'prefer-short-axis', 'any'] as const) {
      assert.equal(parseSeriesSelectionRules({ orientation }).orientation, orientation);
    }
  });

  it('refuse empty lists and empty entries', () => {
    refuses({ modalities: [] }, 'modalities');
    refuses({ modalities: [''] }, 'modalities');
    refuses({ sopClassUIDs: [] }, 'sopClassUIDs');
    refuses({ sopClassUIDs: [''] }, 'sopClassUIDs');
  });

  it('refuse a description pattern the reader could not compile (it matches case-insensitively in unicode mode)', () => {
    refuses({ seriesDescriptionExclude: ['(unclosed'] }, 'not a valid regular expression');
    // Valid without the unicode flag, invalid with it: the reader would throw at match time.
    refuses({ seriesDescriptionInclude: ['\\-'] }, 'not a valid regular expression');
    assert.deepEqual(parseSeriesSelectionRules({ seriesDescriptionInclude: ['cine|sax'] }).seriesDescriptionInclude, ['cine|sax']);
  });

  it('hold angles, counts and tolerances within their ranges', () => {
    refuses({ maxAxisAlignmentDeg: -1 }, 'maxAxisAlignmentDeg');
    refuses({ maxAxisAlignmentDeg: 46 }, 'maxAxisAlignmentDeg');
    assert.equal(parseSeriesSelectionRules({ maxAxisAlignmentDeg: 0 }).maxAxisAlignmentDeg, 0);
    assert.equal(parseSeriesSelectionRules({ maxAxisAlignmentDeg: 45 }).maxAxisAlignmentDeg, 45);
    refuses({ orientationToleranceDeg: -0.5 }, 'orientationToleranceDeg');
    refuses({ orientationToleranceDeg: 21 }, 'orientationToleranceDeg');
    assert.equal(parseSeriesSelectionRules({ orientationToleranceDeg: 0 }).orientationToleranceDeg, 0);
    assert.equal(parseSeriesSelectionRules({ orientationToleranceDeg: 20 }).orientationToleranceDeg, 20);
    refuses({ minPhases: 0 }, 'minPhases');
    assert.equal(parseSeriesSelectionRules({ minPhases: 1 }).minPhases, 1);
    refuses({ minSlices: 1 }, 'minSlices');
    refuses({ minSlices: 2.5 }, 'minSlices');
    assert.equal(parseSeriesSelectionRules({ minSlices: 12 }).minSlices, 12);
    refuses({ triggerTimeToleranceMs: -1 }, 'triggerTimeToleranceMs');
    assert.equal(parseSeriesSelectionRules({ triggerTimeToleranceMs: 0 }).triggerTimeToleranceMs, 0);
    assert.equal(parseSeriesSelectionRules({ triggerTimeToleranceMs: 30 }).triggerTimeToleranceMs, 30);
    refuses({ slicePositionToleranceMm: 0 }, 'slicePositionToleranceMm');
  });

  it('refuse a setting it does not know, by name', () => {
    refuses({ minSlice: 3 }, 'minSlice');
  });
});

describe('the metadata rules a series must pass', () => {
  const cine = { modality: 'MR', sopClassUIDs: ['1.2.840.10008.5.1.4.1.1.4'], seriesDescription: 'SA cine' };

  it('pass a short-axis MR cine, whatever the case of its modality', () => {
    assert.equal(seriesMetadataRejection(cine, defaultSeriesSelectionRules), undefined);
    assert.equal(seriesMetadataRejection({ ...cine, modality: 'mr' }, defaultSeriesSelectionRules), undefined);
  });

  it('name the modality, the SOP class or the pattern that rejects a series', () => {
    assert.equal(seriesMetadataRejection({ ...cine, modality: 'CT' }, defaultSeriesSelectionRules), 'Modality CT is not one of MR');
    assert.equal(seriesMetadataRejection({ ...cine, modality: '' }, defaultSeriesSelectionRules), 'Modality (none) is not one of MR');
    assert.match(seriesMetadataRejection({ ...cine, sopClassUIDs: ['1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.66.4'] }, defaultSeriesSelectionRules) ?? '', /SOPClassUID 1\.2\.840\.10008\.5\.1\.4\.1\.1\.66\.4 is not an accepted image class/);
    assert.match(seriesMetadataRejection({ ...cine, seriesDescription: 'LGE PSIR' }, defaultSeriesSelectionRules) ?? '', /matches exclude pattern/);
    const onlySax = parseSeriesSelectionRules({ seriesDescriptionInclude: ['sax'] });
    assert.match(seriesMetadataRejection(cine, onlySax) ?? '', /matches no include pattern/);
    assert.equal(seriesMetadataRejection({ ...cine, seriesDescription: 'cine SAX' }, onlySax), undefined);
  });

  it('accept any of several modalities and include patterns, and list them when none matches', () => {
    const wide = parseSeriesSelectionRules({ modalities: ['MR', 'US'], seriesDescriptionInclude: ['sax', 'cine'] });
    assert.equal(seriesMetadataRejection({ ...cine, modality: 'US' }, wide), undefined);
    assert.equal(seriesMetadataRejection({ ...cine, modality: 'CT' }, wide), 'Modality CT is not one of MR, US');
    assert.equal(seriesMetadataRejection({ ...cine, seriesDescription: 'SAX stack' }, wide), undefined);
  });
});
