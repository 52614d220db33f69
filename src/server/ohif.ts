/**
 * The OHIF v3 viewer served by the service under /ohif/ (`viewer.ohif`), from the prebuilt dist/ of
 * the npm package @ohif/app that scripts/install-ohif.sh puts in vendor/ohif/. Nothing is rebuilt:
 * the dist is built for the site root, so four things are adapted in memory when served —
 * index.html's asset links and PUBLIC_URL, webpack's public path in the bundles that carry one, the
 * root-relative url()s of the style sheets, and
 * app-config.js, written here with one DICOMweb data source: the service's own read-only proxy
 * (dicomweb-proxy.ts), so Orthanc's credentials never reach the browser. The viewer gets a looser
 * Content-Security-Policy than the dashboard (its codecs are WebAssembly, some of its code uses
 * eval, its workers start from blobs), on its own paths only.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextFunction, Request, Response } from 'express';

/** Where the viewer lives on the service. */
export const OHIF_BASE = '/ohif';

/** The version scripts/install-ohif.sh installs (its marker file names it). */
export const OHIF_PACKAGE = '@ohif/app@3.13.2';

/** vendor/ohif in the project folder (where scripts/install-ohif.sh puts the viewer). */
export function defaultOhifDist(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && readFileSync(pkg, 'utf8').includes('"name": "pulse-for-orthanc"')) return join(dir, 'vendor', 'ohif');
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), 'vendor', 'ohif');
    dir = parent;
  }
}

/** What is wrong with an OHIF dist folder, or undefined when it can be served. */
export function ohifDistProblem(dist: string): string | undefined {
  if (!existsSync(join(dist, 'index.html')) || !existsSync(join(dist, 'app-config.js'))) {
    return `no OHIF viewer in ${dist} (run: bash scripts/install-ohif.sh, which fetches ${OHIF_PACKAGE} from the npm registry)`;
  }
  return undefined;
}

/** The link that opens one study in the viewer. */
export function ohifStudyLink(studyInstanceUID: string): string {
  return `${OHIF_BASE}/viewer?StudyInstanceUIDs=${encodeURIComponent(studyInstanceUID)}`;
}

/**
 * app-config.js: one DICOMweb data source on this origin's proxy (`dicomWebPath`, e.g. /dicom-web).
 * The roots are absolute URLs built in the browser from its own origin, as OHIF's DICOMweb client wants.
 */
export function ohifAppConfig(dicomWebPath: string): string {
  const root = JSON.stringify(dicomWebPath);
  return `/* Written by PULSE for Orthanc (src/server/ohif.ts): the viewer reads Orthanc through the service's read-only DICOMweb proxy. */
window.config = {
  name: 'pulse-for-orthanc',
  routerBasename: ${JSON.stringify(OHIF_BASE)},
  extensions: [],
  modes: [],
  showStudyList: true,
  maxNumberOfWebWorkers: 2,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: true,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  investigationalUseDialog: { option: 'never' },
  defaultDataSourceName: 'pulse',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'pulse',
      configuration: {
        friendlyName: 'Orthanc (through PULSE)',
        name: 'pulse',
        wadoUriRoot: window.location.origin + ${root},
        qidoRoot: window.location.origin + ${root},
        wadoRoot: window.location.origin + ${root},
        qidoSupportsIncludeField: false,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        dicomUploadEnabled: false,
        omitQuotationForMultipartRequest: true,
        bulkDataURI: { enabled: true, relativeResolution: 'studies' },
      },
    },
  ],
};
`;
}

/** webpack's runtime public path as the dist writes it (built for the site root). */
const PUBLIC_PATH = '__webpack_require__.p = "/";';

/** index.html for OHIF_BASE: links, PUBLIC_URL, and no service worker (nothing is cached offline). */
export function rebaseIndexHtml(html: string): string {
  return html
    .replace(/<script[^>]*src="\/init-service-worker\.js"[^>]*><\/script>/u, '')
    .replaceAll('window.PUBLIC_URL="/"', `window.PUBLIC_URL="${OHIF_BASE}/"`)
    .replace(/(href|src)="\/(?!\/)/gu, `$1="${OHIF_BASE}/`);
}

/** The sha256 sources of the inline scripts of a page, for its Content-Security-Policy. */
export function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gu)].map((m) => `'sha256-${createHash('sha256').update(m[1] ?? '').digest('base64')}'`);
}

/**
 * The viewer's policy: scripts from this origin, its two inline scripts by hash, eval and
 * WebAssembly (codecs, vtk.js); workers and images from blobs; data only from this origin.
 */
export function ohifContentSecurityPolicy(scriptHashes: readonly string[]): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' ${scriptHashes.join(' ')}`.trim(),
    "worker-src 'self' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export interface OhifHandlerOptions {
  /** The dist folder (vendor/ohif). */
  readonly dist: string;
  /** Path of the DICOMweb proxy on this origin (/dicom-web). */
  readonly dicomWebPath: string;
  /**
   * Called before the app's page (every SPA route) is sent: answers (a sign-in page) and returns
   * false when the request may not see it. Static assets hold no patient data and are not gated.
   */
  readonly gate: (req: Request, res: Response) => boolean;
}

/**
 * Express middleware for everything under OHIF_BASE (mount with `app.use(OHIF_BASE, ...)`):
 * generated app-config.js, the rebased index.html for SPA routes, files of the dist (bundles that
 * carry webpack's public path patched once and kept in memory).
 */
export function createOhifHandler(options: OhifHandlerOptions) {
  const root = normalize(options.dist);
  const index = rebaseIndexHtml(readFileSync(join(root, 'index.html'), 'utf8'));
  const policy = ohifContentSecurityPolicy(inlineScriptHashes(index));
  const appConfig = ohifAppConfig(options.dicomWebPath);
  const patched = new Map<string, Buffer | null>();

  /** A bundle's bytes with the public path (JS) or its url(/...) (CSS) rebased, or null when it carries none. */
  const rebasedBundle = (file: string): Buffer | null => {
    let cached = patched.get(file);
    if (cached === undefined) {
      const text = readFileSync(file, 'utf8');
      const rebased = extname(file) === '.css' ? text.replaceAll('url(/', `url(${OHIF_BASE}/`) : text.replaceAll(PUBLIC_PATH, `__webpack_require__.p = "${OHIF_BASE}/";`);
      cached = rebased !== text ? Buffer.from(rebased) : null;
      patched.set(file, cached);
    }
    return cached;
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    res.set('Content-Security-Policy', policy);
    let path: string;
    try {
      path = decodeURIComponent(req.path);
    } catch {
      return void res.status(400).json({ error: 'malformed path' });
    }
    if (path === '/app-config.js') {
      res.type('application/javascript').set('Cache-Control', 'no-cache').send(appConfig);
      return;
    }
    const file = normalize(join(root, path));
    const inside = file.startsWith(root + sep) && !path.split('/').some((part) => part.startsWith('.'));
    if (inside && existsSync(file) && statSync(file).isFile() && path !== '/index.html') {
      const bundle = ['.js', '.css'].includes(extname(file)) ? rebasedBundle(file) : null;
      if (bundle !== null) return void res.type(extname(file)).set('Cache-Control', 'public, max-age=3600').send(bundle);
      return res.sendFile(file, { dotfiles: 'deny', maxAge: 3_600_000 }, (error) => error && next(error));
    }
    // A missing file is a 404; anything else is one of the app's own routes (/viewer, /segmentation, ...).
    if (extname(path) !== '' && path !== '/index.html') return next();
    if (!options.gate(req, res)) return;
    res.type('html').set('Cache-Control', 'no-cache').send(index);
  };
}
