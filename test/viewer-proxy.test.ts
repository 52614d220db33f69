/**
 * The embedded viewer's HTTP side against a real Orthanc that asks for a password: OHIF is served
 * under /ohif/ (rebased, its own Content-Security-Policy, app-config.js with one DICOMweb source),
 * and the DICOMweb proxy passes QIDO-RS and WADO-RS reads only, behind the viewer token, with
 * Orthanc's credentials added on the server side and never shown, bodies streamed byte for byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { isDicomWebRead } from '../src/server/dicomweb-proxy.js';
import { defaultOhifDist, inlineScriptHashes, ohifAppConfig, ohifDistProblem, rebaseIndexHtml } from '../src/server/ohif.js';
import { createLogger } from '../src/service/logger.js';
import { startService, type RunningService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { startTestOrthanc, type RunningOrthanc } from './support/orthanc.js';
import { PassThrough } from 'node:stream';
import { createProcessor } from './service-stand-in.js';

const VIEWER = 'viewer-token-for-the-proxy-test';
const ORTHANC_USER = 'pulse';
const ORTHANC_PASSWORD = 'orthanc-password-never-shown';
const S = '1.2.826.0.1.3680043.8.498.1';

describe('which DICOMweb paths are reads', () => {
  test('QIDO-RS searches and WADO-RS retrievals pass', () => {
    for (const path of [
      '/studies',
      '/series',
      '/instances',
      `/studies/${S}`,
      `/studies/${S}/metadata`,
      `/studies/${S}/series`,
      `/studies/${S}/series/${S}/metadata`,
      `/studies/${S}/series/${S}/instances/${S}`,
      `/studies/${S}/series/${S}/instances/${S}/frames/1,2,3`,
      `/studies/${S}/series/${S}/instances/${S}/frames/1/rendered`,
      `/studies/${S}/series/${S}/instances/${S}/bulk/7fe00010`,
      `/studies/${S}/series/${S}/thumbnail`,
    ]) {
      assert.ok(isDicomWebRead(path), path);
    }
  });
  test("Orthanc's own routes, traversal, escapes and over-long UIDs do not", () => {
    for (const path of [
      '/servers',
      '/servers/peer/stow',
      '/info',
      '/',
      '',
      `/studies/${S}/../../system`,
      '/studies/..',
      `/studies/${S}%2f..`,
      `/studies/1.${'2'.repeat(64)}`,
      `/studies/${S}/series/${S}/instances/${S}/frames/x`,
      `/studies/${S}/delete`,
      `/studies/${S}.`,
      `/studies/.${S}`,
    ]) {
      assert.ok(!isDicomWebRead(path), path);
    }
  });
});

describe('OHIF rebased under /ohif/', () => {
  test('index.html loads its assets from /ohif/, without the service worker, and its inline scripts are hashed', () => {
    const html = '<link href="/assets/a.png"><script src="/init-service-worker.js"></script><script>window.PUBLIC_URL="/"</script><script defer src="/app.bundle.js"></script><a href="//x">';
    const rebased = rebaseIndexHtml(html);
    assert.equal(rebased, '<link href="/ohif/assets/a.png"><script>window.PUBLIC_URL="/ohif/"</script><script defer src="/ohif/app.bundle.js"></script><a href="//x">');
    const expected = createHash('sha256').update('window.PUBLIC_URL="/ohif/"').digest('base64');
    assert.deepEqual(inlineScriptHashes(rebased), [`'sha256-${expected}'`]);
  });
  test('app-config.js names one DICOMweb source on the proxy and no other', () => {
    const config = ohifAppConfig('/dicom-web');
    const window = { location: { origin: 'http://127.0.0.1:8088' } } as { location: { origin: string }; config?: { dataSources: Array<{ configuration: Record<string, unknown> }>; routerBasename: string } };
    new Function('window', config)(window);
    assert.equal(window.config!.routerBasename, '/ohif');
    assert.equal(window.config!.dataSources.length, 1);
    const source = window.config!.dataSources[0]!.configuration;
    assert.equal(source.qidoRoot, 'http://127.0.0.1:8088/dicom-web');
    assert.equal(source.wadoRoot, 'http://127.0.0.1:8088/dicom-web');
    assert.equal(source.dicomUploadEnabled, false);
  });
});

const ohifMissing = ohifDistProblem(defaultOhifDist());

describe('the viewer and its DICOMweb proxy on a running service', { skip: ohifMissing ?? false, timeout: 180_000 }, () => {
  let orthanc: RunningOrthanc;
  let service: RunningService;
  let dataDir: string;
  let uid: string;
  let seriesUID: string;
  const lines: string[] = [];
  const bearer = { Authorization: `Bearer ${VIEWER}` };

  before(async () => {
    orthanc = await startTestOrthanc({ users: { [ORTHANC_USER]: ORTHANC_PASSWORD } });
    dataDir = mkdtempSync(join(tmpdir(), 'pulse-viewer-proxy-'));
    const config = ConfigSchema.parse({
      orthanc: { url: orthanc.url, username: ORTHANC_USER, password: ORTHANC_PASSWORD },
      dataDir,
      server: { port: 0, auth: { viewerTokens: [VIEWER] } },
      viewer: { ohif: true },
      changesFeed: { enabled: false },
    });
    // No secrets given to the logger: a credential that reached a log line would show.
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
    service = await startService({ config, processor: createProcessor(), logger: createLogger('debug', { stream }) });
    const client = new OrthancRestClient({ url: orthanc.url, username: ORTHANC_USER, password: ORTHANC_PASSWORD });
    const study = generateStudy({ seed: 5, slices: 3, phases: 2 });
    for (const file of study.files) await client.uploadInstance(file.bytes);
    uid = study.truth.studyInstanceUID;
    seriesUID = study.truth.seriesInstanceUID;
  });
  after(async () => {
    await service?.stop(1000);
    await orthanc?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('without a token: the viewer page is the sign-in form and DICOMweb is refused; static assets are served', async () => {
    const page = await fetch(`${service.url}/ohif/viewer?StudyInstanceUIDs=${uid}`);
    assert.equal(page.status, 401);
    assert.match(await page.text(), /name="token"/);
    assert.equal((await fetch(`${service.url}/dicom-web/studies`)).status, 401);
    assert.equal((await fetch(`${service.url}/dicom-web/studies/${uid}/metadata`)).status, 401);
    const config = await fetch(`${service.url}/ohif/app-config.js`);
    assert.equal(config.status, 200);
    assert.doesNotMatch(await config.text(), new RegExp(`${ORTHANC_PASSWORD}|${ORTHANC_USER}:`));
  });

  test('with a viewer token: the app, rebased, under its own Content-Security-Policy', async () => {
    const page = await fetch(`${service.url}/ohif/viewer?StudyInstanceUIDs=${uid}`, { headers: bearer });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /window\.PUBLIC_URL="\/ohif\/"/);
    assert.doesNotMatch(html, /init-service-worker/);
    const policy = page.headers.get('content-security-policy')!;
    assert.match(policy, /script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' 'sha256-/);
    assert.match(policy, /frame-ancestors 'none'/);
    // The dashboard keeps its strict policy.
    const dashboard = await fetch(`${service.url}/`, { headers: bearer });
    assert.doesNotMatch(dashboard.headers.get('content-security-policy')!, /unsafe-eval/);
    const bundle = html.match(/src="(\/ohif\/app\.bundle\.[0-9a-f]+\.js)"/)![1]!;
    const code = await (await fetch(`${service.url}${bundle}`)).text();
    assert.ok(code.includes('__webpack_require__.p = "/ohif/";'), 'webpack loads its chunks from /ohif/');
    const wasmFile = code.match(/"([0-9a-f]{16}\.wasm)"/)?.[1] ?? readdirSync(defaultOhifDist()).find((f) => f.endsWith('.wasm'))!;
    const wasm = await fetch(`${service.url}/ohif/${wasmFile}`);
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.equal((await fetch(`${service.url}/ohif/.pulse-ohif`, { headers: bearer })).headers.get('content-type')?.startsWith('text/html'), true, 'dot files are never served');
    assert.equal((await fetch(`${service.url}/ohif/no-such-file.js`, { headers: bearer })).status, 404);
  });

  test('QIDO-RS and WADO-RS pass with Orthanc credentials added here; BulkDataURIs point at the proxy', async () => {
    const studies = await fetch(`${service.url}/dicom-web/studies?StudyInstanceUID=${uid}`, { headers: bearer });
    assert.equal(studies.status, 200);
    assert.equal(studies.headers.get('content-type'), 'application/dicom+json');
    assert.equal(studies.headers.get('cache-control'), 'no-store');
    const found = (await studies.json()) as Array<Record<string, { Value: string[] }>>;
    assert.equal(found[0]!['0020000D']!.Value[0], uid);
    const metadata = await (await fetch(`${service.url}/dicom-web/studies/${uid}/series/${seriesUID}/metadata`, { headers: bearer })).text();
    const bulk = [...metadata.matchAll(/"BulkDataURI"\s*:\s*"([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(bulk.length > 0);
    for (const uri of bulk) assert.ok(uri.startsWith(`${service.url}/dicom-web/`), uri);
    const frame = await fetch(bulk[0]!, { headers: { ...bearer, Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    assert.equal(frame.status, 200);
    assert.ok((await frame.arrayBuffer()).byteLength > 0);
  });

  test('a whole series by WADO-RS arrives byte for byte as Orthanc sends it', async () => {
    const accept = 'multipart/related; type="application/dicom"; transfer-syntax=*';
    const path = `/dicom-web/studies/${uid}/series/${seriesUID}`;
    const proxied = await fetch(`${service.url}${path}`, { headers: { ...bearer, Accept: accept } });
    const direct = await fetch(`${orthanc.url}${path}`, { headers: { Accept: accept, Authorization: `Basic ${Buffer.from(`${ORTHANC_USER}:${ORTHANC_PASSWORD}`).toString('base64')}` } });
    assert.equal(proxied.status, 200);
    const a = Buffer.from(await proxied.arrayBuffer());
    const b = Buffer.from(await direct.arrayBuffer());
    // Each answer has its own multipart boundary; everything else is the same.
    const boundaryOf = (type: string | null) => /boundary=([^;]+)/.exec(type ?? '')![1]!.replaceAll('"', '');
    assert.equal(a.toString('latin1').replaceAll(boundaryOf(proxied.headers.get('content-type')), 'B'), b.toString('latin1').replaceAll(boundaryOf(direct.headers.get('content-type')), 'B'));
    assert.ok(a.byteLength > 50_000);
  });

  test('read-only: writes, deletions, other Orthanc routes and traversal are refused', async () => {
    const post = await fetch(`${service.url}/dicom-web/studies`, { method: 'POST', headers: { ...bearer, 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(post.status, 405);
    const del = await fetch(`${service.url}/dicom-web/studies/${uid}`, { method: 'DELETE', headers: bearer });
    assert.ok([404, 405].includes(del.status), `DELETE answered ${del.status}`);
    for (const path of ['/dicom-web/servers', '/dicom-web/info', `/dicom-web/studies/${uid}/..%2F..%2Fsystem`, `/dicom-web/studies/1.${'2'.repeat(70)}`]) {
      assert.equal((await fetch(`${service.url}${path}`, { headers: bearer })).status, 404, path);
    }
    // The study is still there.
    assert.equal((await fetch(`${service.url}/dicom-web/studies/${uid}/metadata`, { headers: bearer })).status, 200);
  });

  test("Orthanc's credentials appear in no answer and no log line", async () => {
    const answers = await Promise.all(
      ['/ohif/app-config.js', '/dicom-web/studies', `/dicom-web/studies/${uid}/metadata`, '/dicom-web/servers'].map(async (p) => {
        const res = await fetch(`${service.url}${p}`, { headers: bearer });
        return `${[...res.headers].join('\n')}\n${await res.text()}`;
      }),
    );
    const basic = Buffer.from(`${ORTHANC_USER}:${ORTHANC_PASSWORD}`).toString('base64');
    for (const text of [...answers, ...lines]) {
      assert.ok(!text.includes(ORTHANC_PASSWORD) && !text.includes(basic), 'a secret leaked');
    }
  });
});
