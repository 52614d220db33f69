/** `pulse synth`: synthetic cine short-axis studies with exact truth, one folder per study. */
import type { Command } from 'commander';
import { parseIntegerOption } from '../integer-option.js';
import { defaultGroup } from '../../synth/generate.js';
import { generateStudy, SYNTH_DOMAINS, SYNTH_GROUPS, writeStudy, type SynthDomain, type SynthGroup } from '../../synth/index.js';
import { BadInputError } from '../../core/errors.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultManifestPath, loadManifest } from '../../model/manifest.js';
import { buildReferenceSegmentation } from '../../pipeline/reference-seg.js';
import { CALIBRATION_SERIES_RULES } from '../../pipeline/calibrate.js';
import type { SynthCoverage, SynthStudy } from '../../synth/index.js';
import type { NamedTransform } from '../../core/in-plane.js';

interface SynthCliOptions {
  out?: string;
  seed: string;
  count: string;
  class?: string;
  domain: string;
  slices?: string;
  phases?: string;
  offset?: string;
  fov?: string;
  pixelSpacing?: string;
  flip?: string;
  coverage?: string;
  sliceThickness?: string;
  sliceGap?: string;
  listDomains?: boolean;
  referenceSeg?: boolean;
  annotate: string;
  annotateSlices: string;
}

/** Evenly spread slice indices (both ends included when n >= 2). */
export function spreadSlices(slices: number, n: number): Set<number> {
  if (n >= slices) return new Set(Array.from({ length: slices }, (_, s) => s));
  if (n === 1) return new Set([Math.floor(slices / 2)]);
  return new Set(Array.from({ length: n }, (_, i) => Math.round((i * (slices - 1)) / (n - 1))));
}

/**
 * The truth of a synthetic study as a person would annotate it: a MANUAL reference SEG over ED and ES
 * (or every phase) and all slices (or `slices` of them, evenly spread).
 */
export function synthReferenceSeg(study: SynthStudy, phases: 'ed-es' | 'all', slices?: number): Uint8Array {
  const truth = study.truth;
  const keepPhase = (p: number) => phases === 'all' || p === truth.phases.ed || p === truth.phases.es;
  const keepSlices = spreadSlices(truth.grid.slices, slices ?? truth.grid.slices);
  const labels = new Map<string, Uint8Array>();
  for (const entry of truth.labels.instances) {
    if (keepPhase(entry.phase) && keepSlices.has(entry.slice)) labels.set(entry.sopInstanceUID, study.labels.get(entry.sopInstanceUID as never)!);
  }
  return buildReferenceSegmentation({
    instances: study.files.map((f) => ({ source: f.name, bytes: f.bytes })),
    labels,
    manifest: loadManifest(defaultManifestPath()),
    annotator: 'pulse synth truth',
    seriesRules: CALIBRATION_SERIES_RULES,
  }).bytes;
}

/** A finite number from a flag, or undefined. */
function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new BadInputError(`--${name} must be a number, got ${value}`);
  return n;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('write synthetic cine short-axis studies (DICOM + truth.json + labels.bin), one folder per study')
    .option('--out <dir>', 'folder to write the studies into')
    .option('--seed <n>', 'seed of the first study (each next study uses the next seed)', '1')
    .option('--count <n>', 'number of studies', '1')
    .option('--class <group>', `diagnostic group: ${SYNTH_GROUPS.join('|')} (default: drawn from the seed)`)
    .option('--domain <name>', `appearance domain: ${SYNTH_DOMAINS.join('|')}`, 'cine-mri')
    .option('--slices <n>', 'number of short-axis slices (default: drawn from the seed, 8-12)')
    .option('--phases <n>', 'number of cardiac phases (default: drawn from the seed, 20-30)')
    .option('--offset <x,y>', 'heart centre as a fraction of the field of view from the image centre, e.g. 0.3,-0.2 (default: near the centre)')
    .option('--fov <mm>', 'field of view in mm (default: drawn, 300-380; the pixel spacing scales with it)')
    .option('--pixel-spacing <mm>', 'in-plane pixel spacing in mm (default: drawn, 1.35-2.0)')
    .option('--flip <kind>', 'store the images rows|columns|rot180|transpose|rot90|rot270|antitranspose, with the matching ImageOrientationPatient (default: the canonical short-axis display)')
    .option('--coverage <part>', 'full|no-apex|no-base: the stack without its apical or basal third (default: full)')
    .option('--slice-thickness <mm>', 'slice thickness in mm, 2-12 (default: drawn, 5-10)')
    .option('--slice-gap <mm>', 'gap between slices in mm, 0-10, with --slice-thickness (default: 0 then; drawn otherwise)')
    .option('--list-domains', 'print the domain names, one a line, and exit')
    .option('--reference-seg', 'also write reference-seg.dcm: the truth as a MANUAL reference SEG (for site calibration)')
    .option('--annotate <phases>', 'phases the reference SEG covers: ed-es (as a person annotates) or all', 'ed-es')
    .option('--annotate-slices <n|all>', 'slices the reference SEG covers: all, or n evenly spread', 'all')
    .action(async (options: SynthCliOptions) => {
      if (options.listDomains) {
        process.stdout.write(`${SYNTH_DOMAINS.join('\n')}\n`);
        return;
      }
      if (!options.out) throw new BadInputError('--out <dir> is required');
      const group = options.class?.toUpperCase();
      if (group !== undefined && !(SYNTH_GROUPS as readonly string[]).includes(group)) throw new BadInputError(`--class must be one of ${SYNTH_GROUPS.join(', ')}, got ${options.class}`);
      if (!(SYNTH_DOMAINS as readonly string[]).includes(options.domain)) throw new BadInputError(`--domain must be one of ${SYNTH_DOMAINS.join(', ')}, got ${options.domain}`);
      const seed = parseIntegerOption(options.seed ?? '1', '--seed', { min: 0, max: Number.MAX_SAFE_INTEGER - 1_000_000 });
      const count = parseIntegerOption(options.count ?? '1', '--count', { min: 1, max: 1_000_000 });
      const slices = options.slices === undefined ? undefined : parseIntegerOption(options.slices, '--slices', { min: 2, max: 30 });
      const phases = options.phases === undefined ? undefined : parseIntegerOption(options.phases, '--phases', { min: 2, max: 60 });
      if (options.annotate !== 'ed-es' && options.annotate !== 'all') throw new BadInputError(`--annotate must be ed-es or all, got ${options.annotate}`);
      const annotateSlices = options.annotateSlices === 'all' ? undefined : parseIntegerOption(options.annotateSlices, '--annotate-slices', { min: 1, max: 30 });
      const offset = options.offset?.split(',').map((v) => number(v.trim(), 'offset'));
      if (offset && (offset.length !== 2 || offset.some((v) => v === undefined))) throw new BadInputError(`--offset must be two numbers x,y, got ${options.offset}`);
      const fovMm = number(options.fov, 'fov');
      const pixelSpacingMm = number(options.pixelSpacing, 'pixel-spacing');
      const sliceThicknessMm = number(options.sliceThickness, 'slice-thickness');
      const sliceGapMm = number(options.sliceGap, 'slice-gap');
      // The generator checks the values and names the option in its error.
      for (let i = 0; i < count; i++) {
        const study = generateStudy({
          seed: seed + i,
          group: (group as SynthGroup | undefined) ?? defaultGroup(seed + i),
          domain: options.domain as SynthDomain,
          ...(slices !== undefined ? { slices } : {}),
          ...(phases !== undefined ? { phases } : {}),
          ...(offset ? { heartOffset: offset as [number, number] } : {}),
          ...(fovMm !== undefined ? { fovMm } : {}),
          ...(pixelSpacingMm !== undefined ? { pixelSpacingMm } : {}),
          ...(options.flip !== undefined ? { flip: options.flip as NamedTransform } : {}),
          ...(options.coverage !== undefined ? { coverage: options.coverage as SynthCoverage } : {}),
          ...(sliceThicknessMm !== undefined ? { sliceThicknessMm } : {}),
          ...(sliceGapMm !== undefined ? { sliceGapMm } : {}),
        });
        const dir = await writeStudy(options.out, study);
        if (options.referenceSeg) await writeFile(join(dir, 'reference-seg.dcm'), synthReferenceSeg(study, options.annotate, annotateSlices));
        const m = study.truth.measurements;
        process.stdout.write(`${dir}\t${study.truth.group}\t${study.truth.grid.slices}x${study.truth.grid.phases}\tLVEF ${m.lvef_pct.toFixed(1)}%\tRVEF ${m.rvef_pct.toFixed(1)}%\n`);
      }
    });
}
