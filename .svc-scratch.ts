import { generateStudy } from './src/synth/index.js';
import { processStudy } from './src/pipeline/process-study.js';
let t = Date.now();
const s = generateStudy({ seed: 3, slices: 6, phases: 8 });
console.log('synth', Date.now() - t, s.files.length);
t = Date.now();
const out = await processStudy(s.files.map(f => ({ source: f.name, bytes: f.bytes })));
console.log('pipeline', Date.now() - t, out.result.diagnosis.label, out.result.measurements.lvef_pct, out.result.model, out.seg.length, out.sr.length);
console.log(out.result.timings_ms);
