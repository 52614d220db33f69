/**
 * `npm run bench:calibrate`: the time of a 5-study site calibration as `pulse calibrate` runs it
 * (read the studies and their reference SEGs, the frozen model's features on the annotated phases,
 * leave-one-study-out evaluation of both adapter candidates, the end-to-end check of the chosen one,
 * the final fit, the stored profile), on
 * vendor-shifted-mri studies of the generator's default size (8-12 slices x 20-30 phases).
 * Writes bench/calibrate-results.json.
 *
 *   node dist/bench/calibrate.js [--studies 5] [--threads 2] [--out bench/calibrate-results.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { synthReferenceSeg } from '../src/cli/commands/synth.js';
import { annotatedStudy, calibrate, type AnnotatedStudy } from '../src/pipeline/calibrate.js';
import { CalibrationStore } from '../src/pipeline/calibration-store.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel } from '../src/pipeline/steps.js';
import { generateStudy } from '../src/synth/index.js';
import { argument } from './args.js';


async function main(): Promise<void> {
  const count = Number(argument('studies') ?? 5);
  const threads = Number(argument('threads') ?? 2);
  const out = resolve(argument('out') ?? 'bench/calibrate-results.json');
  const studies = Array.from({ length: count }, (_, i) => generateStudy({ seed: 7000 + i, domain: 'vendor-shifted-mri' }));
  const model = await loadModel(new ModelRegistry(), undefined, threads);
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-bench-calibrate-'));
  try {
    const loadAtStart = loadavg()[0]!;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const annotated: AnnotatedStudy[] = [];
    for (const study of studies) {
      const instances = [...study.files.map((f) => ({ source: f.name, bytes: f.bytes })), { source: 'reference-seg.dcm', bytes: synthReferenceSeg(study, 'ed-es') }];
      annotated.push(await annotatedStudy(instances, study.name, model));
    }
    const readMs = performance.now() - t0;
    const profile = await calibrate(model, annotated, { store: new CalibrationStore(dataDir) });
    const totalMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const result = {
      studies: count,
      grids: studies.map((s) => `${s.truth.grid.slices}x${s.truth.grid.phases}`),
      readMs: Math.round(readMs),
      fitEvaluateMs: Math.round(totalMs - readMs),
      totalMs: Math.round(totalMs),
      // CPU time of this process over reading + fit (what the machine's load does not change much).
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSystemMs: Math.round(cpu.system / 1000),
      promoted: profile.promoted,
      candidate: profile.parameters.fit['candidate'],
      before: profile.metrics?.before,
      after: profile.metrics?.after,
      endToEnd: profile.metrics?.endToEnd ? { before: profile.metrics.endToEnd.before, after: profile.metrics.endToEnd.after } : null,
      reason: profile.reason,
      machine: { cpus: cpus().length, loadAverage1mAtStart: Math.round(loadAtStart * 10) / 10, loadAverage1m: Math.round(loadavg()[0]! * 10) / 10, threads },
      measuredAt: new Date().toISOString(),
    };
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
