import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOverlay, overlayLines, overlayUids, midVentricularSlice } from '../src/dicom/overlay/sop.js';
import { glyph } from '../src/dicom/overlay/font.js';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { buildFixture, fixtureResult, LV, SEGMENTS } from './seg-sr-fixtures.js';
import { dciodvfy } from './support/validators.js';

const algorithm = { name: 'pulse-lite', version: '1.0.0', calibration: null };
const fixture = buildFixture({ rows: 40, columns: 52, slices: 5, seed: 'overlay' });
for (const row of fixture.labelMaps) for (const m of row) m.image.pixels.forEach((_, i, a) => (a[i] = (i * 7919) % 1000));
const result = fixtureResult(fixture);

function build() {
  return buildOverlay({
    context: fixture.context,
    labelMaps: fixture.labelMaps,
    result,
    segments: SEGMENTS,
    algorithm,
    ...overlayUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
    contentDateTime: new Date(Date.UTC(2024, 0, 2)),
  });
}

test('the overlay is a valid multi-frame true colour SC with ED and ES frames and says it is not for diagnosis', () => {
  const overlay = build();
  const report = dciodvfy(overlay.bytes);
  assert.deepEqual(report.errors, [], report.output);
  const ds = readPart10(overlay.bytes);
  assert.equal(ds.SOPClassUID, '1.2.840.10008.5.1.4.1.1.7.4');
  assert.equal(Number(ds.NumberOfFrames), 2);
  assert.deepEqual(ds.FrameLabelVector, ['ED', 'ES']);
  assert.equal(ds.BurnedInAnnotation, 'YES');
  assert.match(ds.SeriesDescription, /automated.*not for diagnosis/i);
  assert.equal(ds.StudyInstanceUID, fixture.context.studyInstanceUID);
  const pixels = new Uint8Array(ds.PixelData[0]);
  assert.equal(pixels.length, ds.Rows * ds.Columns * 3 * 2);
});

test('contours are drawn in the segment colours on the mid-ventricular slice', () => {
  const overlay = build();
  assert.equal(overlay.slice, midVentricularSlice(fixture.labelMaps, result.phases.ed, LV));
  const frame = overlay.frames[0]!;
  const count = (rgb: readonly number[]): number => {
    let n = 0;
    for (let i = 0; i < frame.data.length; i += 3) if (frame.data[i] === rgb[0] && frame.data[i + 1] === rgb[1] && frame.data[i + 2] === rgb[2]) n++;
    return n;
  };
  for (const segment of SEGMENTS) assert.ok(count(segment.color) > 0, `${segment.key} contour drawn`);
  // The banner below the image holds burned-in text (white pixels).
  const bannerStart = fixture.labelMaps[0]![0]!.image.plane.rows * (frame.width / fixture.labelMaps[0]![0]!.image.plane.columns);
  let white = 0;
  for (let y = bannerStart; y < frame.height; y++) for (let x = 0; x < frame.width; x++) if (frame.data[(y * frame.width + x) * 3] === 255 && frame.data[(y * frame.width + x) * 3 + 2] === 255) white++;
  assert.ok(white > 50, 'text burned in');
});

test('burned-in numbers come straight from the result', () => {
  const lines = overlayLines(result, 'ED', algorithm).join(' ');
  for (const key of ['lvef_pct', 'rvef_pct', 'lvedv_ml', 'lvesv_ml', 'rvedv_ml', 'rvesv_ml', 'lv_mass_g']) assert.ok(lines.includes(String(result.measurements[key])), key);
  assert.match(lines, /NOT FOR DIAGNOSIS/);
});

test('every character the overlay writes has its own glyph', () => {
  const text = overlayLines(result, 'ES', algorithm).join('');
  for (const ch of new Set(text)) assert.notDeepEqual(glyph(ch), glyph('?'), `glyph for '${ch}'`);
  const digits = [...'0123456789'].map((d) => glyph(d).join(','));
  assert.equal(new Set(digits).size, 10);
});
