/**
 * The deployment files, checked statically (Docker cannot run here): docker-compose.yml, the
 * Dockerfile, Orthanc's production configuration, the Lua webhook and the OHIF configuration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { tmpdir } from 'node:os';
import { environmentNames } from '../src/config/environment.js';
import { loadConfig } from '../src/config/load.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { projectRoot } from './support/paths.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');
const compose = parse(read('docker-compose.yml')) as Compose;
const orthancJson = JSON.parse(read('orthanc-config/orthanc.json')) as Record<string, any>;

/** "[address:]host:container" port pairs (the address, when given, is dropped). */
function ports(service: ComposeService): Array<[number, number]> {
  return (service.ports ?? []).map((p) => p.split(':').slice(-2).map(Number) as [number, number]);
}

test('docker-compose runs Orthanc (current orthancteam image), the service and OHIF, with volumes', () => {
  assert.deepEqual(Object.keys(compose.services).sort(), ['ohif', 'orthanc', 'pulse']);
  const { orthanc, pulse, ohif } = compose.services as Record<string, ComposeService>;
  assert.match(orthanc!.image!, /^orthancteam\/orthanc(:latest)?$/);
  assert.deepEqual(ports(orthanc!).map(([, c]) => c).sort(), [4242, 8042]);
  assert.ok(pulse!.build !== undefined, 'the service is built from the Dockerfile');
  assert.deepEqual(pulse!.depends_on, ['orthanc']);
  assert.match(ohif!.image!, /^ohif\/app/);
  // Named volumes are declared; bind mounts point at files that exist.
  for (const [name, service] of Object.entries(compose.services)) {
    for (const volume of service.volumes ?? []) {
      const [source, target] = volume.split(':');
      assert.ok(target?.startsWith('/'), `${name}: ${volume}`);
      if (source!.startsWith('./')) assert.ok(existsSync(join(projectRoot, source!)), `${name} mounts ${source}, which is missing`);
      else assert.ok(compose.volumes && source! in compose.volumes, `${name}: volume ${source} is not declared`);
    }
  }
  assert.ok(orthanc!.volumes!.some((v) => v.endsWith(':/var/lib/orthanc/db')), 'Orthanc storage persists');
  assert.ok(pulse!.volumes!.some((v) => v.endsWith(`:${pulse!.environment!.PULSE_DATA_DIR}`)), 'the queue database persists');
});

test("the service's environment names only variables the configuration reads, with valid values", () => {
  const env = compose.services.pulse!.environment!;
  const known = new Set(environmentNames());
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is not read by the service (src/config/environment.ts)`);
  // Secret files (Docker secrets under /run/secrets) stand in as temporary files with sample tokens.
  const dir = mkdtempSync(join(tmpdir(), 'pulse-deploy-'));
  const values = Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      if (!k.endsWith('_FILE')) return [k, v.replace(/\$\{PULSE_WEBHOOK_SECRET[^}]*\}/, 'a-long-webhook-secret')];
      assert.match(v, /^\/run\/secrets\//, `${k} reads a Docker secret`);
      const file = join(dir, k);
      writeFileSync(file, `sample-token-for-${k.toLowerCase()}\n`);
      return [k, file];
    }),
  );
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ env: values });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(config.server.auth.adminTokens.length >= 1, 'the published service has authentication on');
  assert.deepEqual(compose.services.pulse!.ports, [`127.0.0.1:${config.server.port}:${config.server.port}`], 'published on loopback only');
  assert.equal(config.orthanc.url, 'http://orthanc:8042');
  assert.equal(config.server.host, '0.0.0.0');
  const [[host, container]] = ports(compose.services.pulse!) as [[number, number]];
  assert.equal(container, config.server.port);
  assert.equal(host, config.server.port);
  assert.equal(config.orthanc.username, Object.keys(orthancJson.RegisteredUsers)[0], 'the service logs in as the Orthanc user');
  assert.equal(config.orthanc.password, Object.values(orthancJson.RegisteredUsers)[0]);
});

test("Orthanc's production configuration: DICOMweb, StableAge, user metadata, the Lua webhook, authentication", () => {
  assert.equal(orthancJson.DicomWeb.Enable, true);
  assert.equal(orthancJson.DicomWeb.Root, '/dicom-web/');
  assert.ok(Number.isInteger(orthancJson.StableAge) && orthancJson.StableAge >= 5 && orthancJson.StableAge <= 120);
  assert.deepEqual(orthancJson.UserMetadata, USER_METADATA_DECLARATION);
  assert.equal(orthancJson.AuthenticationEnabled, true);
  assert.ok(Object.keys(orthancJson.RegisteredUsers).length === 1);
  const luaMount = compose.services.orthanc!.volumes!.find((v) => v.startsWith('./orthanc-config/pulse-webhook.lua:'))!;
  assert.deepEqual(orthancJson.LuaScripts, [luaMount.split(':')[1]]);
  const url = new URL(orthancJson.PulseWebhook.Url);
  assert.equal(url.hostname, 'pulse');
  assert.equal(Number(url.port), loadConfig({ env: { PULSE_PORT: compose.services.pulse!.environment!.PULSE_PORT } }).server.port);
  assert.equal(url.pathname, '/webhook/stable-study');
  assert.equal(orthancJson.PulseWebhook.Secret, '${PULSE_WEBHOOK_SECRET}', 'the secret comes from the environment, not the file');
  assert.ok('PULSE_WEBHOOK_SECRET' in compose.services.orthanc!.environment!);
});

test('the Lua script posts every stable study with the shared secret header', () => {
  const lua = read('orthanc-config/pulse-webhook.lua');
  assert.match(lua, /function OnStableStudy\(studyId, tags, metadata\)/);
  assert.match(lua, /HttpPost/);
  assert.match(lua, /\['X-Pulse-Secret'\]/);
  assert.match(lua, /GetOrthancConfiguration\(\)/);
  assert.match(lua, /tags\['StudyInstanceUID'\]/);
  assert.doesNotMatch(lua, /PatientName|PatientID|AccessionNumber/, 'no patient data leaves Orthanc in the announcement');
});

test('OHIF reads Orthanc through DICOMweb, proxied to the orthanc service', () => {
  const ohif = read('orthanc-config/ohif-config.js');
  assert.match(ohif, /qidoRoot: '\/dicom-web'/);
  assert.match(ohif, /wadoRoot: '\/dicom-web'/);
  const nginx = read('orthanc-config/ohif-nginx.conf');
  assert.match(nginx, /proxy_pass http:\/\/orthanc:8042\/dicom-web\//);
  const user = Object.entries(orthancJson.RegisteredUsers)[0] as [string, string];
  assert.ok(nginx.includes(`Basic ${Buffer.from(`${user[0]}:${user[1]}`).toString('base64')}`), 'the proxy logs in as the Orthanc user');
});

test('the Dockerfile builds on one Node LTS image that engines allows, with npm ci from the npm registry only', () => {
  const dockerfile = read('Dockerfile');
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  const majors = froms.map((f) => Number(/^node:(\d+)-bookworm-slim$/.exec(f ?? '')?.[1]));
  // Even majors are the LTS lines; package.json's engines allow 22.13 and later (and 20.19 for now).
  assert.ok(froms.length >= 1 && new Set(froms).size === 1, froms.join(', '));
  assert.ok(majors.every((m) => Number.isInteger(m) && m % 2 === 0 && m >= 22), froms.join(', '));
  assert.match(JSON.parse(read('package.json')).engines.node, />=22\.13\.0/);
  assert.match(dockerfile, /RUN npm ci\b/);
  assert.doesNotMatch(dockerfile, /--registry|npm install\b|curl |wget |pip install/);
  assert.match(dockerfile, /COPY models \.\/models/, 'the bundled model ships in the image');
  assert.match(dockerfile, /EXPOSE 8088/);
  assert.match(dockerfile, /CMD \["serve"\]/);
  const ignore = read('.dockerignore').split('\n');
  assert.ok(ignore.includes('node_modules') && ignore.includes('.pulse-data'));
});
