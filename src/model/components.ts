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
  // Rows are skipped four bytes at a time while they are all background (most of an image is).
  const words = volume.byteOffset % 4 === 0 ? new Uint32Array(volume.buffer, volume.byteOffset, volume.length >> 2) : null;
  for (let s = 0; s < depth; s++) {
    const base = s * rows * columns;
    for (let r = 0; r < rows; r++) {
      const rowBase = base + r * columns;
      let c = 0;
      if (words) {
        while (c < columns && (rowBase + c) % 4 !== 0) {
          if (volume[rowBase + c] !== 0) break;
          c++;
        }
        if (c < columns && volume[rowBase + c] === 0) {
          let w = (rowBase + c) >> 2;
          const lastWord = (rowBase + columns) >> 2;
          while (w < lastWord && words[w] === 0) w++;
          c = w * 4 - rowBase;
        }
      }
      for (; c < columns; c++) {
        if (volume[rowBase + c] !== 0) {
          if (r < r0) r0 = r;
          if (r > r1) r1 = r;
          if (c < c0) c0 = c;
          // The last non-zero column of this row.
          let last = columns - 1;
          while (volume[rowBase + last] === 0) last--;
          if (last > c1) c1 = last;
          break;
        }
      }
    }
  }
  return r1 < 0 ? null : [r0, r1, c0, c1];
}

/** Growable run table: runs of equal non-zero labels along a row. */
let runStart = new Int32Array(1024);
let runEnd = new Int32Array(1024);
let runLabel = new Uint8Array(1024);
let runParent = new Int32Array(1024);
let runSize = new Int32Array(1024);

function growRuns(n: number): void {
  if (runStart.length >= n) return;
  const size = Math.max(n, runStart.length * 2);
  const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
    const b = make(size);
    b.set(a);
    return b;
  };
  runStart = grow(runStart, (k) => new Int32Array(k));
  runEnd = grow(runEnd, (k) => new Int32Array(k));
  runLabel = grow(runLabel, (k) => new Uint8Array(k));
  runParent = grow(runParent, (k) => new Int32Array(k));
  runSize = grow(runSize, (k) => new Int32Array(k));
}

function find(i: number): number {
  while (runParent[i] !== i) {
    runParent[i] = runParent[runParent[i]!]!;
    i = runParent[i]!;
  }
  return i;
}

/**
 * Keeps, for each non-zero label, only its largest 26-connected component (8-connected when
 * depth is 1); other voxels become 0. Modifies `volume` in place and returns the number removed.
 * Ties go to the component met first in raster order (slice, row, column).
 *
 * Works on runs (maximal stretches of one label along a row) joined by union-find: two runs of a
 * label touch when they lie in neighbouring rows of the same or adjacent slices and their column
 * ranges overlap once widened by one (the diagonal neighbours). A heart's labels form a few thousand
 * runs per phase, so this costs a fraction of a voxel-by-voxel flood fill.
 */
export function keepLargestComponents(volume: Uint8Array, depth: number, rows: number, columns: number): number {
  const box = boundingBox(volume, depth, rows, columns);
  if (!box) return 0;
  const [r0, r1, c0, c1] = box;
  const plane = rows * columns;
  const h = r1 - r0 + 1;
  // rowRuns[s * h + r] .. rowRuns[s * h + r + 1]: the runs of row r0 + r of slice s.
  const rowRuns = ints(depth * h + 1);
  let n = 0;
  for (let s = 0; s < depth; s++) {
    for (let r = 0; r < h; r++) {
      rowRuns[s * h + r] = n;
      const base = s * plane + (r + r0) * columns;
      let c = c0;
      while (c <= c1) {
        const label = volume[base + c]!;
        if (label === 0) {
          c++;
          continue;
        }
        let e = c + 1;
        while (e <= c1 && volume[base + e] === label) e++;
        growRuns(n + 1);
        runStart[n] = c;
        runEnd[n] = e - 1;
        runLabel[n] = label;
        runParent[n] = n;
        runSize[n] = e - c;
        n++;
        c = e;
      }
    }
  }
  rowRuns[depth * h] = n;
  const join = (a0: number, a1: number, b0: number, b1: number) => {
    // For each run of row A, the runs of row B (sorted by column) whose widened range meets it.
    let lo = b0;
    for (let i = a0; i < a1; i++) {
      while (lo < b1 && runEnd[lo]! + 1 < runStart[i]!) lo++;
      for (let j = lo; j < b1 && runStart[j]! <= runEnd[i]! + 1; j++) {
        if (runLabel[i] !== runLabel[j]) continue;
        const ri = find(i);
        const rj = find(j);
        if (ri !== rj) {
          if (ri < rj) runParent[rj] = ri;
          else runParent[ri] = rj;
        }
      }
    }
  };
  for (let s = 0; s < depth; s++) {
    for (let r = 0; r < h; r++) {
      const a0 = rowRuns[s * h + r]!;
      const a1 = rowRuns[s * h + r + 1]!;
      if (a0 === a1) continue;
      if (r > 0) join(a0, a1, rowRuns[s * h + r - 1]!, rowRuns[s * h + r]!);
      if (s > 0) {
        for (let dr = -1; dr <= 1; dr++) {
          const q = r + dr;
          if (q < 0 || q >= h) continue;
          join(a0, a1, rowRuns[(s - 1) * h + q]!, rowRuns[(s - 1) * h + q + 1]!);
        }
      }
    }
  }
  // Component sizes at their roots (a root is its component's first run in raster order).
  for (let i = 0; i < n; i++) {
    const root = find(i);
    if (root !== i) runSize[root] = runSize[root]! + runSize[i]!;
  }
  const bestRoot = new Int32Array(256).fill(-1);
  for (let i = 0; i < n; i++) {
    if (runParent[i] !== i) continue;
    const label = runLabel[i]!;
    if (bestRoot[label] === -1 || runSize[i]! > runSize[bestRoot[label]!]!) bestRoot[label] = i;
  }
  let removed = 0;
  for (let s = 0; s < depth; s++) {
    for (let r = 0; r < h; r++) {
      const base = s * plane + (r + r0) * columns;
      for (let i = rowRuns[s * h + r]!; i < rowRuns[s * h + r + 1]!; i++) {
        if (find(i) === bestRoot[runLabel[i]!]) continue;
        volume.fill(0, base + runStart[i]!, base + runEnd[i]! + 1);
        removed += runEnd[i]! - runStart[i]! + 1;
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
