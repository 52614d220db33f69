/**
 * Label-map clean-up on one phase of a stack (slices x rows x columns, row-major per slice):
 *
 * 1. Largest connected component per structure, in 3D (26-connectivity: a structure continues
 *    through the stack, and slices of one stack share their grid). A network's false positives are
 *    small islands away from the heart (liver, stomach, great vessels); the heart's chambers are
 *    each one connected body, which is also what ACDC's reference labels are.
 * 2. Fill holes, per slice: a background region that does not reach the image border (4-connected,
 *    the dual of the 8-connected foreground) lies inside the heart and takes the most frequent label
 *    on its border. In ACDC's convention papillary muscles and trabeculae belong to the cavity, so
 *    a hole in the LV cavity is cavity.
 */

/**
 * Working memory reused across calls (the clean-up runs once per phase of every study: fresh
 * multi-megabyte arrays each time would mostly feed the garbage collector). Single-threaded use only.
 */
let scratchBytes = new Uint8Array(0);
let scratchInts = new Int32Array(0);
let scratchQueue = new Int32Array(0);

function bytes(n: number): Uint8Array {
  if (scratchBytes.length < n) scratchBytes = new Uint8Array(Math.ceil(n * 1.25));
  const view = scratchBytes.subarray(0, n);
  view.fill(0);
  return view;
}
function ints(n: number): Int32Array {
  if (scratchInts.length < n) scratchInts = new Int32Array(Math.ceil(n * 1.25));
  const view = scratchInts.subarray(0, n);
  view.fill(0);
  return view;
}
function queueOf(n: number): Int32Array {
  if (scratchQueue.length < n) scratchQueue = new Int32Array(Math.ceil(n * 1.25));
  return scratchQueue;
}

/** Bounding box of non-zero voxels, in-plane, over all slices: [r0, r1, c0, c1] inclusive, or null. */
function boundingBox(volume: Uint8Array, depth: number, rows: number, columns: number): [number, number, number, number] | null {
  let r0 = rows, r1 = -1, c0 = columns, c1 = -1;
  for (let s = 0; s < depth; s++) {
    const base = s * rows * columns;
    for (let r = 0; r < rows; r++) {
      const rowBase = base + r * columns;
      for (let c = 0; c < columns; c++) {
        if (volume[rowBase + c] !== 0) {
          if (r < r0) r0 = r;
          if (r > r1) r1 = r;
          if (c < c0) c0 = c;
          if (c > c1) c1 = c;
        }
      }
    }
  }
  return r1 < 0 ? null : [r0, r1, c0, c1];
}

/**
 * Keeps, for each non-zero label, only its largest 26-connected component (8-connected when
 * depth is 1); other voxels become 0. Modifies `volume` in place and returns the number removed.
 *
 * Works on a copy of the labelled bounding box with a one-voxel border of background, so the
 * flood fill needs neither bounds checks nor divisions: neighbours are fixed index offsets.
 */
export function keepLargestComponents(volume: Uint8Array, depth: number, rows: number, columns: number): number {
  const box = boundingBox(volume, depth, rows, columns);
  if (!box) return 0;
  const [r0, r1, c0, c1] = box;
  const plane = rows * columns;
  const w = c1 - c0 + 3;
  const h = r1 - r0 + 3;
  const d = depth + 2;
  const wh = w * h;
  const local = bytes(d * wh);
  for (let s = 0; s < depth; s++) {
    for (let r = r0; r <= r1; r++) {
      const from = s * plane + r * columns;
      local.set(volume.subarray(from + c0, from + c1 + 1), (s + 1) * wh + (r - r0 + 1) * w + 1);
    }
  }
  const offsets: number[] = [];
  for (let ds = depth > 1 ? -1 : 0; ds <= (depth > 1 ? 1 : 0); ds++) {
    for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) if (ds || dr || dc) offsets.push(ds * wh + dr * w + dc);
  }
  const neighbours = Int32Array.from(offsets);
  const component = ints(local.length);
  const queue = queueOf(local.length);
  const bestId = new Int32Array(256);
  const bestSize = new Int32Array(256);
  let nextId = 0;
  for (let start = wh; start < local.length - wh; start++) {
    const label = local[start]!;
    if (label === 0 || component[start] !== 0) continue;
    const id = ++nextId;
    component[start] = id;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    while (head < tail) {
      const v = queue[head++]!;
      for (let k = 0; k < neighbours.length; k++) {
        const n = v + neighbours[k]!;
        if (local[n] === label && component[n] === 0) {
          component[n] = id;
          queue[tail++] = n;
        }
      }
    }
    if (tail > bestSize[label]!) {
      bestSize[label] = tail;
      bestId[label] = id;
    }
  }
  let removed = 0;
  for (let s = 0; s < depth; s++) {
    for (let r = r0; r <= r1; r++) {
      const li = (s + 1) * wh + (r - r0 + 1) * w + 1 - c0;
      const vi = s * plane + r * columns;
      for (let c = c0; c <= c1; c++) {
        const label = local[li + c]!;
        if (label !== 0 && component[li + c] !== bestId[label]) {
          volume[vi + c] = 0;
          removed++;
        }
      }
    }
  }
  return removed;
}

/**
 * Fills background holes of one slice (rows x columns at `offset` in `labels`) with the most frequent
 * label on each hole's border. Returns the number of pixels filled.
 */
export function fillHoles(labels: Uint8Array, rows: number, columns: number, offset = 0): number {
  const slice = labels.subarray(offset, offset + rows * columns);
  const box = boundingBox(slice, 1, rows, columns);
  if (!box) return 0;
  const [r0, r1, c0, c1] = box;
  // The box plus a one-pixel background ring: everything outside the box is background connected to
  // the border, and so is the ring; a flood from the ring finds all background that is not a hole.
  const w = c1 - c0 + 3;
  const h = r1 - r0 + 3;
  const local = bytes(2 * w * h).subarray(0, w * h);
  for (let r = r0; r <= r1; r++) local.set(slice.subarray(r * columns + c0, r * columns + c1 + 1), (r - r0 + 1) * w + 1);
  // 0 = unvisited, 1 = outside or done, 2 = hole being filled.
  const mark = scratchBytes.subarray(w * h, 2 * w * h);
  const queue = queueOf(w * h);
  const steps = [-w, w, -1, 1];
  let tail = 0;
  for (let i = 0; i < w * h; i++) {
    const r = (i / w) | 0;
    const c = i - r * w;
    if (r === 0 || r === h - 1 || c === 0 || c === w - 1) {
      mark[i] = 1;
      queue[tail++] = i;
    }
  }
  let head = 0;
  while (head < tail) {
    const i = queue[head++]!;
    for (const step of steps) {
      const n = i + step;
      if (n < 0 || n >= w * h || mark[n] !== 0 || local[n] !== 0) continue;
      // Ring pixels are all marked, so an interior pixel's neighbours never wrap around a row.
      mark[n] = 1;
      queue[tail++] = n;
    }
  }
  let filled = 0;
  const votes = new Int32Array(256);
  for (let start = 0; start < w * h; start++) {
    if (mark[start] !== 0 || local[start] !== 0) continue;
    votes.fill(0);
    const first = tail;
    mark[start] = 2;
    queue[tail++] = start;
    let q = first;
    while (q < tail) {
      const i = queue[q++]!;
      for (const step of steps) {
        const n = i + step;
        const label = local[n]!;
        if (label !== 0) votes[label]!++;
        else if (mark[n] === 0) {
          mark[n] = 2;
          queue[tail++] = n;
        }
      }
    }
    let best = 0;
    for (let l = 1; l < 256; l++) if (votes[l]! > votes[best]!) best = l;
    for (let k = first; k < tail; k++) {
      const i = queue[k]!;
      mark[i] = 1;
      const r = (i / w) | 0;
      slice[(r - 1 + r0) * columns + (i - r * w) - 1 + c0] = best;
    }
    filled += tail - first;
  }
  return filled;
}

/** Both clean-up steps on one phase of a stack; returns voxels changed by each. */
export function cleanUpPhase(volume: Uint8Array, depth: number, rows: number, columns: number): { removed: number; filled: number } {
  const removed = keepLargestComponents(volume, depth, rows, columns);
  let filled = 0;
  for (let s = 0; s < depth; s++) filled += fillHoles(volume, rows, columns, s * rows * columns);
  return { removed, filled };
}
