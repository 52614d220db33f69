/**
 * `npm run bench:ohif-phase`: does OHIF draw a PULSE SEG of a cine study on the right phase? Runs the
 * real chain (a local Orthanc, the service with the embedded OHIF, the bundled model on a synthetic
 * cine study), then, in headless chromium, compares the overlay OHIF draws with the SEG's own masks,
 * phase by phase and slice by slice: for every second pixel in a box around the masks, the colour
 * drawn at that pixel's place on screen (read back from a screenshot through the viewport's
 * worldToCanvas) against the segment the SEG puts there (none, RV blue, myocardium green, LV red).
 *
 * Two shapes of output are compared (docs/ohif-cine-seg.md):
 *   - `combined`: the SEG as the pipeline writes it (frames for ED and ES of the cine series);
 *   - `phase-copy-<n>`: a prototype of the fix, built here from the stored objects: per labelled
 *     phase, a derived single-phase copy of the cine series (new series and instance UIDs, ImageType
 *     DERIVED\SECONDARY) and a SEG holding only that phase's frames, referencing the copy.
 * The prototype is not what the pipeline writes; the copies are written Explicit VR Little Endian,
 * which is right for the synthetic (uncompressed) study only. Results: bench/ohif-phase-check.json;
 * screenshots under test-artifacts/ohif-phase/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ConfigSchema } from '../src/config/schema.js';
import { readPart10, writePart10 } from '../src/dicom/modules/part10.js';
import { readSegmentation, type ReadSegmentation } from '../src/dicom/seg/read.js';
import { deterministicUid } from '../src/dicom/uid.js';
import { startOrthanc } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { launchChromium } from '../test/support/browser.js';
import { projectRoot } from '../test/support/paths.js';
import { readPng } from '../test/support/png-read.js';

type Colour = 'none' | 'red' | 'green' | 'blue';
const COLOUR_OF_LABEL: Record<string, Colour> = { 'Left ventricle cavity': 'red', 'Left ventricle myocardium': 'green', 'Right ventricle cavity': 'blue' };

/** What OHIF drew at one screen pixel: a segment colour clearly above the grey of the image, or none. */
function classify(r: number, g: number, b: number): Colour {
  if (r - Math.max(g, b) > 40) return 'red';
  if (g - Math.max(r, b) > 40) return 'green';
  if (b - Math.max(r, g) > 40) return 'blue';
  return 'none';
}

interface Tally {
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
function samplePoints(seg: ReadSegmentation): Map<string, Array<[number, number, Colour]>> {
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

/** Opens the study in OHIF, loads the SEG with this series description, and tallies the overlay per phase (dimension group). */
async function measure(page: Page, base: string, studyUID: string, seg: ReadSegmentation, description: string, shots: string): Promise<Record<string, Tally>> {
  const points = samplePoints(seg);
  await page.goto(`${base}/ohif/viewer?StudyInstanceUIDs=${studyUID}`);
  await page.getByText(description).first().waitFor({ timeout: 120_000 });
  // The first-run tour (once per browser profile) covers the viewport until dismissed.
  await page.getByText('Skip all').click({ timeout: 5000 }).catch(() => undefined);
  await page.getByText(description).first().dblclick();
  await page.getByRole('button', { name: /^yes$/i }).click({ timeout: 60_000 });
  await page.waitForTimeout(10_000);
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

/** The prototype: per labelled phase, a derived copy of that phase's images and a SEG of its frames only, stored in Orthanc. */
async function storePhaseCopies(client: OrthancRestClient, studyUID: string, sources: Map<string, Record<string, any>>, segBytes: Uint8Array): Promise<string[]> {
  const seg = readPart10(segBytes);
  const frames = seg.PerFrameFunctionalGroupsSequence as Array<Record<string, any>>;
  const one = (v: any): any => (Array.isArray(v) ? v[0] : v);
  const sourceOf = (frame: Record<string, any>): string => one(one(frame.DerivationImageSequence).SourceImageSequence).ReferencedSOPInstanceUID;
  const phaseOf = (sop: string): number => Number(sources.get(sop)!.TriggerTime);
  const phases = [...new Set(frames.map((f) => phaseOf(sourceOf(f))))].sort((a, b) => a - b);
  const packed = new Uint8Array(one(seg.PixelData));
  const frameBytes = (seg.Rows * seg.Columns) / 8;
  const descriptions: string[] = [];
  for (const [n, phase] of phases.entries()) {
    const seriesUID = deterministicUid(studyUID, 'phase-copy', String(phase), 'series');
    const copyOf = new Map<string, string>();
    for (const [sop, source] of sources) {
      if (Number(source.TriggerTime) !== phase) continue;
      const copy = { ...source, SeriesInstanceUID: seriesUID, SOPInstanceUID: deterministicUid(studyUID, 'phase-copy', sop), SeriesNumber: 9005 + n, SeriesDescription: `PULSE phase copy ${n + 1} (for viewers)`, ImageType: ['DERIVED', 'SECONDARY'] };
      copyOf.set(sop, copy.SOPInstanceUID);
      await client.uploadInstance(writePart10(copy));
    }
    const kept = frames.map((frame, index) => ({ frame, index })).filter(({ frame }) => phaseOf(sourceOf(frame)) === phase);
    const pixels = new Uint8Array(kept.length * frameBytes);
    kept.forEach(({ index }, k) => pixels.set(packed.subarray(index * frameBytes, (index + 1) * frameBytes), k * frameBytes));
    const fresh = readPart10(segBytes).PerFrameFunctionalGroupsSequence as Array<Record<string, any>>;
    const description = `PULSE SEG of phase copy ${n + 1}`;
    const phaseSeg: Record<string, any> = {
      ...readPart10(segBytes),
      SeriesInstanceUID: deterministicUid(studyUID, 'phase-copy-seg', String(phase), 'series'),
      SOPInstanceUID: deterministicUid(studyUID, 'phase-copy-seg', String(phase), 'instance'),
      SeriesNumber: 9101 + n,
      SeriesDescription: description,
      NumberOfFrames: kept.length,
      PixelData: [pixels.buffer],
      ReferencedSeriesSequence: [{ SeriesInstanceUID: seriesUID, ReferencedInstanceSequence: [...copyOf.values()].map((uid) => ({ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.4', ReferencedSOPInstanceUID: uid })) }],
      PerFrameFunctionalGroupsSequence: kept.map(({ index }) => {
        const group = fresh[index]!;
        const source = one(one(group.DerivationImageSequence).SourceImageSequence);
        source.ReferencedSOPInstanceUID = copyOf.get(source.ReferencedSOPInstanceUID);
        return group;
      }),
    };
    await client.uploadInstance(writePart10(phaseSeg, { vrOverrides: { '7FE00010': 'OB' } }));
    descriptions.push(description);
  }
  return descriptions;
}

async function main(): Promise<void> {
  const phases = Number(process.argv[2] ?? 8);
  const shots = join(projectRoot, 'test-artifacts', 'ohif-phase');
  mkdirSync(shots, { recursive: true });
  const storage = mkdtempSync(join(tmpdir(), 'pulse-ohif-phase-'));
  const orthanc = await startOrthanc({ storageDir: join(storage, 'orthanc'), stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const config = ConfigSchema.parse({ orthanc: { url: orthanc.url }, dataDir: join(storage, 'service'), server: { port: 0 }, viewer: { ohif: true }, changesFeed: { pollIntervalMs: 200 }, queue: { pollIntervalMs: 200 } });
  const service = await startService({ config, processor: createPipelineProcessor(), logger: createLogger('error', { silent: true }) });
  const browser = await launchChromium();
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const study = generateStudy({ seed: 21, slices: 6, phases });
    for (const file of study.files) await client.uploadInstance(file.bytes);
    const uid = study.truth.studyInstanceUID;
    for (;;) {
      const job = (await service.store.findByStudy(uid))[0];
      if (job?.state === 'done') break;
      if (job && ['failed', 'skipped'].includes(job.state)) throw new Error(`the study was not processed: ${job.reason}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const sources = new Map<string, Record<string, any>>();
    for (const file of study.files) {
      const ds = readPart10(file.bytes);
      sources.set(ds.SOPInstanceUID, ds);
    }
    const segInstance = async (description: string): Promise<Uint8Array> => {
      const series = (await (await fetch(`${orthanc.url}/dicom-web/studies/${uid}/series?Modality=SEG&includefield=0008103E`)).json()) as Array<Record<string, { Value?: string[] }>>;
      const found = series.find((s) => s['0008103E']?.Value?.[0] === description)!;
      const seriesUID = found['0020000E']!.Value![0]!;
      const instances = (await (await fetch(`${orthanc.url}/dicom-web/studies/${uid}/series/${seriesUID}/instances`)).json()) as Array<Record<string, { Value?: string[] }>>;
      return client.retrieveInstanceAsStored(uid, seriesUID, instances[0]!['00080018']!.Value![0]!);
    };
    const combinedBytes = await segInstance('PULSE automated segmentation (not reviewed)');
    const copies = await storePhaseCopies(client, uid, sources, combinedBytes);
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    const results: Record<string, Record<string, Tally>> = {};
    for (const description of ['PULSE automated segmentation (not reviewed)', ...copies]) {
      const seg = readSegmentation(await segInstance(description), description);
      results[description] = await measure(page, service.url, uid, seg, description, shots);
      for (const [group, t] of Object.entries(results[description]!)) {
        process.stdout.write(`${description} | ${group}: ${t.slices} slices, agreement ${(t.agree / t.total).toFixed(3)} (${t.agree}/${t.total}; missing ${t.missing}, extra ${t.extra}, wrong colour ${t.wrongColour})\n`);
      }
    }
    writeFileSync(join(projectRoot, 'bench', `ohif-phase-check${phases === 8 ? '' : `-${phases}`}.json`), `${JSON.stringify({ ohif: '@ohif/app 3.13.2', study: { slices: 6, phases, seed: 21 }, results }, null, 2)}\n`);
  } finally {
    await browser.close();
    await service.stop(1000);
    await orthanc.stop();
    rmSync(storage, { recursive: true, force: true });
  }
}

await main();
