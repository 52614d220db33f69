/**
 * The dashboard's calibration history: every stored calibration version, oldest to newest, with what
 * its leave-one-study-out evaluation measured before and after it (mean Dice over the structures,
 * LVEF mean absolute error) drawn as two inline SVG plots and listed in a table with its status.
 * Pure: calibrations in, HTML out. Shown once calibrations exist.
 */
import type { CalibrationProfile, CalibrationStatus } from '../calibration/profile.js';
import type { SummaryMetrics } from '../calibration/cases.js';

export interface CalibrationVersion {
  readonly profile: CalibrationProfile;
  readonly status: CalibrationStatus;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Mean Dice over the structures that have one, or null. */
export function meanDice(summary: SummaryMetrics): number | null {
  const values = Object.values(summary.dice).filter((v): v is number => typeof v === 'number');
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

const STATUS_COLOUR: Record<CalibrationStatus, string> = { active: '#2ca02c', inactive: '#1f77b4', rejected: '#d62728' };

interface Point {
  /** 1-based position among all stored versions, oldest first (the table's numbering). */
  readonly version: number;
  readonly id: string;
  readonly status: CalibrationStatus;
  readonly before: number;
  readonly after: number;
}

/** One plot: per version, the value before (grey) and after (the status colour), joined by a line. */
function beforeAfterSvg(points: readonly Point[], what: { name: string; axis: string; digits: number; better: 'higher' | 'lower' }): string {
  const width = 460;
  const height = 210;
  const pad = { left: 48, right: 16, top: 14, bottom: 34 };
  const values = points.flatMap((p) => [p.before, p.after]);
  let low = Math.min(...values);
  let high = Math.max(...values);
  const margin = Math.max((high - low) * 0.15, what.digits >= 2 ? 0.01 : 0.5);
  low = Math.max(0, low - margin);
  high += margin;
  const n = points.length;
  const x = (i: number): number => pad.left + ((i + 0.5) / n) * (width - pad.left - pad.right);
  const y = (v: number): number => pad.top + (1 - (v - low) / (high - low)) * (height - pad.top - pad.bottom);
  const ticks = [low, (low + high) / 2, high].map((v) => `<text x="${pad.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="10">${v.toFixed(what.digits)}</text>`).join('');
  const marks = points
    .map((p, i) => {
      const [xb, yb, ya] = [x(i), y(p.before), y(p.after)];
      return `<g data-calibration="${escapeHtml(p.id)}" data-status="${p.status}" data-before="${p.before.toFixed(4)}" data-after="${p.after.toFixed(4)}"><title>${escapeHtml(p.id)} (${p.status}): ${p.before.toFixed(what.digits)} → ${p.after.toFixed(what.digits)}</title>
<line x1="${xb.toFixed(1)}" y1="${yb.toFixed(1)}" x2="${xb.toFixed(1)}" y2="${ya.toFixed(1)}" stroke="${STATUS_COLOUR[p.status]}" stroke-width="2"/>
<circle cx="${xb.toFixed(1)}" cy="${yb.toFixed(1)}" r="4" fill="#999"/><circle cx="${xb.toFixed(1)}" cy="${ya.toFixed(1)}" r="5" fill="${STATUS_COLOUR[p.status]}"/>
<text x="${xb.toFixed(1)}" y="${height - pad.bottom + 14}" text-anchor="middle" font-size="10">v${p.version}</text></g>`;
    })
    .join('\n');
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" class="calibration-plot" data-metric="${escapeHtml(what.name)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(what.axis)} before and after each calibration version">
<rect x="${pad.left}" y="${pad.top}" width="${width - pad.left - pad.right}" height="${height - pad.top - pad.bottom}" fill="none" stroke="#ccc"/>
${ticks}<text x="12" y="${pad.top + 80}" font-size="10" transform="rotate(-90 12 ${pad.top + 80})">${escapeHtml(what.axis)}</text>
<text x="${(width + pad.left) / 2}" y="${height - 4}" text-anchor="middle" font-size="10">calibration version (oldest to newest)</text>
${marks}
</svg><figcaption>${escapeHtml(what.axis)}: <span style="color:#999">●</span> before, ● after (colour: <span style="color:${STATUS_COLOUR.active}">active</span>, <span style="color:${STATUS_COLOUR.inactive}">inactive</span>, <span style="color:${STATUS_COLOUR.rejected}">rejected</span>); ${what.better} is better</figcaption></figure>`;
}

function scopeText(profile: CalibrationProfile): string {
  const parts = Object.entries(profile.scope).filter(([, v]) => typeof v === 'string' && v.length > 0).map(([k, v]) => `${k}=${v}`);
  return parts.length > 0 ? parts.join(', ') : 'any study';
}

const fmt = (v: number | null | undefined, digits: number): string => (v === null || v === undefined ? '–' : v.toFixed(digits));

/** The section, or '' when no calibration is stored. `versions` may come in any order. */
export function calibrationHistorySection(versions: readonly CalibrationVersion[]): string {
  if (versions.length === 0) return '';
  const ordered = [...versions].sort((a, b) => a.profile.created.localeCompare(b.profile.created) || a.profile.id.localeCompare(b.profile.id));
  const points = (pick: (s: SummaryMetrics) => number | null): Point[] =>
    ordered.flatMap(({ profile, status }, index) => {
      if (profile.metrics === null) return [];
      const before = pick(profile.metrics.before);
      const after = pick(profile.metrics.after);
      return before === null || after === null ? [] : [{ version: index + 1, id: profile.id, status, before, after }];
    });
  const dice = points(meanDice);
  const lvef = points((s) => s.lvefMae);
  const plots = [
    dice.length > 0 ? beforeAfterSvg(dice, { name: 'mean-dice', axis: 'mean Dice', digits: 3, better: 'higher' }) : '',
    lvef.length > 0 ? beforeAfterSvg(lvef, { name: 'lvef-mae', axis: 'LVEF MAE (points)', digits: 1, better: 'lower' }) : '',
  ].filter(Boolean);
  const rows = ordered
    .map(({ profile, status }, i) => {
      const m = profile.metrics;
      return `<tr data-calibration="${escapeHtml(profile.id)}"><td>v${i + 1}</td><td><code>${escapeHtml(profile.id)}</code></td><td>${escapeHtml(profile.created.replace('T', ' ').replace(/\.\d+Z$/u, 'Z'))}</td><td>${escapeHtml(profile.model.name)} ${escapeHtml(profile.model.version)}</td><td>${escapeHtml(scopeText(profile))}</td><td class="num">${profile.k}</td><td class="status-${status}">${status}</td><td class="num">${m ? `${fmt(meanDice(m.before), 3)} → ${fmt(meanDice(m.after), 3)}` : '–'}</td><td class="num">${m ? `${fmt(m.before.lvefMae, 1)} → ${fmt(m.after.lvefMae, 1)}` : '–'}</td><td>${escapeHtml(profile.reason)}</td></tr>`;
    })
    .join('\n');
  return `<section id="calibrations"><h2>Site calibrations</h2>
<p class="note">Each version's leave-one-study-out evaluation on its annotated studies: before (what ran then) and after (this calibration).</p>
<div class="cards">${plots.join('\n')}</div>
<table class="calibrations"><thead><tr><th>version</th><th>id</th><th>created</th><th>model</th><th>scope</th><th>K</th><th>status</th><th>mean Dice</th><th>LVEF MAE</th><th>why</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}
