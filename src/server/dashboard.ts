/**
 * The dashboard: server-rendered HTML, no framework, no asset from elsewhere. The queue page (counts
 * and recent jobs) and one page per study: the key numbers with their reference ranges, the
 * diagnosis with its probability, quality control and calibration when the result has them, stage
 * timings, the mid-ventricular ED/ES thumbnails with contours, the LV volume curve (inline SVG) and
 * a link to the viewer; the queue page also shows the calibration history (calibration-history.ts)
 * once calibrations exist. The only script (dashboard-script.ts) signs in and sends admin actions as
 * JSON with the CSRF token.
 */
import { applyRange, REFERENCE_SOURCE } from '../analysis/normal-ranges.js';
import type { StudyResult } from '../core/result.js';
import type { Job, JobState } from '../queue/job-store.js';
import type { ArchivedStudy } from '../service/result-archive.js';
import { calibrationHistorySection, type CalibrationVersion } from './calibration-history.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function formatTimings(timings: Readonly<Record<string, number>>): string {
  return Object.entries(timings)
    .filter(([stage]) => !stage.startsWith('pipeline.'))
    .map(([stage, ms]) => `${stage} ${formatMs(ms)}`)
    .join(', ');
}

function formatTime(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** What every page needs: who is looking and how they may act. */
export interface PageContext {
  readonly title?: string;
  /** The CSRF token of a cookie session (admin actions send it back); absent otherwise. */
  readonly csrfToken?: string;
  readonly role?: 'viewer' | 'admin';
  /** Authentication is on (a sign-out link makes sense). */
  readonly signedIn?: boolean;
  /** Refresh the page every few seconds (the queue page). */
  readonly refreshSeconds?: number;
}

const STYLE = `
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}code{font-size:12px}
table.jobs{width:100%}.num{text-align:right;font-variant-numeric:tabular-nums}
.failed .state{color:#b00}.done .state{color:#070}.skipped .state{color:#777}.running .state{color:#06c}
.flag-LOW,.flag-HIGH{color:#b00;font-weight:600}.flag-NORMAL{color:#070}
.cards{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.card{border:1px solid #ddd;border-radius:6px;padding:.8em 1em}
.qc-pass{color:#070}.qc-review{color:#a60}.qc-fail{color:#b00}
.status-active{color:#2ca02c;font-weight:600}.status-inactive{color:#1f77b4}.status-rejected{color:#d62728}
figure{margin:0}figcaption{font-size:12px;color:#555}img.thumb{image-rendering:pixelated;border:1px solid #ccc;width:256px}
.note{color:#555;font-size:12px}button{font:inherit;padding:4px 10px}
header nav a{margin-right:1em}
`;

function page(context: PageContext, body: string): string {
  const title = escapeHtml(context.title ?? 'PULSE for Orthanc');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
${context.refreshSeconds ? `<meta http-equiv="refresh" content="${context.refreshSeconds}">` : ''}
${context.csrfToken ? `<meta name="csrf-token" content="${escapeHtml(context.csrfToken)}">` : ''}
<title>${title}</title>
<style>${STYLE}</style>
<script src="/assets/dashboard.js" defer></script>
</head><body>
<header><nav><a href="/">Queue</a><a href="/metrics">metrics</a><a href="/openapi.json">API</a>${context.signedIn ? '<a href="#" data-action="sign-out">sign out</a>' : ''}</nav></header>
${body}
<p class="note">Automated results for decision support; every result needs review by a qualified reader.</p>
</body></html>
`;
}

export function renderDashboard(jobs: readonly Job[], counts: Readonly<Record<JobState, number>>, context: PageContext = {}, calibrations: readonly CalibrationVersion[] = []): string {
  const rows = jobs
    .map((job) => {
      const outcome = job.outcome
        ? [
            // Quality control first: a failed result has no diagnosis or LVEF to show.
            job.outcome.qc === 'fail' ? 'QC FAILED' : job.outcome.qc === 'review' ? 'QC: review' : undefined,
            job.outcome.diagnosis,
            job.outcome.lvefPct === undefined ? undefined : `LVEF ${job.outcome.lvefPct.toFixed(0)} %`,
            job.outcome.urgent ? 'URGENT' : undefined,
            job.outcome.calibration ? `calibration ${job.outcome.calibration}` : undefined,
          ]
            .filter(Boolean)
            .join(', ')
        : '';
      const uid = escapeHtml(job.studyInstanceUID);
      return `<tr class="${job.state}"><td class="num">${job.id}</td><td><a href="/studies/${uid}"><code>${uid}</code></a></td><td class="state">${job.state}</td><td class="num">${job.attempts}</td><td>${escapeHtml(outcome)}</td><td>${escapeHtml(job.reason ?? '')}</td><td>${escapeHtml(formatTimings(job.timings))}</td><td>${formatTime(job.updatedAt)}</td></tr>`;
    })
    .join('\n');
  const summary = Object.entries(counts)
    .map(([state, n]) => `<span class="${state}"><span class="state">${state}</span>: <strong data-count="${state}">${n}</strong></span>`)
    .join(' · ');
  return page(
    { ...context, refreshSeconds: context.refreshSeconds ?? 10 },
    `<h1>${escapeHtml(context.title ?? 'PULSE for Orthanc')}</h1>
<p id="counts">${summary}</p>
<table class="jobs"><thead><tr><th>job</th><th>study</th><th>state</th><th>attempts</th><th>result</th><th>reason</th><th>timings</th><th>updated</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="8">no jobs yet</td></tr>'}
</tbody></table>
${calibrationHistorySection(calibrations)}`,
  );
}

/** Measurements shown on the study page, in reading order, with their units. */
const MEASUREMENTS: ReadonlyArray<readonly [key: string, label: string, unit: string]> = [
  ['lvef_pct', 'LV ejection fraction', '%'],
  ['lvedv_ml', 'LV end-diastolic volume', 'ml'],
  ['lvesv_ml', 'LV end-systolic volume', 'ml'],
  ['lvsv_ml', 'LV stroke volume', 'ml'],
  ['lv_mass_g', 'LV myocardial mass', 'g'],
  ['rvef_pct', 'RV ejection fraction', '%'],
  ['rvedv_ml', 'RV end-diastolic volume', 'ml'],
  ['rvesv_ml', 'RV end-systolic volume', 'ml'],
  ['lvedvi_ml_m2', 'LV end-diastolic volume index', 'ml/m²'],
  ['lvesvi_ml_m2', 'LV end-systolic volume index', 'ml/m²'],
  ['lvsvi_ml_m2', 'LV stroke volume index', 'ml/m²'],
  ['lv_mass_i_g_m2', 'LV mass index', 'g/m²'],
  ['rvedvi_ml_m2', 'RV end-diastolic volume index', 'ml/m²'],
  ['rvesvi_ml_m2', 'RV end-systolic volume index', 'ml/m²'],
  ['bsa_m2', 'Body-surface area (Mosteller)', 'm²'],
];

/** Indexed values and body-surface area are shown only when the result has them (height and weight known). */
const OPTIONAL = new Set(['lvedvi_ml_m2', 'lvesvi_ml_m2', 'lvsvi_ml_m2', 'lv_mass_i_g_m2', 'rvedvi_ml_m2', 'rvesvi_ml_m2', 'bsa_m2']);

function formatNumber(value: unknown, digits = 1): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';
}

function measurementRows(result: StudyResult): string {
  const known = new Set(MEASUREMENTS.map(([k]) => k));
  const extra = Object.keys(result.measurements)
    .filter((k) => !known.has(k))
    .map((k) => [k, k.replace(/_/g, ' '), /_ml_m2$/.test(k) ? 'ml/m²' : /_g_m2$/.test(k) ? 'g/m²' : ''] as const);
  return [...MEASUREMENTS.filter(([key]) => !OPTIONAL.has(key) || key in result.measurements), ...extra]
    .map(([key, label, unit]) => {
      const value = result.measurements[key];
      // The page does not know PatientSex or age: the sex-neutral range (union of both sexes' ranges).
      const range = typeof value === 'number' && Number.isFinite(value) ? applyRange(key, value) : undefined;
      const flag = range?.flag;
      const limits =
        range === undefined ? '' : range.low !== undefined && range.high !== undefined ? `${range.low}–${range.high} ${unit}` : range.low !== undefined ? `≥ ${range.low} ${unit}` : range.high !== undefined ? `≤ ${range.high} ${unit}` : '';
      return `<tr data-measurement="${escapeHtml(key)}"><td>${escapeHtml(label)}</td><td class="num">${formatNumber(value, key === 'bsa_m2' ? 2 : 1)}</td><td>${unit}</td><td>${limits}</td><td class="flag-${flag ?? ''}">${flag ?? ''}</td></tr>`;
    })
    .join('\n');
}

/**
 * The LV (and RV) cavity volume over the cardiac cycle as inline SVG, ED and ES marked. Only the
 * phases the model segmented count; a study of ED and ES alone draws two points.
 */
export function volumeCurveSvg(curves: Readonly<Record<string, readonly number[]>>, phases: { ed: number; es: number }): string {
  const lv = curves.lv ?? [];
  if (lv.length === 0) return '<p class="note">no volume curve</p>';
  const width = 420;
  const height = 220;
  const pad = { left: 44, right: 12, top: 12, bottom: 32 };
  const all = [...lv, ...(curves.rv ?? [])].filter(Number.isFinite);
  const max = Math.max(...all, 1) * 1.1;
  const n = lv.length;
  const x = (p: number): number => pad.left + (n === 1 ? 0 : (p / (n - 1)) * (width - pad.left - pad.right));
  const y = (v: number): number => pad.top + (1 - v / max) * (height - pad.top - pad.bottom);
  const line = (values: readonly number[], colour: string, name: string): string =>
    `<polyline data-curve="${name}" fill="none" stroke="${colour}" stroke-width="2" points="${values.map((v, p) => `${x(p).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`;
  const ticks = [0, max / 2, max].map((v) => `<text x="${pad.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="10">${Math.round(v)}</text>`).join('');
  const mark = (p: number, label: string): string =>
    `<g data-phase="${label}"><circle cx="${x(p).toFixed(1)}" cy="${y(lv[p] ?? 0).toFixed(1)}" r="5" fill="#c00"/><text x="${x(p).toFixed(1)}" y="${(y(lv[p] ?? 0) - 9).toFixed(1)}" text-anchor="middle" font-size="11" font-weight="600">${label}</text></g>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="volume-curve" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="LV volume over the cardiac cycle">
<rect x="${pad.left}" y="${pad.top}" width="${width - pad.left - pad.right}" height="${height - pad.top - pad.bottom}" fill="none" stroke="#ccc"/>
${ticks}<text x="12" y="${pad.top + 70}" font-size="10" transform="rotate(-90 12 ${pad.top + 70})">volume (ml)</text>
<text x="${(width + pad.left) / 2}" y="${height - 6}" text-anchor="middle" font-size="10">phase (1–${n})</text>
${curves.rv ? line(curves.rv, '#1f77b4', 'rv') : ''}${line(lv, '#d62728', 'lv')}
${mark(phases.ed, 'ED')}${phases.es !== phases.ed ? mark(phases.es, 'ES') : ''}
</svg>
<p class="note"><span style="color:#d62728">■</span> LV cavity${curves.rv ? ' · <span style="color:#1f77b4">■</span> RV cavity' : ''} · ED: largest, ES: smallest LV volume</p>`;
}

export interface StudyPageInput {
  readonly studyInstanceUID: string;
  readonly jobs: readonly Job[];
  /** The archived result of the newest finished job, when there is one. */
  readonly archived?: { readonly jobId: number; readonly study: ArchivedStudy; readonly hasThumbnails: boolean };
  /** Link that opens the study in a viewer, when one is configured. */
  readonly viewerUrl?: string;
}

export function renderStudyPage(input: StudyPageInput, context: PageContext = {}): string {
  const uid = escapeHtml(input.studyInstanceUID);
  const job = input.jobs[input.jobs.length - 1];
  const sections: string[] = [`<h1>Study <code>${uid}</code></h1>`];
  if (job) {
    sections.push(
      `<p>Job ${job.id}: <strong class="state job-state">${job.state}</strong>${job.reason ? ` — ${escapeHtml(job.reason)}` : ''} · model <code>${escapeHtml(job.modelKey)}</code> · updated ${formatTime(job.updatedAt)}</p>`,
    );
  }
  sections.push(
    input.viewerUrl
      ? `<p><a class="viewer-link" href="${escapeHtml(input.viewerUrl)}" target="_blank" rel="noopener">Open the study in the viewer</a></p>`
      : '<p class="note">No viewer configured (viewer.ohif / PULSE_VIEWER_OHIF for the embedded OHIF, or server.viewerUrl / PULSE_VIEWER_URL).</p>',
  );
  if (context.role === 'admin') {
    sections.push(`<p><button type="button" data-action="reprocess" data-uid="${uid}">Reprocess this study</button> <span class="action-status" role="status"></span></p>`);
  }
  const archived = input.archived;
  if (!archived) {
    sections.push('<p>No result yet.</p>');
    return page({ ...context, title: `PULSE — study ${input.studyInstanceUID}` }, sections.join('\n'));
  }
  const result = archived.study.result;
  const label = result.diagnosis.label;
  const probability = result.diagnosis.probabilities[label];
  const probabilities = Object.entries(result.diagnosis.probabilities)
    .sort((a, b) => b[1] - a[1])
    .map(([k, p]) => `${escapeHtml(k)} ${(p * 100).toFixed(0)} %`)
    .join(' · ');
  const qc = (result as StudyResult & { qc?: { status: string; reasons?: string[]; ood?: number } }).qc;
  const calibration = result.model.calibration;
  const timings = Object.entries(job?.timings ?? {})
    .map(([stage, ms]) => `<tr><td>${escapeHtml(stage)}</td><td class="num">${formatMs(ms)}</td></tr>`)
    .join('');
  const thumbs = archived.hasThumbnails
    ? ['ed', 'es']
        .map((phase) => {
          const index = phase === 'ed' ? result.phases.ed : result.phases.es;
          return `<figure><img class="thumb" alt="${phase.toUpperCase()} with contours" src="/studies/${uid}/thumbnail/${phase}"><figcaption>${phase.toUpperCase()} (phase ${index + 1}), slice ${(archived.study.thumbnailSlice ?? 0) + 1}</figcaption></figure>`;
        })
        .join('')
    : '<p class="note">no thumbnails</p>';
  sections.push(`<div class="cards">
<section class="card diagnosis"><h2>Diagnosis</h2><p><strong data-diagnosis="${escapeHtml(label)}">${escapeHtml(label)}</strong> with probability <strong>${formatNumber((probability ?? NaN) * 100, 0)} %</strong></p><p class="note">${probabilities}</p>
${qc ? `<p>Quality control: <strong class="qc-${escapeHtml(qc.status)}" data-qc="${escapeHtml(qc.status)}">${escapeHtml(qc.status)}</strong>${qc.reasons?.length ? ` — ${qc.reasons.map(escapeHtml).join('; ')}` : ''}</p>` : ''}
<p class="note">Model ${escapeHtml(result.model.name)} ${escapeHtml(result.model.version)}${calibration ? `, calibration <code data-calibration>${escapeHtml(calibration)}</code>` : ', no site calibration'}</p></section>
<section class="card"><h2>Key numbers</h2><table class="measurements"><thead><tr><th></th><th>value</th><th>unit</th><th>reference</th><th></th></tr></thead><tbody>
${measurementRows(result)}
</tbody></table><p class="note">Reference ranges for adults of either sex (the page does not know the patient's; the SR's narrative uses the sex-specific ones): ${escapeHtml(REFERENCE_SOURCE)}. Measurements without a range have none in the table.</p></section>
</div>
<div class="cards">
<section class="card"><h2>ED and ES, mid-ventricular</h2><div class="cards thumbnails">${thumbs}</div></section>
<section class="card"><h2>LV volume over the cardiac cycle</h2>${volumeCurveSvg(archived.study.volumeCurves, result.phases)}</section>
</div>
<div class="cards">
<section class="card"><h2>Narrative</h2><p>${escapeHtml(result.narrative)}</p></section>
<section class="card"><h2>Stage timings</h2><table class="timings">${timings}</table></section>
</div>`);
  return page({ ...context, title: `PULSE — study ${input.studyInstanceUID}` }, sections.join('\n'));
}

/** The sign-in page (shown with 401 wherever a token is needed and none came). */
export function renderLoginPage(message?: string): string {
  return page(
    { title: 'PULSE — sign in' },
    `<h1>PULSE for Orthanc</h1>
<form id="sign-in" method="post" action="/api/session">
<p>${escapeHtml(message ?? 'A token is needed to see this page.')}</p>
<p><label>Token <input type="password" name="token" autocomplete="current-password" required minlength="16" size="40"></label>
<button type="submit">Sign in</button></p>
<p class="action-status" role="status"></p>
</form>`,
  );
}
