import { startOrthanc } from './src/orthanc/local-orthanc.js';
import { OrthancRestClient } from './src/orthanc/rest-client.js';
import { retrieveSeries } from './src/service/study-io.js';
import { readFileSync } from 'node:fs';
for (const mode of ['wado', 'modify-plain', 'modify-keep', 'modify-keep-nogdcm']) {
  const o = await startOrthanc(mode === 'modify-keep-nogdcm' ? { extraConfig: { Gdcm: { Enable: false } } } : {});
  const c = new OrthancRestClient({ url: o.url });
  let fails = 0, n = 0;
  for (let i = 0; i < 25; i++) {
    const st = await c.uploadInstance(readFileSync('../shared/data/dicom-corpus/pydicom/MR_small_jp2klossless.dcm')).catch(() => undefined);
    if (!st) { fails++; break; }
    try {
      if (mode === 'wado') await retrieveSeries(c, '/dicom-web', '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457', '1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457');
      else {
        const body = mode === 'modify-plain' ? { Transcode: '1.2.840.10008.1.2.1' } : { Transcode: '1.2.840.10008.1.2.1', Keep: ['SOPInstanceUID', 'SeriesInstanceUID', 'StudyInstanceUID'], Force: true };
        const r = await c.send('POST', `/instances/${st.ID}/modify`, JSON.stringify(body), 'application/json'); await r.arrayBuffer();
      }
      n++;
    } catch (e) { fails++; console.log((e as Error).message); await new Promise(r=>setTimeout(r,500)); console.log("alive?", o.running, o.logTail(3)); break; }
  }
  console.log(mode, 'ok', n, 'fails', fails, 'running', o.running);
  await o.stop();
}
