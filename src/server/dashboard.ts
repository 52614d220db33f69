/** The dashboard: one server-rendered HTML page of recent jobs (no framework, no scripts but a refresh). */
import type { Job, JobState } from '../queue/job-store.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function formatTimings(timings: Readonly<Record<string, number>>): string {
  return Object.entries(timings)
    .filter(([stage]) => !stage.startsWith('pipeline.'))
    .map(([stage, ms]) => `${stage} ${ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`}`)
    .join(', ');
}

function formatTime(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function renderDashboard(jobs: readonly Job[], counts: Readonly<Record<JobState, number>>, title = 'PULSE for Orthanc'): string {
  const rows = jobs
    .map((job) => {
      const outcome = job.outcome
        ? [job.outcome.diagnosis, job.outcome.lvefPct === undefined ? undefined : `LVEF ${job.outcome.lvefPct.toFixed(0)} %`, job.outcome.urgent ? 'URGENT' : undefined].filter(Boolean).join(', ')
        : '';
      return `<tr class="${job.state}"><td><a href="api/jobs/${job.id}">${job.id}</a></td><td><code>${escapeHtml(job.studyInstanceUID)}</code></td><td>${job.state}</td><td>${job.attempts}</td><td>${escapeHtml(outcome)}</td><td>${escapeHtml(job.reason ?? '')}</td><td>${escapeHtml(formatTimings(job.timings))}</td><td>${formatTime(job.updatedAt)}</td></tr>`;
    })
    .join('\n');
  const summary = Object.entries(counts)
    .map(([state, n]) => `<span class="${state}">${state}: ${n}</span>`)
    .join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}code{font-size:12px}
.failed td:nth-child(3){color:#b00}.done td:nth-child(3){color:#070}.skipped td:nth-child(3){color:#777}.running td:nth-child(3){color:#06c}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${summary}</p>
<p>Automated results for decision support; every result needs review. <a href="metrics">metrics</a> · <a href="health">health</a> · <a href="api/jobs">jobs (JSON)</a></p>
<table><thead><tr><th>job</th><th>study</th><th>state</th><th>attempts</th><th>result</th><th>reason</th><th>timings</th><th>updated</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="8">no jobs yet</td></tr>'}
</tbody></table>
</body></html>
`;
}
