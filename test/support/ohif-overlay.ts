/**
 * What OHIF draws of a SEG, measured (docs/ohif-cine-seg.md): opens a study in the embedded OHIF,
 * loads a SEG by its series description, and for every phase (dimension group) and slice compares the
 * colour drawn at every second pixel of a box around the masks (located on screen with the viewport's
 * worldToCanvas, read back from a screenshot) with the segment the SEG puts there. Shared by
 * `npm run bench:ohif-phase` and test/ohif-browser.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { ReadSegmentation } from '../../src/dicom/seg/read.js';
import { readPng } from './png-read.js';

export type Colour = 'none' | 'red' | 'green' | 'blue';
const COLOUR_OF_LABEL: Record<string, Colour> = { 'Left ventricle cavity': 'red', 'Left ventricle myocardium': 'green', 'Right ventricle cavity': 'blue' };

/** What OHIF drew at one screen pixel: a segment colour clearly above the grey of the image, or none. */
function classify(r: number, g: number, b: number): Colour {
  if (r - Math.max(g, b) > 40) return 'red';
  if (g - Math.max(r, b) > 40) return 'green';
  if (b - Math.max(r, g) > 40) return 'blue';
  return 'none';
}

export interface Tally {
  agree: number;
  total: number;
  /** A segment drawn where the SEG has another one. */
  wrongColour: number;
  /** Nothing drawn where the SEG has a segment. */
  missing: number;
  /** A segment drawn where the SEG has none. */
  extra: number;
  slices: number;
}

/** Sample points per referenced SOP Instance UID: [row, column, expected colour], every second pixel in a box around the masks. */
export function samplePoints(seg: ReadSegmentation): Map<string, Array<[number, number, Colour]>> {
  const labelOf = new Map(seg.segments.map((s) => [s.segmentNumber, COLOUR_OF_LABEL[s.label] ?? 'none']));
  const bySop = new Map<string, Map<number, Colour>>();
  for (const frame of seg.frames) {
    const pixels = bySop.get(frame.referencedSOPInstanceUID) ?? new Map<number, Colour>();
    bySop.set(frame.referencedSOPInstanceUID, pixels);
    frame.mask.forEach((on, i) => on && pixels.set(i, labelOf.get(frame.segmentNumber) ?? 'none'));
  }
  const out = new Map<string, Array<[number, number, Colour]>>();
  for (const [sop, pixels] of bySop) {
    const rows = [...pixels.keys()].map((i) => Math.floor(i / seg.columns));
    const cols = [...pixels.keys()].map((i) => i % seg.columns);
    const points: Array<[number, number, Colour]> = [];
    for (let r = Math.max(0, Math.min(...rows) - 6); r <= Math.min(seg.rows - 1, Math.max(...rows) + 6); r += 2) {
      for (let c = Math.max(0, Math.min(...cols) - 6); c <= Math.min(seg.columns - 1, Math.max(...cols) + 6); c += 2) points.push([r, c, pixels.get(r * seg.columns + c) ?? 'none']);
    }
    out.set(sop, points);
  }
  return out;
}

/**
 * Waits until the viewport shows a segment colour (the SEG's labelmap is loaded and drawn), polling
 * screenshots of the viewport's canvas; the segment list's colour swatches lie outside it.
 */
async function overlayDrawn(page: Page, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const box = (await page.evaluate(`(() => {
      const v = window.cornerstone?.getRenderingEngines?.()[0]?.getViewports?.()[0];
      const r = v?.canvas?.getBoundingClientRect();
      return r ? { x: r.left, y: r.top, width: r.width, height: r.height } : null;
    })()`)) as { x: number; y: number; width: number; height: number } | null;
    if (box && box.width > 0 && box.height > 0) {
      const shot = readPng(await page.screenshot({ clip: box }));
      for (let o = 0; o < shot.pixels.length; o += 4 * 7) if (classify(shot.pixels[o]!, shot.pixels[o + 1]!, shot.pixels[o + 2]!) !== 'none') return;
    }
    if (Date.now() > deadline) throw new Error(`the SEG overlay was not drawn within ${timeoutMs / 1000} s`);
    await page.waitForTimeout(250);
  }
}

/** Opens the study in OHIF, loads the SEG with this series description, and tallies the overlay per phase (dimension group). */
export async function measure(page: Page, base: string, studyUID: string, seg: ReadSegmentation, description: string, shots: string): Promise<Record<string, Tally>> {
  const points = samplePoints(seg);
  await page.goto(`${base}/ohif/viewer?StudyInstanceUIDs=${studyUID}`);
  await page.getByText(description).first().waitFor({ timeout: 120_000 });
  // The first-run tour (once per browser profile) covers the viewport until dismissed.
  await page.getByText('Skip all').click({ timeout: 5000 }).catch(() => undefined);
  await page.getByText(description).first().dblclick();
  await page.getByRole('button', { name: /^yes$/i }).click({ timeout: 60_000 });
  await overlayDrawn(page);
  const shape = (await page.evaluate(`(() => {
    const cs = window.cornerstone; const v = cs.getRenderingEngines()[0].getViewports()[0];
    const vol = v.getVolumeId ? cs.cache.getVolume(v.getVolumeId()) : undefined;
    return { groups: vol?.numDimensionGroups ?? 1, slices: v.getNumberOfSlices ? v.getNumberOfSlices() : v.getImageIds().length };
  })()`)) as { groups: number; slices: number };
  const tallies: Record<string, Tally> = {};
  for (let group = 1; group <= shape.groups; group++) {
    for (let slice = 0; slice < shape.slices; slice++) {
      // The image shown: the current phase's image nearest the viewport's plane.
      const shown = (await page.evaluate(`(async () => {
        const cs = window.cornerstone; const v = cs.getRenderingEngines()[0].getViewports()[0];
        const vol = v.getVolumeId ? cs.cache.getVolume(v.getVolumeId()) : undefined;
        if (vol?.numDimensionGroups) vol.dimensionGroupNumber = ${group};
        await cs.utilities.jumpToSlice(v.element, { imageIndex: ${slice} });
        for (let i = 0; i < 100 && vol?.isDimensionGroupLoaded && !vol.isDimensionGroupLoaded(${group}); i++) await new Promise((r) => setTimeout(r, 100));
        v.render();
        await new Promise((r) => setTimeout(r, 400));
        const camera = v.getCamera();
        const ids = vol?.getCurrentDimensionGroupImageIds ? vol.getCurrentDimensionGroupImageIds() : [v.getCurrentImageId()];
        let best, distance = Infinity;
        for (const id of ids) {
          const p = cs.metaData.get('imagePlaneModule', id).imagePositionPatient;
          const d = Math.abs([0, 1, 2].reduce((a, i) => a + (p[i] - camera.focalPoint[i]) * camera.viewPlaneNormal[i], 0));
          if (d < distance) { distance = d; best = id; }
        }
        return { imageId: best, sop: best.match(/instances\\/([0-9.]+)/)[1] };
      })()`)) as { imageId: string; sop: string };
      const expected = points.get(shown.sop);
      if (expected === undefined) continue;
      const onScreen = (await page.evaluate(`(() => {
        const cs = window.cornerstone; const v = cs.getRenderingEngines()[0].getViewports()[0];
        const plane = cs.metaData.get('imagePlaneModule', ${JSON.stringify(shown.imageId)});
        const rect = v.canvas.getBoundingClientRect();
        return ${JSON.stringify(expected.map(([r, c]) => [r, c]))}.map(([r, c]) => {
          const world = [0, 1, 2].map((i) => plane.imagePositionPatient[i] + c * plane.columnPixelSpacing * plane.rowCosines[i] + r * plane.rowPixelSpacing * plane.columnCosines[i]);
          const p = v.worldToCanvas(world);
          return [Math.round(rect.left + p[0]), Math.round(rect.top + p[1])];
        });
      })()`)) as Array<[number, number]>;
      const png = await page.screenshot();
      const shot = readPng(png);
      if (slice === Math.floor(shape.slices / 2)) writeFileSync(join(shots, `${description.replace(/\W+/gu, '-')}-phase${group}.png`), png);
      const tally = (tallies[`group ${group}`] ??= { agree: 0, total: 0, wrongColour: 0, missing: 0, extra: 0, slices: 0 });
      tally.slices++;
      expected.forEach(([, , want], i) => {
        const [x, y] = onScreen[i]!;
        const o = (y * shot.width + x) * 4;
        const drawn = classify(shot.pixels[o]!, shot.pixels[o + 1]!, shot.pixels[o + 2]!);
        tally.total++;
        if (drawn === want) tally.agree++;
        else if (want === 'none') tally.extra++;
        else if (drawn === 'none') tally.missing++;
        else tally.wrongColour++;
      });
    }
  }
  return tallies;
}
