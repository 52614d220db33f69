// Per-slice latency of the exported network with onnxruntime-node (the runtime the service uses).
//   node training/bench-latency.mjs [models/pulse-lite] [batch=16] [threads=2]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const dir = process.argv[2] ?? 'models/pulse-lite';
const batch = Number(process.argv[3] ?? 16);
const threads = Number(process.argv[4] ?? 2);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const [, c, h, w] = manifest.input.shape;
const session = await ort.InferenceSession.create(join(dir, manifest.model.file), {
  intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
});
const data = new Float32Array(batch * c * h * w);
for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.013) * 1.5;
const feeds = { [manifest.input.name]: new ort.Tensor('float32', data, [batch, c, h, w]) };
for (let i = 0; i < 3; i++) await session.run(feeds);
const times = [];
for (let i = 0; i < 10; i++) {
  const t = performance.now();
  await session.run(feeds);
  times.push((performance.now() - t) / batch);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ batch, threads, input: [c, h, w], msPerSliceMedian: +times[5].toFixed(2), msPerSliceMin: +times[0].toFixed(2) }));
