import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ahaSegment, maximalWallThickness } from '../src/analysis/wall-thickness.js';
import type { LabelMap } from '../src/study/types.js';
import { LV, MYO, RV, makeImage } from './analysis-fixtures.js';

const SIZE = 128;
const CENTRE = 64;
const LABELS = { lv: LV, myo: MYO, rv: RV };

/**
 * One ED short-axis slice (1 mm pixels, axial orientation: anterior is up, the RV to the image's left):
 * LV cavity radius 20 mm, wall to 28 mm (8 mm thick), plus a thicker wall (to 20 + `thick` mm) within
 * +/- 40 degrees of `towardsDegrees` (0 = image right, 90 = down, 180 = left (septum), 270 = up (anterior)).
 */
function slice(s: number, bump?: { towardsDegrees: number; thick: number }): LabelMap {
  const labels = new Uint8Array(SIZE * SIZE);
  for (let r = 0; r < SIZE; r++) {
    for (let c = 0; c < SIZE; c++) {
      const dx = c - CENTRE;
      const dy = r - CENTRE;
      const d = Math.hypot(dx, dy);
      const angle = ((Math.atan2(dy, dx) * 180) / Math.PI + 360) % 360;
      const off = bump ? Math.abs(((angle - bump.towardsDegrees + 540) % 360) - 180) : 999;
      const outer = off <= 40 ? 20 + bump!.thick : 28;
      if (d < 20) labels[r * SIZE + c] = LV;
      else if (d < outer) labels[r * SIZE + c] = MYO;
      else if (c >= 6 && c <= 16 && r >= 50 && r <= 78) labels[r * SIZE + c] = RV;
    }
  }
  return { image: makeImage({ rows: SIZE, columns: SIZE, pixelSpacing: [1, 1] }, s, 0, s * 8), labels };
}

describe('maximal end-diastolic wall thickness', () => {
  it('measures a uniform 8 mm wall to within a pixel', () => {
    const result = maximalWallThickness(Array.from({ length: 9 }, (_, s) => slice(s)), LABELS)!;
    assert.ok(Math.abs(result.maxMm - 8) <= 1, `max ${result.maxMm}`);
  });

  it('finds an 18 mm septal bulge on a mid slice and names a mid septal segment', () => {
    const maps = Array.from({ length: 9 }, (_, s) => slice(s, s === 4 ? { towardsDegrees: 180, thick: 18 } : undefined));
    const result = maximalWallThickness(maps, LABELS)!;
    assert.ok(Math.abs(result.maxMm - 18) <= 1, `max ${result.maxMm}`);
    assert.equal(result.slice, 4);
    assert.ok(result.segment === 8 || result.segment === 9, `segment ${result.segment}`);
    assert.match(result.segmentName!, /^mid (antero|infero)septal$/);
  });

  it('places anterior and inferior walls by the patient orientation, and the level by the larger (basal) cavity end', () => {
    const anterior = maximalWallThickness(Array.from({ length: 9 }, (_, s) => slice(s, s === 0 ? { towardsDegrees: 270, thick: 16 } : undefined)), LABELS)!;
    assert.equal(anterior.segment, 1, `anterior bulge on slice 0 -> ${anterior.segmentName}`);
    const inferior = maximalWallThickness(Array.from({ length: 9 }, (_, s) => slice(s, s === 8 ? { towardsDegrees: 90, thick: 16 } : undefined)), LABELS)!;
    assert.equal(inferior.segment, 15, `inferior bulge on the last slice -> ${inferior.segmentName}`);
  });

  it('maps angles from the septum to the AHA 17-segment model', () => {
    assert.equal(ahaSegment('basal', 30), 2);
    assert.equal(ahaSegment('basal', -30), 3);
    assert.equal(ahaSegment('mid', 90), 7);
    assert.equal(ahaSegment('mid', 150), 12);
    assert.equal(ahaSegment('mid', -150), 11);
    assert.equal(ahaSegment('mid', -90), 10);
    assert.equal(ahaSegment('apical', 0), 14);
    assert.equal(ahaSegment('apical', 180), 16);
  });

  it('returns nothing when no slice has both cavity and wall', () => {
    const empty = { image: makeImage({ rows: 8, columns: 8, pixelSpacing: [1, 1] }, 0, 0, 0), labels: new Uint8Array(64) };
    assert.equal(maximalWallThickness([empty], LABELS), undefined);
  });
});
