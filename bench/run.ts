/**
 * `npm run bench` (after the build: node dist/bench/run.js): per-stage times of the offline pipeline
 * on a 10-slice x 25-phase synthetic study, and the end-to-end time as a ratio to the pure ONNX
 * inference time of the same slices, measured in the same run. Writes bench/results.json.
 *
 *   node dist/bench/run.js [--model manifest.json] [--threads 2] [--runs 5] [--out bench/results.json]
 *
 * Both measurements alternate within one process, so background load affects them alike; the
 * reported figures are medians.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { generateStudy } from '../src/synth/index.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { StageTimer } from '../src/core/stage-timer.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel, readStep } from '../src/pipeline/steps.js';
import { channelSlices, preprocessImage } from '../src/model/preprocess.js';

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const manifestPath = argument('model');
  const threads = Number(argument('threads') ?? 2);
  const runs = Number(argument('runs') ?? 5);
  const out = resolve(argument('out') ?? 'bench/results.json');

  const study = generateStudy({ seed: 1, group: 'NOR', slices: 10, phases: 25 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const models = new ModelRegistry();
  const model = await loadModel(models, manifestPath, threads);
  const shape = model.session.shape;
  const options = { ...(manifestPath ? { manifestPath } : {}), threads, models };

  // The pure-inference reference: the same slices, already pre-processed, straight through onnxruntime
  // in the pipeline's batch size.
  const cine = readStep(instances, new StageTimer());
  const { slices, phases } = cine.grid;
  const plane = shape.rows * shape.columns;
  const windows = new Float32Array(slices * phases * plane);
  const scratch = new Float32Array(plane);
  for (let p = 0; p < phases; p++) {
    for (let s = 0; s < slices; s++) preprocessImage(cine.grid.images[s]![p]!, shape, model.manifest, windows.subarray((p * slices + s) * plane, (p * slices + s + 1) * plane), scratch);
  }
  const batchSize = 16;
  const batches: Array<{ input: Float32Array; count: number }> = [];
  for (let start = 0; start < slices * phases; start += batchSize) {
    const count = Math.min(batchSize, slices * phases - start);
    const input = new Float32Array(count * shape.channels * plane);
    for (let b = 0; b < count; b++) {
      const p = Math.floor((start + b) / slices);
      const s = start + b - p * slices;
      channelSlices(s, slices, shape.channels, model.manifest.input.channels).forEach((from, ch) => {
        input.set(windows.subarray((p * slices + from) * plane, (p * slices + from + 1) * plane), (b * shape.channels + ch) * plane);
      });
    }
    batches.push({ input, count });
  }
  const pureInference = async (): Promise<number> => {
    const t = performance.now();
    for (const b of batches) await model.session.run(b.input, b.count);
    return performance.now() - t;
  };

  // Warm-up (session creation, first-run allocations), then alternate the two measurements.
  await processStudy(instances, options);
  await pureInference();
  const pure: number[] = [];
  const endToEnd: number[] = [];
  const stages: Array<Record<string, number>> = [];
  for (let i = 0; i < runs; i++) {
    pure.push(await pureInference());
    const t = performance.now();
    const outputs = await processStudy(instances, options);
    endToEnd.push(performance.now() - t);
    stages.push(outputs.result.timings_ms);
  }
  const stageNames = Object.keys(stages[0]!);
  const stageMedians = Object.fromEntries(stageNames.map((s) => [s, Math.round(median(stages.map((x) => x[s] ?? 0)) * 10) / 10]));
  const pureMs = median(pure);
  const e2eMs = median(endToEnd);
  const results = {
    date: new Date().toISOString(),
    // Other processes inflate every stage; the load average says how busy the machine was.
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, load_average_1m: Math.round(loadavg()[0]! * 100) / 100 },
    model: { name: model.manifest.name, version: model.manifest.version, input: model.manifest.input.shape },
    study: { slices, phases, rows: cine.grid.images[0]![0]!.plane.rows, columns: cine.grid.images[0]![0]!.plane.columns, images: slices * phases },
    threads,
    runs,
    stages_ms: stageMedians,
    end_to_end_ms: Math.round(e2eMs * 10) / 10,
    pure_inference_ms: Math.round(pureMs * 10) / 10,
    pure_inference_ms_per_slice: Math.round((pureMs / (slices * phases)) * 100) / 100,
    ratio_end_to_end_to_inference: Math.round((e2eMs / pureMs) * 1000) / 1000,
    target_ratio: 1.3,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

  const rows: Array<[string, string]> = [
    ...Object.entries(stageMedians).map(([k, v]): [string, string] => [`stage ${k}`, `${v.toFixed(1)} ms`]),
    ['end-to-end (processStudy)', `${results.end_to_end_ms.toFixed(1)} ms`],
    ['pure ONNX inference, same slices', `${results.pure_inference_ms.toFixed(1)} ms (${results.pure_inference_ms_per_slice} ms/slice)`],
    ['ratio end-to-end / inference', `${results.ratio_end_to_end_to_inference} (target <= 1.3)`],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`PULSE pipeline benchmark: ${model.manifest.name} ${model.manifest.version}, ${slices} slices x ${phases} phases, ${threads} thread(s), median of ${runs}\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  process.stdout.write(`written ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
