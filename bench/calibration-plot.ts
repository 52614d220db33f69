/**
 * Draws docs/calibration/curves.svg from the measured curves (bench/calibration-curves.ts): one panel
 * per domain, Dice per structure against the number of annotated studies K (0 = zero-shot), the
 * in-domain Dice as dashed lines and the goal (90 % of it) as dotted ones; LVEF MAE in the panel title.
 *
 *   node dist/bench/calibration-plot.js [--in docs/calibration/curves.json] [--out docs/calibration/curves.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { argument } from './args.js';


interface Scores {
  readonly dice: Record<string, number>;
  readonly lvefMae: number;
}
interface DomainCurves {
  readonly inDomain: Scores;
  readonly zeroShot: Scores;
  readonly shots: Record<string, Scores>;
}

const COLOURS: Record<string, string> = { lv: '#d62728', myo: '#2ca02c', rv: '#1f77b4' };
const W = 300;
const H = 230;
const M = { left: 40, right: 12, top: 34, bottom: 34 };

function panel(name: string, d: DomainCurves, x0: number): string {
  const ks = [0, ...Object.keys(d.shots).map(Number).sort((a, b) => a - b)];
  const maxK = Math.max(...ks);
  const px = (k: number) => x0 + M.left + (k / maxK) * (W - M.left - M.right);
  const py = (v: number) => M.top + (1 - v) * (H - M.top - M.bottom);
  const parts: string[] = [];
  const mae = ks.map((k) => (k === 0 ? d.zeroShot.lvefMae : d.shots[String(k)]!.lvefMae).toFixed(1)).join(' / ');
  parts.push(`<text x="${x0 + W / 2}" y="14" text-anchor="middle" font-size="12" font-weight="bold">${name}</text>`);
  parts.push(`<text x="${x0 + W / 2}" y="27" text-anchor="middle" font-size="9">LVEF MAE K=${ks.join('/')}: ${mae} (in-domain ${d.inDomain.lvefMae.toFixed(1)})</text>`);
  parts.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(maxK)}" y2="${py(0)}" stroke="#000"/><line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(1)}" stroke="#000"/>`);
  for (const v of [0, 0.25, 0.5, 0.75, 1]) parts.push(`<text x="${px(0) - 4}" y="${py(v) + 3}" text-anchor="end" font-size="9">${v.toFixed(2)}</text><line x1="${px(0)}" y1="${py(v)}" x2="${px(maxK)}" y2="${py(v)}" stroke="#eee"/>`);
  for (const k of ks) parts.push(`<text x="${px(k)}" y="${H - M.bottom + 12}" text-anchor="middle" font-size="9">${k}</text>`);
  parts.push(`<text x="${x0 + W / 2}" y="${H - 6}" text-anchor="middle" font-size="9">annotated studies K (0: zero-shot)</text>`);
  for (const key of ['lv', 'myo', 'rv']) {
    const colour = COLOURS[key]!;
    const points = ks.map((k) => `${px(k).toFixed(1)},${py(k === 0 ? d.zeroShot.dice[key]! : d.shots[String(k)]!.dice[key]!).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(' ')}"/>`);
    for (const p of points) parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="${colour}"/>`);
    const ref = d.inDomain.dice[key]!;
    parts.push(`<line x1="${px(0)}" y1="${py(ref)}" x2="${px(maxK)}" y2="${py(ref)}" stroke="${colour}" stroke-dasharray="6 3" stroke-width="1"/>`);
    parts.push(`<line x1="${px(0)}" y1="${py(0.9 * ref)}" x2="${px(maxK)}" y2="${py(0.9 * ref)}" stroke="${colour}" stroke-dasharray="1 3" stroke-width="1"/>`);
  }
  return parts.join('\n');
}

/** The same figures as a Markdown table: Dice LV/MYO/RV and LVEF MAE per K, the goal checked at K = 5. */
function markdownTable(domains: ReadonlyArray<[string, DomainCurves]>): string {
  const f = (v: number) => v.toFixed(3);
  const lines = ['| domain | K | Dice LV | Dice MYO | Dice RV | LVEF MAE (points) |', '| --- | --- | --- | --- | --- | --- |'];
  for (const [name, d] of domains) {
    const row = (label: string, s: Scores) => lines.push(`| ${name} | ${label} | ${f(s.dice['lv']!)} | ${f(s.dice['myo']!)} | ${f(s.dice['rv']!)} | ${s.lvefMae.toFixed(1)} |`);
    row('in-domain', d.inDomain);
    row('0 (zero-shot)', d.zeroShot);
    for (const k of Object.keys(d.shots).sort((a, b) => Number(a) - Number(b))) row(k, d.shots[k]!);
    const five = d.shots['5'];
    if (five) {
      const reached = ['lv', 'myo', 'rv'].map((key) => `${key.toUpperCase()} ${Math.round((100 * five.dice[key]!) / d.inDomain.dice[key]!)} %`).join(', ');
      lines.push(`| ${name} | goal at K = 5 | ${reached} of in-domain (goal >= 90 %) | | | ${(five.lvefMae / d.inDomain.lvefMae).toFixed(2)} x in-domain (goal <= 1.5) |`);
    }
  }
  return lines.join('\n');
}

function main(): void {
  const input = resolve(argument('in') ?? 'docs/calibration/curves.json');
  const out = resolve(argument('out') ?? 'docs/calibration/curves.svg');
  const data = JSON.parse(readFileSync(input, 'utf8')) as Record<string, unknown>;
  const domains = Object.entries(data).filter((e): e is [string, DomainCurves] => typeof e[1] === 'object' && e[1] !== null && 'zeroShot' in e[1] && Object.keys((e[1] as DomainCurves).shots).length > 0);
  const width = W * domains.length;
  const legend = ['lv', 'myo', 'rv'].map((k, i) => `<rect x="${10 + i * 70}" y="${H + 6}" width="10" height="10" fill="${COLOURS[k]}"/><text x="${24 + i * 70}" y="${H + 15}" font-size="10">${k.toUpperCase()} Dice</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 24}" viewBox="0 0 ${width} ${H + 24}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${domains.map(([name, d], i) => panel(name, d, i * W)).join('\n')}
${legend}<text x="230" y="${H + 15}" font-size="10">dashed: in-domain (bare model); dotted: 90 % of it (the goal)</text>
</svg>
`;
  writeFileSync(out, svg);
  process.stdout.write(`${out}\n`);
  if (process.argv.includes('--markdown')) process.stdout.write(`\n${markdownTable(domains)}\n`);
}

main();
