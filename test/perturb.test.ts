/**
 * The robustness evaluation's perturbations (pipeline/perturb.ts, issue 14 item 3) on small synthetic
 * stacks: labels move with the image, flips undo themselves, the geometry stays consistent, partial
 * coverage drops the right slices, and the random ones repeat for a seed. No model, no files.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Affine, LabelledStack } from '../src/nifti/index.js';
import { voxelToLps } from '../src/nifti/index.js';
import {
  PERTURBATIONS,
  biasFieldStack,
  coarseStack,
  gammaStack,
  heartCentre,
  inPlaneSpacing,
  keepSlices,
  lowerResolutionStack,
  partialCoverageStack,
  perturbStack,
  perturbationsNamed,
  placeHeart,
  reorientStack,
  ricianNoiseStack,
  rotateStack,
  scaleStack,
  shiftStack,
  type Reorientation,
} from '../src/pipeline/perturb.js';
import { seededRandom } from '../src/util/seeded-random.js';

const NX = 48;
const NY = 40;
const NZ = 6;

/** An oblique, anisotropic grid (1.5 x 1.25 mm pixels, 8 mm slices). */
const AFFINE: Affine = [
  [1.5 * 0.8, 0, 0.6 * 8, -40],
  [1.5 * 0.6, 0, -0.8 * 8, 25],
  [0, -1.25, 0, 60],
  [0, 0, 0, 1],
];

/**
 * Two phases; slice k holds a disc of LV (3) in a 3-pixel ring of MYO (2) and an RV blob (1) beside
 * it, off the image centre, the discs shrinking with k (base at k = 0); slice 5 has no heart. Image =
 * 100 x label + 10, so each label's place can be read back from the image.
 */
function stack(): LabelledStack {
  const phases = [0, 1].map((p) => {
    const labels = new Float32Array(NX * NY * NZ);
    const voxels = new Float32Array(NX * NY * NZ);
    for (let k = 0; k < NZ; k++) {
      const radius = k === 5 ? 0 : 10 - 1.2 * k - 2 * p;
      for (let j = 0; j < NY; j++) {
        for (let i = 0; i < NX; i++) {
          const d = Math.hypot(i - 18, j - 17);
          const rv = Math.hypot(i - 18 - radius - 5, j - 17) < radius * 0.7;
          const label = radius <= 0 ? 0 : d < radius - 3 ? 3 : d < radius ? 2 : rv ? 1 : 0;
          labels[i + NX * (j + NY * k)] = label;
          voxels[i + NX * (j + NY * k)] = 100 * label + 10;
        }
      }
    }
    return { voxels, labels, triggerTimeMs: p * 300 };
  });
  return { dims: [NX, NY, NZ], affine: AFFINE, sliceThicknessMm: 8, phases };
}

const at = (s: LabelledStack, what: 'voxels' | 'labels', p: number, i: number, j: number, k: number): number => s.phases[p]![what]![i + s.dims[0] * (j + s.dims[1] * k)]!;

function assertSameStack(a: LabelledStack, b: LabelledStack): void {
  assert.deepEqual(a.dims, b.dims);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(a.affine[r]![c]! - b.affine[r]![c]!) < 1e-9, `affine[${r}][${c}]`);
  a.phases.forEach((phase, p) => {
    assert.deepEqual(phase.voxels, b.phases[p]!.voxels);
    assert.deepEqual(phase.labels, b.phases[p]!.labels);
  });
}

/** World positions (LPS, rounded to 0.001 mm) of every voxel with label `label`, sorted. */
function labelledPositions(s: LabelledStack, label: number, p = 0): string[] {
  const lps = [s.affine[0].map((v) => -v), s.affine[1].map((v) => -v), s.affine[2], s.affine[3]] as unknown as Affine;
  const out: string[] = [];
  const [nx, ny, nz] = s.dims;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    if (at(s, 'labels', p, i, j, k) === label) out.push(voxelToLps(lps, i, j, k).map((v) => v.toFixed(3)).join(','));
  }
  return out.sort();
}

/**
 * The image thresholded between the labels' intensities (LV 310, MYO 210, RV 110, background 10)
 * against the labels: LV, LV + MYO and the whole heart must overlap (Dice) at least `floor` (1 when
 * nothing is interpolated): labels that stayed behind, or moved the other way, fall far below.
 */
function assertImageFollowsLabels(s: LabelledStack, name: string, floor = 0.9): void {
  for (const [threshold, inLabels] of [[260, [3]], [160, [2, 3]], [60, [1, 2, 3]]] as const) {
    let both = 0;
    let image = 0;
    let labels = 0;
    for (const phase of s.phases) {
      for (let n = 0; n < phase.voxels.length; n++) {
        const a = phase.voxels[n]! > threshold;
        const b = (inLabels as readonly number[]).includes(phase.labels![n]!);
        if (a) image++;
        if (b) labels++;
        if (a && b) both++;
      }
    }
    assert.ok(labels > 50, `${name}: labels ${inLabels.join('+')} nearly gone`);
    const dice = (2 * both) / (image + labels);
    assert.ok(dice >= floor, `${name}: image above ${threshold} vs labels ${inLabels.join('+')}: Dice ${dice.toFixed(3)}`);
  }
}

describe('spatial perturbations move labels with the image', () => {
  it('a shift moves image and labels by the same whole pixels, zero-filled, on the same grid', () => {
    const s = stack();
    const moved = shiftStack(s, 5, -3);
    assert.deepEqual(moved.dims, s.dims);
    assert.deepEqual(moved.affine, s.affine);
    for (let j = 0; j < NY; j++) for (let i = 0; i < NX; i++) {
      const inside = i - 5 >= 0 && j + 3 < NY;
      assert.equal(at(moved, 'voxels', 1, i, j, 2), inside ? at(s, 'voxels', 1, i - 5, j + 3, 2) : 0);
      assert.equal(at(moved, 'labels', 1, i, j, 2), inside ? at(s, 'labels', 1, i - 5, j + 3, 2) : 0);
    }
    const [ci, cj] = heartCentre(s);
    const [mi, mj] = heartCentre(moved);
    assert.ok(Math.abs(mi - ci - 5) < 1e-9 && Math.abs(mj - cj + 3) < 1e-9, 'the heart centre moved by the shift');
  });

  it('placing the heart puts its centre the asked fraction of the field of view from the image centre', () => {
    const moved = placeHeart(stack(), -1 / 4, 0);
    const [ci, cj] = heartCentre(moved);
    assert.ok(Math.abs(ci - ((NX - 1) / 2 - NX / 4)) <= 0.5 + 1e-9, `centre i ${ci}`);
    assert.ok(Math.abs(cj - (NY - 1) / 2) <= 0.5 + 1e-9, `centre j ${cj}`);
  });

  const exact = ['shift-x', 'shift-y', 'rotate-90', 'flip-x', 'transpose', 'no-apex', 'no-base'];
  for (const p of PERTURBATIONS.filter((x) => [...exact, 'scale-0.6', 'scale-1.6', 'rotate-30', 'coarse-2'].includes(x.name))) {
    it(`${p.name}: the labels lie where the image shows them`, () => {
      assertImageFollowsLabels(perturbStack(stack(), p, 1, 'case'), p.name, exact.includes(p.name) ? 1 : 0.9);
    });
  }

  it('a flip stored with its geometry moves the labels with the image too', () => {
    assertImageFollowsLabels(reorientStack(stack(), 'rot90', 'consistent'), 'rot90 consistent', 1);
  });

  it('labels left behind would be caught: the check fails on a shifted image with unshifted labels', () => {
    const s = stack();
    const moved = shiftStack(s, 8, 0);
    const stale: LabelledStack = { ...moved, phases: moved.phases.map((phase, p) => ({ ...phase, labels: s.phases[p]!.labels! })) };
    assert.throws(() => assertImageFollowsLabels(stale, 'stale'), /Dice/);
  });

  it('scaling about the heart centre keeps the centre and scales the labelled area', () => {
    const s = stack();
    const area = (x: LabelledStack) => x.phases[0]!.labels!.reduce((n, v) => n + (v > 0 ? 1 : 0), 0);
    const big = scaleStack(s, 1.6);
    const small = scaleStack(s, 0.6);
    assert.ok(Math.abs(area(big) / area(s) - 1.6 ** 2) < 0.25, `x1.6 area ratio ${area(big) / area(s)}`);
    assert.ok(Math.abs(area(small) / area(s) - 0.6 ** 2) < 0.1, `x0.6 area ratio ${area(small) / area(s)}`);
    const [ci, cj] = heartCentre(s);
    const [bi, bj] = heartCentre(big);
    assert.ok(Math.hypot(bi - ci, bj - cj) < 0.5, 'centre kept');
  });

  it('rotating by 0 degrees changes nothing; by 30 degrees keeps the labelled area', () => {
    const s = stack();
    assertSameStack(rotateStack(s, 0), s);
    const area = (x: LabelledStack) => x.phases[0]!.labels!.reduce((n, v) => n + (v > 0 ? 1 : 0), 0);
    assert.ok(Math.abs(area(rotateStack(s, 30)) / area(s) - 1) < 0.1);
  });
});

describe('flips, transposes and quarter turns', () => {
  const selfInverse: Reorientation[] = ['flip-columns', 'flip-rows', 'transpose', 'rot180'];
  for (const op of selfInverse) {
    for (const geometry of ['content', 'consistent'] as const) {
      it(`${op} (${geometry}) applied twice is the identity`, () => {
        const s = stack();
        assertSameStack(reorientStack(reorientStack(s, op, geometry), op, geometry), s);
      });
    }
  }

  it('four quarter turns, and a quarter turn and its inverse, are the identity', () => {
    const s = stack();
    assertSameStack(reorientStack(reorientStack(reorientStack(reorientStack(s, 'rot90'), 'rot90'), 'rot90'), 'rot90'), s);
    assertSameStack(reorientStack(reorientStack(s, 'rot90', 'consistent'), 'rot270', 'consistent'), s);
  });

  it('a quarter turn moves pixel (i, j) to (ny - 1 - j, i): clockwise on the display', () => {
    const s = stack();
    const turned = reorientStack(s, 'rot90');
    assert.deepEqual(turned.dims, [NY, NX, NZ]);
    for (const [i, j] of [[0, 0], [3, 7], [NX - 1, 2]] as const) assert.equal(at(turned, 'voxels', 0, NY - 1 - j, i, 1), at(s, 'voxels', 0, i, j, 1));
  });

  for (const op of ['flip-columns', 'flip-rows', 'transpose', 'rot90', 'rot270'] as const) {
    it(`${op} with the geometry rewritten keeps every labelled voxel at its place in the patient`, () => {
      const s = stack();
      const stored = reorientStack(s, op, 'consistent');
      for (const label of [1, 2, 3]) assert.deepEqual(labelledPositions(stored, label), labelledPositions(s, label));
    });
  }

  it('a content-only transpose keeps the directions and gives the pixel sizes to the pixels', () => {
    const s = stack();
    const t = reorientStack(s, 'transpose');
    const [sx, sy] = inPlaneSpacing(s.affine);
    const [tx, ty] = inPlaneSpacing(t.affine);
    assert.ok(Math.abs(tx - sy) < 1e-9 && Math.abs(ty - sx) < 1e-9);
    for (const c of [0, 1] as const) for (let r = 0; r < 3; r++) {
      const before = s.affine[r]![c]! / (c === 0 ? sx : sy);
      const after = t.affine[r]![c]! / (c === 0 ? tx : ty);
      assert.ok(Math.abs(before - after) < 1e-9, 'direction kept');
    }
    assert.deepEqual(t.affine.map((row) => row[3]), s.affine.map((row) => row[3]), 'origin kept');
  });
});

describe('resolution', () => {
  it('stored coarse: half the matrix, twice the pixel size, the coarse pixel at its block centre, labels by majority', () => {
    const s = stack();
    const coarse = coarseStack(s, 2);
    assert.deepEqual(coarse.dims, [NX / 2, NY / 2, NZ]);
    const [sx, sy] = inPlaneSpacing(s.affine);
    const [cx, cy] = inPlaneSpacing(coarse.affine);
    assert.ok(Math.abs(cx - 2 * sx) < 1e-9 && Math.abs(cy - 2 * sy) < 1e-9);
    const world = (a: Affine, i: number, j: number, k: number) => [0, 1, 2].map((r) => a[r]![0] * i + a[r]![1] * j + a[r]![2] * k + a[r]![3]);
    const centre = world(s.affine, 0.5, 0.5, 3);
    world(coarse.affine, 0, 0, 3).forEach((v, r) => assert.ok(Math.abs(v - centre[r]!) < 1e-9));
    // A block wholly inside the LV disc is LV; its image is the block mean.
    assert.equal(at(coarse, 'labels', 0, 9, 8, 0), 3);
    assert.equal(at(coarse, 'voxels', 0, 9, 8, 0), 310);
  });

  it('acquired coarse and interpolated back: same grid and labels, a flat image stays flat, edges soften', () => {
    const s = stack();
    const low = lowerResolutionStack(s, 3);
    assert.deepEqual(low.dims, s.dims);
    assert.deepEqual(low.phases[0]!.labels, s.phases[0]!.labels);
    assert.equal(at(low, 'voxels', 0, 0, 0, 5), 10, 'the heartless slice stays flat');
    assert.notDeepEqual(low.phases[0]!.voxels, s.phases[0]!.voxels);
  });
});

describe('partial coverage', () => {
  it('without the base: the basal third of the heart slices (and any before them) is gone, the geometry follows', () => {
    const s = stack();
    // Heart slices 0-4 (slice 5 has none), base at k = 0: a third of 5 rounds to 2 slices.
    const cut = partialCoverageStack(s, 'base');
    assert.equal(cut.dims[2], 4);
    assert.deepEqual(cut.phases[1]!.labels, s.phases[1]!.labels!.slice(2 * NX * NY));
    const world = (a: Affine, k: number) => [0, 1, 2].map((r) => a[r]![2] * k + a[r]![3]);
    world(cut.affine, 0).forEach((v, r) => assert.ok(Math.abs(v - world(s.affine, 2)[r]!) < 1e-9, 'first kept slice keeps its place'));
  });

  it('without the apex: the apical third and the heartless slice beyond are gone', () => {
    const s = stack();
    const cut = partialCoverageStack(s, 'apex');
    assert.equal(cut.dims[2], 3);
    assert.deepEqual(cut.affine, s.affine);
    assert.deepEqual(cut.phases[0]!.voxels, s.phases[0]!.voxels.slice(0, 3 * NX * NY));
  });

  it('the base is found from the labelled area, whichever end of the stack it is at', () => {
    const s = stack();
    assertSameStack(keepSlices(s, 0, NZ - 1), s);
    const flippedStack: LabelledStack = {
      ...s,
      phases: s.phases.map((phase) => {
        const rev = (a: Float32Array) => {
          const out = new Float32Array(a.length);
          for (let k = 0; k < NZ; k++) out.set(a.subarray(k * NX * NY, (k + 1) * NX * NY), (NZ - 1 - k) * NX * NY);
          return out;
        };
        return { ...phase, voxels: rev(phase.voxels), labels: rev(phase.labels!) };
      }),
    };
    // Base now at k = 5, heart slices 1-5: without the base, slices 4 and 5 go.
    const cut = partialCoverageStack(flippedStack, 'base');
    assert.equal(cut.dims[2], 4);
    assert.deepEqual(cut.phases[0]!.labels, flippedStack.phases[0]!.labels!.slice(0, 4 * NX * NY));
  });
});

describe('intensity perturbations and seeds', () => {
  it('gamma keeps the labels, the grid, zero and the maximum, and changes the values between', () => {
    const s = stack();
    const g = gammaStack(s, 2);
    assert.deepEqual(g.phases[0]!.labels, s.phases[0]!.labels);
    assert.deepEqual(g.affine, s.affine);
    const max = Math.max(...s.phases.flatMap((p) => [...p.voxels]));
    assert.equal(Math.max(...g.phases.flatMap((p) => [...p.voxels])), max);
    assert.equal(at(g, 'voxels', 0, 0, 0, 0), Math.round(max * (10 / max) ** 2));
  });

  it('noise and bias fields repeat for a seed and case, differ for another, and leave the input alone', () => {
    const s = stack();
    const before = s.phases[0]!.voxels.slice();
    for (const name of ['noise-0.08', 'bias-0.5']) {
      const [p] = perturbationsNamed([name]);
      const a = perturbStack(s, p!, 7, 'patient005');
      assertSameStack(a, perturbStack(s, p!, 7, 'patient005'));
      assert.notDeepEqual(a.phases[0]!.voxels, perturbStack(s, p!, 8, 'patient005').phases[0]!.voxels, `${name}: another seed`);
      assert.notDeepEqual(a.phases[0]!.voxels, perturbStack(s, p!, 7, 'patient010').phases[0]!.voxels, `${name}: another case`);
      assert.deepEqual(a.phases[0]!.labels, s.phases[0]!.labels);
    }
    assert.deepEqual(s.phases[0]!.voxels, before);
  });

  it('Rician noise is never negative and lifts the dark background', () => {
    const noisy = ricianNoiseStack(stack(), 0.1, seededRandom(3));
    const values = [...noisy.phases[0]!.voxels];
    assert.ok(values.every((v) => v >= 0));
    const background = values.filter((_, n) => stack().phases[0]!.labels![n] === 0);
    assert.ok(background.reduce((a, b) => a + b, 0) / background.length > 10, 'mean background above its clean value');
  });

  it('a bias field stays within its amplitude', () => {
    const s = stack();
    const b = biasFieldStack(s, 0.5, seededRandom(11));
    for (let n = 0; n < s.phases[0]!.voxels.length; n++) {
      const ratio = b.phases[0]!.voxels[n]! / s.phases[0]!.voxels[n]!;
      assert.ok(ratio >= 1 / 1.5 - 0.06 && ratio <= 1.5 + 0.06, `ratio ${ratio}`);
    }
  });

  it('perturbations are named; all expands in table order; an unknown name is refused with the list', () => {
    assert.deepEqual(perturbationsNamed(['all']).map((p) => p.name), PERTURBATIONS.map((p) => p.name));
    assert.deepEqual(perturbationsNamed(['no-base', 'gamma-2']).map((p) => p.name), ['gamma-2', 'no-base']);
    assert.throws(() => perturbationsNamed(['sharpen']), /unknown perturbation sharpen; known: all, shift-x/);
  });
});
