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
import { describeJobStore } from '../src/queue/open-job-store.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { projectRoot } from './support/paths.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  profiles?: string[];
  secrets?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  healthcheck?: { test: string[] };
  container_name?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file: string }>;
  networks?: Record<string, unknown>;
}

const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');
const compose = parse(read('docker-compose.yml')) as Compose;
const orthancJson = JSON.parse(read('orthanc-config/orthanc.json')) as Record<string, any>;

/** "[address:]host:container" port pairs (the address, when given, is dropped). */
function ports(service: ComposeService): Array<[number, number]> {
  return (service.ports ?? []).map((p) => p.split(':').slice(-2).map(Number) as [number, number]);
}

test('docker-compose runs Orthanc (current orthancteam image), the service and OHIF, with volumes', () => {
  const always = Object.entries(compose.services).filter(([, s]) => s.profiles === undefined).map(([name]) => name);
  assert.deepEqual(always.sort(), ['ohif', 'orthanc', 'pulse']);
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

/** The service's configuration from a compose service's environment, each *_FILE secret given `secretText(name)`. */
function serviceConfig(service: ComposeService, secretText: (name: string) => string): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-deploy-'));
  try {
    const values = Object.fromEntries(
      Object.entries(service.environment ?? {}).map(([k, v]) => {
        if (!k.endsWith('_FILE')) return [k, v.replace(/\$\{PULSE_WEBHOOK_SECRET[^}]*\}/, 'a-long-webhook-secret')];
        assert.match(v, /^\/run\/secrets\//, `${k} reads a Docker secret`);
        assert.ok(service.secrets?.includes(v.slice('/run/secrets/'.length)), `${k}: secret ${v} is mounted`);
        const file = join(dir, k);
        writeFileSync(file, `${secretText(k)}\n`);
        return [k, file];
      }),
    );
    return loadConfig({ env: values });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the scale profile: PostgreSQL, an Orthanc whose index and files are in it, and N workers sharing one job store', () => {
  const scale = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('scale')).map(([name]) => name);
  assert.deepEqual(scale.sort(), ['orthanc-scale', 'postgres', 'pulse-worker']);
  const { postgres, 'orthanc-scale': orthanc, 'pulse-worker': worker } = compose.services as Record<string, ComposeService>;

  // PostgreSQL: its password from a Docker secret that scripts/make-secrets.sh writes; healthy before anyone connects.
  assert.match(postgres!.image!, /^postgres:15\b/);
  const pgEnv = postgres!.environment!;
  assert.equal(pgEnv.POSTGRES_PASSWORD_FILE, '/run/secrets/postgres_password');
  assert.ok(postgres!.secrets!.includes('postgres_password'));
  assert.ok(postgres!.volumes!.some((v) => v.endsWith(':/var/lib/postgresql/data')), 'the database persists');
  assert.deepEqual(postgres!.healthcheck!.test.slice(0, 2), ['CMD', 'pg_isready']);
  const makeSecrets = read('scripts/make-secrets.sh');
  for (const name of ['postgres_password', 'pulse_queue_url', 'pulse_admin_tokens', 'pulse_viewer_tokens']) {
    const file = compose.secrets?.[name]?.file;
    assert.ok(file?.startsWith('./secrets/'), `secret ${name} is declared`);
    assert.ok(makeSecrets.includes(`secrets/${file!.slice('./secrets/'.length)}`) || makeSecrets.includes(file!.slice('./secrets/'.length)), `make-secrets.sh writes ${file}`);
  }

  // Orthanc: Debian's packages with orthanc-postgresql, the same orthanc.json plus postgresql.json pointing at the postgres service.
  const build = orthanc!.build as { context: string; dockerfile: string };
  const dockerfile = read(join(build.context, build.dockerfile));
  assert.match(dockerfile, /apt-get install[^\n]*\borthanc\b[^\n]*\borthanc-dicomweb\b[^\n]*\borthanc-postgresql\b/);
  assert.match(dockerfile, /COPY orthanc\.json pulse-webhook\.lua postgresql\.json /);
  assert.match(dockerfile, /\/run\/secrets\/postgres_password/);
  assert.ok(orthanc!.secrets!.includes('postgres_password'));
  assert.deepEqual((orthanc!.depends_on as Record<string, { condition: string }>).postgres, { condition: 'service_healthy' });
  const postgresJson = JSON.parse(read('orthanc-config/postgresql.json')) as { Plugins: string[]; PostgreSQL: Record<string, unknown> };
  assert.equal(postgresJson.PostgreSQL.EnableIndex, true);
  assert.equal(postgresJson.PostgreSQL.EnableStorage, true);
  assert.deepEqual([postgresJson.PostgreSQL.Host, postgresJson.PostgreSQL.Port, postgresJson.PostgreSQL.Database, postgresJson.PostgreSQL.Username], ['postgres', 5432, pgEnv.POSTGRES_DB, pgEnv.POSTGRES_USER]);
  assert.equal(postgresJson.PostgreSQL.Password, '${ORTHANC_POSTGRESQL_PASSWORD}', 'the password comes from the secret, not the file');
  for (const key of Object.keys(postgresJson)) assert.ok(!(key in orthancJson), `${key} is defined once (Orthanc refuses a section in two files)`);
  assert.ok('PULSE_WEBHOOK_SECRET' in orthanc!.environment!);
  const published = ports(orthanc!).map(([h]) => h);
  for (const port of published) assert.ok(!ports(compose.services.orthanc!).some(([h]) => h === port), `host port ${port} differs from the default Orthanc's`);

  // Workers: scalable (no fixed name, a host port range), the shared PostgreSQL queue from a secret URL.
  assert.equal(worker!.container_name, undefined);
  assert.match(worker!.ports![0]!, /^127\.0\.0\.1:\d+-\d+:8088$/, 'one loopback host port per replica');
  const config = serviceConfig(worker!, (name) => (name === 'PULSE_QUEUE_POSTGRES_URL_FILE' ? `postgres://${pgEnv.POSTGRES_USER}:pw@postgres:5432/${pgEnv.POSTGRES_DB}` : `sample-token-for-${name.toLowerCase()}`));
  assert.equal(config.queue.backend, 'postgres');
  assert.equal(describeJobStore(config), `PostgreSQL postgres:5432/${pgEnv.POSTGRES_DB} (schema pulse)`);
  assert.equal(new URL(config.orthanc.url).hostname, 'orthanc-scale');
  assert.ok(config.server.auth.adminTokens.length >= 1, 'published replicas have authentication on');
  const queueUrl = makeSecrets.match(/postgres:\/\/([^:]+):%s@([^:/]+):(\d+)\/(\w+)/);
  assert.deepEqual(queueUrl?.slice(1), [pgEnv.POSTGRES_USER, 'postgres', '5432', pgEnv.POSTGRES_DB], 'make-secrets.sh writes the URL of the postgres service');
  assert.deepEqual((worker!.depends_on as Record<string, { condition: string }>).postgres, { condition: 'service_healthy' });
  assert.ok(worker!.volumes!.some((v) => v.endsWith(`:${config.dataDir}`)), 'calibrations and results shared by the replicas');

  // Their own network: there, Orthanc's webhook host name reaches the workers, not the single-machine service.
  const webhookHost = new URL(orthancJson.PulseWebhook.Url).hostname;
  const networks = worker!.networks as Record<string, { aliases?: string[] }>;
  assert.ok(networks.scale?.aliases?.includes(webhookHost), `the workers answer to ${webhookHost} on the scale network`);
  assert.deepEqual(orthanc!.networks, ['scale']);
  assert.deepEqual(postgres!.networks, ['scale']);
  assert.ok(compose.networks && 'scale' in compose.networks);
  assert.equal(compose.services.pulse!.networks, undefined, 'the single-machine service stays off the scale network');
});
