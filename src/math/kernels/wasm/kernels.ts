// AssemblyScript, not TypeScript: compiled by `npm run build:wasm` (asc, see asconfig.json) into
// kernels.wasm. The project's tsc never sees this folder (tsconfig excludes it).
//
// Everything works on raw addresses in one imported (shared) memory that the TypeScript side lays
// out. Conventions:
//   * data rows (X, A, P, N, A−P, A−N) are float32 with a row stride `ld` that is a multiple of 8,
//     padded with zeros, so every loop over d runs in whole 8-float (2×v128) steps;
//   * W is packed as panels of 8 output rows: panel p holds, for each column j, the 8 values
//     W[8p..8p+7][j] (zeros past k) — ld·8 floats per panel, kp = 8·⌈k/8⌉ outputs in all;
//   * projections Y (rows × kp) and gradients G (kp × ld) are float32.
// Accumulation: every dot product and gradient tile sums in float32 (f32x4 lanes, plain mul+add,
// no relaxed SIMD); squared norms, brackets and the loss sum in float64.
// Two tile widths: 4×8 (8 f32x4 accumulators, the most the 16 xmm registers hold), and, when a
// task's op carries OP_WIDE, 4×16 — for V8's revectorizer, which fuses each pair of f32x4
// operations on adjacent memory into one 256-bit AVX2 operation (src/compute/revectorize.ts
// decides). Both sum the same products in the same order, so they give the same bits.

// ---------------------------------------------------------------------------------------------
// Forward products: Y (n×kp, row stride ldy floats) = X (n×ld) · Wᵀ through the packed panels.
// 4×8 register tile (4 rows of X × one 8-wide panel = 8 f32x4 accumulators).
// Loop order panel → row block → j: the 8·ld-float panel stays in L1 while the rows stream by.

export function project(X: usize, n: i32, ld: i32, P: usize, kp: i32, Y: usize, ldy: i32): void {
  if (WIDE) projectWide(X, n, ld, P, kp, Y, ldy);
  else projectNarrow(X, n, ld, P, kp, Y, ldy);
}

function projectNarrow(X: usize, n: i32, ld: i32, P: usize, kp: i32, Y: usize, ldy: i32): void {
  const np = kp >> 3;
  const rb = <usize>ld << 2;
  const yr = <usize>ldy << 2;
  const pb = <usize>ld << 5;
  const n4 = n & ~3;
  for (let p = 0; p < np; p++) {
    const pp = P + <usize>p * pb;
    const yc = Y + (<usize>p << 5);
    let i = 0;
    for (; i < n4; i += 4) tile4x8(X + <usize>i * rb, rb, pp, ld, yc + <usize>i * yr, yr);
    for (; i < n; i++) tile1x8(X + <usize>i * rb, pp, ld, yc + <usize>i * yr);
  }
}

/** Panels two at a time through tile4x16; an odd last panel goes through projectNarrow. Kept
 *  apart from projectNarrow: sharing its loop nest made the narrow path ~5% slower on Node 20
 *  (machine code placement; measured, interleaved). */
function projectWide(X: usize, n: i32, ld: i32, P: usize, kp: i32, Y: usize, ldy: i32): void {
  const np = kp >> 3;
  const rb = <usize>ld << 2;
  const yr = <usize>ldy << 2;
  const pb = <usize>ld << 5;
  const n4 = n & ~3;
  let p = 0;
  for (; p + 1 < np; p += 2) {
    const pp = P + <usize>p * pb;
    const yc = Y + (<usize>p << 5);
    let i = 0;
    for (; i < n4; i += 4) tile4x16(X + <usize>i * rb, rb, pp, pb, ld, yc + <usize>i * yr, yr);
    for (; i < n; i++) {
      tile1x8(X + <usize>i * rb, pp, ld, yc + <usize>i * yr);
      tile1x8(X + <usize>i * rb, pp + pb, ld, yc + <usize>i * yr + 32);
    }
  }
  if (p < np) projectNarrow(X, n, ld, P + <usize>p * pb, 8, Y + (<usize>p << 5), ldy);
}

// One j per loop trip, on purpose: TurboFan (Node 20 and 22) hoists the loads of an unrolled body
// and spills accumulators to the stack (15 usable xmm registers); this plain loop keeps all 8
// accumulators in registers and ran ~25% faster than a ×4 unroll (min of 25 interleaved runs).
// @ts-ignore: decorator
@inline function tile4x8(x0: usize, rb: usize, p: usize, ld: i32, y: usize, yr: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  const end = x0 + (<usize>ld << 2);
  let q = p;
  for (let x = x0; x < end; x += 4) {
    const w0 = v128.load(q);
    const w1 = v128.load(q, 16);
    let s = v128.load32_splat(x);
    a0 = f32x4.add(a0, f32x4.mul(s, w0)); a1 = f32x4.add(a1, f32x4.mul(s, w1));
    s = v128.load32_splat(x + rb);
    b0 = f32x4.add(b0, f32x4.mul(s, w0)); b1 = f32x4.add(b1, f32x4.mul(s, w1));
    s = v128.load32_splat(x + 2 * rb);
    c0 = f32x4.add(c0, f32x4.mul(s, w0)); c1 = f32x4.add(c1, f32x4.mul(s, w1));
    s = v128.load32_splat(x + 3 * rb);
    d0 = f32x4.add(d0, f32x4.mul(s, w0)); d1 = f32x4.add(d1, f32x4.mul(s, w1));
    q += 32;
  }
  v128.store(y, a0); v128.store(y, a1, 16);
  y += yr;
  v128.store(y, b0); v128.store(y, b1, 16);
  y += yr;
  v128.store(y, c0); v128.store(y, c1, 16);
  y += yr;
  v128.store(y, d0); v128.store(y, d1, 16);
}

// Wide tile, for runtimes that fuse pairs of v128 operations into 256-bit ones (V8's
// revectorizer, --experimental-wasm-revectorize, Node ≥ 24 on x64 with AVX2; see WIDE): 4 rows ×
// two panels = 16 f32x4 accumulators, which V8 turns into 8 ymm registers. Without that pass the
// 16 accumulators spill (measured 1.5–1.7× slower than tile4x8), so it runs only when WIDE is set.
// Every output sums the same products in the same order as tile4x8: results are bit-identical.
// @ts-ignore: decorator
@inline function tile4x16(x0: usize, rb: usize, p: usize, pb: usize, ld: i32, y: usize, yr: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), a3 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  let c2 = f32x4.splat(0), c3 = f32x4.splat(0), d2 = f32x4.splat(0), d3 = f32x4.splat(0);
  const end = x0 + (<usize>ld << 2);
  let q = p;
  for (let x = x0; x < end; x += 4) {
    const w0 = v128.load(q);
    const w1 = v128.load(q, 16);
    const w2 = v128.load(q + pb);
    const w3 = v128.load(q + pb, 16);
    let s = v128.load32_splat(x);
    a0 = f32x4.add(a0, f32x4.mul(s, w0)); a1 = f32x4.add(a1, f32x4.mul(s, w1));
    a2 = f32x4.add(a2, f32x4.mul(s, w2)); a3 = f32x4.add(a3, f32x4.mul(s, w3));
    s = v128.load32_splat(x + rb);
    b0 = f32x4.add(b0, f32x4.mul(s, w0)); b1 = f32x4.add(b1, f32x4.mul(s, w1));
    b2 = f32x4.add(b2, f32x4.mul(s, w2)); b3 = f32x4.add(b3, f32x4.mul(s, w3));
    s = v128.load32_splat(x + 2 * rb);
    c0 = f32x4.add(c0, f32x4.mul(s, w0)); c1 = f32x4.add(c1, f32x4.mul(s, w1));
    c2 = f32x4.add(c2, f32x4.mul(s, w2)); c3 = f32x4.add(c3, f32x4.mul(s, w3));
    s = v128.load32_splat(x + 3 * rb);
    d0 = f32x4.add(d0, f32x4.mul(s, w0)); d1 = f32x4.add(d1, f32x4.mul(s, w1));
    d2 = f32x4.add(d2, f32x4.mul(s, w2)); d3 = f32x4.add(d3, f32x4.mul(s, w3));
    q += 32;
  }
  v128.store(y, a0); v128.store(y, a1, 16); v128.store(y, a2, 32); v128.store(y, a3, 48);
  y += yr;
  v128.store(y, b0); v128.store(y, b1, 16); v128.store(y, b2, 32); v128.store(y, b3, 48);
  y += yr;
  v128.store(y, c0); v128.store(y, c1, 16); v128.store(y, c2, 32); v128.store(y, c3, 48);
  y += yr;
  v128.store(y, d0); v128.store(y, d1, 16); v128.store(y, d2, 32); v128.store(y, d3, 48);
}

// @ts-ignore: decorator
@inline function tile1x8(x: usize, p: usize, ld: i32, y: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  for (let j = 0; j < ld; j++) {
    const s = v128.load32_splat(x + (<usize>j << 2));
    const q = p + (<usize>j << 5);
    a0 = f32x4.add(a0, f32x4.mul(s, v128.load(q)));
    a1 = f32x4.add(a1, f32x4.mul(s, v128.load(q, 16)));
  }
  v128.store(y, a0);
  v128.store(y, a1, 16);
}

// ---------------------------------------------------------------------------------------------
// Negatives' projections with early exit (squared, hinged loss). A triplet is inactive when
// ‖v‖² ≥ ‖u‖² + margin, and an inactive triplet adds nothing to the loss or the gradient, so its
// v = W(a−n) need not be finished once part of ‖v‖² settles it. Rows go panel by panel (8
// outputs); after each panel its squares are folded into each row's sums, and a group of 4 rows
// whose partial sums already make every bracket ≤ 0 (and ‖u‖² − ‖v‖² < 0) is dropped. Exact: the
// partial sum is a prefix of the same float32 lanes and float64 combination that sumSq computes,
// every term is ≥ 0 and rounding is monotone, so partial ≤ full and the full bracket is ≤ 0 too;
// a row kept to the end gets sumSq's value bit for bit, so results are identical either way.
// Non-finite values: a later panel can only add NaN when the row holds ±∞ (an a−n that overflowed
// float32: ∞·0 = NaN), and then the first panel's sum is already +∞ or NaN, so a row is dropped
// only while its sum is finite. From finite rows a dot product can reach ±∞ but never NaN, and
// +∞ in ‖v‖² settles the bracket the same way (−∞) whether seen early or at the end.
// Rows are checked after every panel (the check is a few lane sums a row; measured free at a
// random start, where almost nothing is dropped). Pays when many triplets are inactive with room
// to spare, as once training has separated the classes: from a PCA start most of ‖v‖² sits in
// the first outputs (largest variance first).

/**
 * One panel's 8 outputs for the live groups of 4 rows, a run of consecutive groups at a time
 * through project() itself: the same tile loop inlined here ran ~5% slower (machine code
 * placement; measured, min of interleaved runs), and at a random start every group is live.
 */
function panelGroups(X: usize, n: i32, ld: i32, pp: usize, zc: usize, kp: i32, live: usize, nl: i32, outs: i32): void {
  const rb = <usize>ld << 2, zr = <usize>kp << 2;
  let t = 0;
  while (t < nl) {
    const g0 = load<i32>(live + (<usize>t << 2));
    let g1 = g0 + 1;
    t++;
    while (t < nl && load<i32>(live + (<usize>t << 2)) == g1) {
      g1++;
      t++;
    }
    const r0 = g0 << 2;
    project(X + <usize>r0 * rb, min(n, g1 << 2) - r0, ld, pp, outs, zc + <usize>r0 * zr, kp);
  }
}

/**
 * Z1 (n×kp) = X1·Wᵀ with early exit; dp: n float64 ‖u‖²; writes dn: n float64, ‖v‖² as sumSq
 * gives it, or +∞ for a row dropped as inactive (its Z1 row is then incomplete). Rows go in
 * groups of 4 (the 4×8 tile over consecutive rows keeps its full speed); a group is dropped when
 * all its rows are settled. Scratch: acc (n×32 bytes), live (⌈n/4⌉×4 bytes).
 */
function projectNegatives(X1: usize, n: i32, ld: i32, P: usize, kp: i32, Z1: usize, dp: usize, dn: usize, acc: usize, live: usize, margin: f64): i32 {
  const np = kp >> 3;
  const rb = <usize>ld << 2;
  const zr = <usize>kp << 2;
  const pb = <usize>ld << 5;
  const groups = (n + 3) >> 2;
  for (let g = 0; g < groups; g++) store<i32>(live + (<usize>g << 2), g);
  for (let i = 0; i < n; i++) {
    v128.store(acc + (<usize>i << 5), f32x4.splat(0));
    v128.store(acc + (<usize>i << 5), f32x4.splat(0), 16);
  }
  let nl = groups;
  let dropped = 0;
  // WIDE: two panels (16 outputs) per step, so project() runs its wide tile; checked after each
  // step. The first and the last panel still go alone: the check after panel 0 is the one that
  // drops the most from a PCA start (largest variance first), and a pair ending at the last panel
  // would leave no check that can drop anything. Results are the same either way; the count of
  // rows stopped early (lastEarlyExits) can differ from the narrow tiles'.
  for (let p = 0; p < np; ) {
    const step = WIDE && p > 0 && p + 2 < np ? 2 : 1;
    const pp = P + <usize>p * pb;
    const zc = Z1 + (<usize>p << 5);
    panelGroups(X1, n, ld, pp, zc, kp, live, nl, step << 3);
    p += step;
    let kept = 0;
    for (let t = 0; t < nl; t++) {
      const g = load<i32>(live + (<usize>t << 2));
      const r0 = g << 2, r1 = min(n, r0 + 4);
      let settled = true;
      for (let r = r0; r < r1; r++) {
        const ap = acc + (<usize>r << 5);
        // every live row has folded the panels before this step: fold the step's, in order
        let z = zc + <usize>r * zr;
        let a = v128.load(ap), b = v128.load(ap, 16);
        for (let h = 0; h < step; h++) {
          const u = v128.load(z);
          const v = v128.load(z, 16);
          a = f32x4.add(a, f32x4.mul(u, u));
          b = f32x4.add(b, f32x4.mul(v, v));
          z += 32;
        }
        v128.store(ap, a);
        v128.store(ap, b, 16);
        const part = hsum(a) + hsum(b);
        store<f64>(dn + (<usize>r << 3), part);
        const diff = load<f64>(dp + (<usize>r << 3)) - part;
        if (!(part < Infinity && diff + margin <= 0 && diff < 0)) settled = false;
      }
      if (settled && p < np) {
        for (let r = r0; r < r1; r++) store<f64>(dn + (<usize>r << 3), Infinity);
        dropped += r1 - r0;
      } else {
        store<i32>(live + (<usize>kept << 2), g);
        kept++;
      }
    }
    nl = kept;
    if (nl == 0) break;
  }
  return dropped;
}

// ---------------------------------------------------------------------------------------------
// Gradient: G (kp×ld) += Σ_t C[t]ᵀ · X[t] over s entries, X in 8-column strips and C packed by
// quads (see packStrips and gradPacked). 4×8 tile of G (4 outputs × 8 columns) in 8 accumulators
// over all s entries (4×16, two strips, when WIDE), then one load+add+store of the tile. Loop order column block → output block:
// the s×8 strip of X stays in L1 while C (s×kp) is swept.

/** Adds a 4×8 tile (rows a..d, two f32x4 each) into G at g, rows gr bytes apart. */
// @ts-ignore: decorator
@inline function addTile(g: usize, gr: usize, a0: v128, a1: v128, b0: v128, b1: v128, c0: v128, c1: v128, d0: v128, d1: v128): void {
  // both halves of a row are loaded before either is stored: V8's revectorizer fuses a pair only
  // when no store sits between its two loads
  let l0 = v128.load(g), l1 = v128.load(g, 16);
  v128.store(g, f32x4.add(l0, a0)); v128.store(g, f32x4.add(l1, a1), 16);
  g += gr;
  l0 = v128.load(g); l1 = v128.load(g, 16);
  v128.store(g, f32x4.add(l0, b0)); v128.store(g, f32x4.add(l1, b1), 16);
  g += gr;
  l0 = v128.load(g); l1 = v128.load(g, 16);
  v128.store(g, f32x4.add(l0, c0)); v128.store(g, f32x4.add(l1, c1), 16);
  g += gr;
  l0 = v128.load(g); l1 = v128.load(g, 16);
  v128.store(g, f32x4.add(l0, d0)); v128.store(g, f32x4.add(l1, d1), 16);
}

// Why strips: rows of X sit ld·4 bytes apart (2 KB at d = 512), so the
// s×8 strip that a tile sweeps maps to one or two L1 sets and thrashes once s exceeds the ways.
// packStrips copies the s listed rows into strips (strip b holds columns 8b..8b+7 of all s rows,
// 32 bytes a row, contiguous); gradPacked then reads X and the quad-packed coefficients as two
// sequential streams.

function packStrips(Xp: usize, rowPtr: usize, s: i32, ld: i32): void {
  const sb = <usize>s << 5;
  for (let t = 0; t < s; t++) {
    const x = <usize>load<u32>(rowPtr + (<usize>t << 2));
    let dst = Xp + (<usize>t << 5);
    for (let o: usize = 0; o < (<usize>ld << 2); o += 32) {
      v128.store(dst, v128.load(x + o));
      v128.store(dst, v128.load(x + o, 16), 16);
      dst += sb;
    }
  }
}

/** Strip b of X at Xp + b·ss (entry t at +32t); quad q of C's entry t at C + q·cq + 16t. */
function gradPacked(G: usize, kp: i32, ld: i32, C: usize, cq: usize, Xp: usize, ss: usize, s: i32): void {
  const gr = <usize>ld << 2;
  const sb = <usize>s << 5;
  let j = 0;
  // WIDE: two strips (16 columns) per tile, the wide counterpart of tile4x16
  if (WIDE) {
    for (; j + 8 < ld; j += 16) {
      const strip = Xp + <usize>(j >> 3) * ss;
      for (let r = 0; r < kp; r += 4) gradTile4x16(G + <usize>r * gr + (<usize>j << 2), gr, C + <usize>(r >> 2) * cq, strip, strip + sb, ss);
    }
  }
  for (; j < ld; j += 8) {
    const strip = Xp + <usize>(j >> 3) * ss;
    for (let r = 0; r < kp; r += 4) gradTile4x8(G + <usize>r * gr + (<usize>j << 2), gr, C + <usize>(r >> 2) * cq, strip, strip + sb);
  }
}

/** G's 4×8 tile at g (rows gr bytes apart) += Σ over the strip's entries of 4 coefficients × 8 columns. */
// @ts-ignore: decorator
@inline function gradTile4x8(g: usize, gr: usize, cp: usize, strip: usize, stripEnd: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  for (let xp = strip; xp < stripEnd; xp += 32) {
    const x0 = v128.load(xp);
    const x1 = v128.load(xp, 16);
    let k = v128.load32_splat(cp);
    a0 = f32x4.add(a0, f32x4.mul(k, x0)); a1 = f32x4.add(a1, f32x4.mul(k, x1));
    k = v128.load32_splat(cp, 4);
    b0 = f32x4.add(b0, f32x4.mul(k, x0)); b1 = f32x4.add(b1, f32x4.mul(k, x1));
    k = v128.load32_splat(cp, 8);
    c0 = f32x4.add(c0, f32x4.mul(k, x0)); c1 = f32x4.add(c1, f32x4.mul(k, x1));
    k = v128.load32_splat(cp, 12);
    d0 = f32x4.add(d0, f32x4.mul(k, x0)); d1 = f32x4.add(d1, f32x4.mul(k, x1));
    cp += 16;
  }
  addTile(g, gr, a0, a1, b0, b1, c0, c1, d0, d1);
}

/** The same over two strips (the second ss bytes after the first): G's 4×16 tile at g. Same sums
 *  in the same order as two gradTile4x8 calls. */
// @ts-ignore: decorator
@inline function gradTile4x16(g: usize, gr: usize, cp: usize, strip: usize, stripEnd: usize, ss: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), a3 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  let c2 = f32x4.splat(0), c3 = f32x4.splat(0), d2 = f32x4.splat(0), d3 = f32x4.splat(0);
  for (let xp = strip; xp < stripEnd; xp += 32) {
    const x0 = v128.load(xp);
    const x1 = v128.load(xp, 16);
    const x2 = v128.load(xp + ss);
    const x3 = v128.load(xp + ss, 16);
    let k = v128.load32_splat(cp);
    a0 = f32x4.add(a0, f32x4.mul(k, x0)); a1 = f32x4.add(a1, f32x4.mul(k, x1));
    a2 = f32x4.add(a2, f32x4.mul(k, x2)); a3 = f32x4.add(a3, f32x4.mul(k, x3));
    k = v128.load32_splat(cp, 4);
    b0 = f32x4.add(b0, f32x4.mul(k, x0)); b1 = f32x4.add(b1, f32x4.mul(k, x1));
    b2 = f32x4.add(b2, f32x4.mul(k, x2)); b3 = f32x4.add(b3, f32x4.mul(k, x3));
    k = v128.load32_splat(cp, 8);
    c0 = f32x4.add(c0, f32x4.mul(k, x0)); c1 = f32x4.add(c1, f32x4.mul(k, x1));
    c2 = f32x4.add(c2, f32x4.mul(k, x2)); c3 = f32x4.add(c3, f32x4.mul(k, x3));
    k = v128.load32_splat(cp, 12);
    d0 = f32x4.add(d0, f32x4.mul(k, x0)); d1 = f32x4.add(d1, f32x4.mul(k, x1));
    d2 = f32x4.add(d2, f32x4.mul(k, x2)); d3 = f32x4.add(d3, f32x4.mul(k, x3));
    cp += 16;
  }
  addTile(g, gr, a0, a1, b0, b1, c0, c1, d0, d1);
  addTile(g + 32, gr, a2, a3, b2, b3, c2, c3, d2, d3);
}

// ---------------------------------------------------------------------------------------------
// Row helpers (length kp, a multiple of 8). Sums of squares/dots: f32x4 lanes, lanes combined in f64.

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return (<f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1)) +
    (<f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3));
}

function sumSq(x: usize, kp: i32): f64 {
  let a = f32x4.splat(0), b = f32x4.splat(0);
  const end = x + (<usize>kp << 2);
  for (let p = x; p < end; p += 32) {
    const u = v128.load(p);
    const v = v128.load(p, 16);
    a = f32x4.add(a, f32x4.mul(u, u));
    b = f32x4.add(b, f32x4.mul(v, v));
  }
  return hsum(a) + hsum(b);
}

function sumSqDiff(x: usize, y: usize, kp: i32): f64 {
  let a = f32x4.splat(0), b = f32x4.splat(0);
  for (let o: usize = 0; o < (<usize>kp << 2); o += 32) {
    const u = f32x4.sub(v128.load(x + o), v128.load(y + o));
    const v = f32x4.sub(v128.load(x + o, 16), v128.load(y + o, 16));
    a = f32x4.add(a, f32x4.mul(u, u));
    b = f32x4.add(b, f32x4.mul(v, v));
  }
  return hsum(a) + hsum(b);
}

function dot(x: usize, y: usize, kp: i32): f64 {
  let a = f32x4.splat(0), b = f32x4.splat(0);
  for (let o: usize = 0; o < (<usize>kp << 2); o += 32) {
    a = f32x4.add(a, f32x4.mul(v128.load(x + o), v128.load(y + o)));
    b = f32x4.add(b, f32x4.mul(v128.load(x + o, 16), v128.load(y + o, 16)));
  }
  return hsum(a) + hsum(b);
}

/** dst = src · c; dst's quads (4 floats) are `dq` bytes apart (16: a plain row). */
function scaleTo(dst: usize, src: usize, kp: i32, c: f32, dq: usize = 16): void {
  const s = f32x4.splat(c);
  for (let o: usize = 0; o < (<usize>kp << 2); o += 16) {
    v128.store(dst, f32x4.mul(v128.load(src + o), s));
    dst += dq;
  }
}

const NORM_EPSILON: f64 = 1e-12;

/** Scales the row to unit length (norm clamped at NORM_EPSILON) and returns the norm divided by. */
function normalizeRow(x: usize, kp: i32): f64 {
  const n = Math.max(Math.sqrt(sumSq(x, kp)), NORM_EPSILON);
  scaleTo(x, x, kp, <f32>(1.0 / n));
  return n;
}

/** dst = (g − e·(eᵀg))/n, or g/ε when the norm was clamped; g is scratch (kp floats); dst's
 *  quads are `dq` bytes apart. */
function backprop(dst: usize, e: usize, g: usize, n: f64, kp: i32, dq: usize): void {
  const clamped = n == NORM_EPSILON;
  const dt = f32x4.splat(clamped ? <f32>0 : <f32>dot(e, g, kp));
  const inv = f32x4.splat(<f32>(1.0 / n));
  for (let o: usize = 0; o < (<usize>kp << 2); o += 16) {
    const v = f32x4.sub(v128.load(g + o), f32x4.mul(v128.load(e + o), dt));
    v128.store(dst, f32x4.mul(v, inv));
    dst += dq;
  }
}

// ---------------------------------------------------------------------------------------------
// Tasks. The TypeScript side writes arguments as float64 slots at `args` and calls
// runTask(op, args, task, thread) for task = 0..tasks−1 from any thread (a shared counter hands
// out tasks). A task's result depends only on its index, never on which thread ran it.

const OP_SQUARED: i32 = 1;
const OP_NORMALIZED: i32 = 2;
const OP_REDUCE: i32 = 3;
const OP_PROJECT: i32 = 4;
const OP_EMBED: i32 = 5;
const OP_COLUMNS: i32 = 6;
const OP_TRANSPOSE: i32 = 7;
const OP_DISTANCES: i32 = 8;
const OP_COEFFICIENTS: i32 = 9;

// @ts-ignore: decorator
@inline function arg(args: usize, i: i32): f64 {
  return load<f64>(args + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function argp(args: usize, i: i32): usize {
  return <usize>load<f64>(args + (<usize>i << 3));
}

/** Set from each task's op (OP_WIDE bit): use the wide tiles (tile4x16, gradPacked's two-strip
 *  tile). The TypeScript side sets the bit only where it turned V8's revectorizer on (see
 *  src/compute/revectorize.ts). Per instance, so per thread. */
let WIDE: bool = false;
const OP_WIDE: i32 = 0x100;

export function runTask(op: i32, args: usize, task: i32, thread: i32): void {
  WIDE = (op & OP_WIDE) != 0;
  op &= ~OP_WIDE;
  if (op == OP_SQUARED || op == OP_NORMALIZED) slabTask(op, args, task, thread);
  else if (op == OP_REDUCE) reduceTask(args, task);
  else if (op == OP_PROJECT) projectTask(args, task);
  else if (op == OP_EMBED) embedTask(args);
  else if (op == OP_COLUMNS) columnsTask(args, task);
  else if (op == OP_TRANSPOSE) transposeTask(args, task);
  else if (op == OP_DISTANCES) distancesTask(args, task);
  else if (op == OP_COEFFICIENTS) coefficientsTask(args);
  else unreachable();
}

// Slab arguments (squared and normalised):
//  0 X0 (A−P or A)  1 X1 (A−N or P)  2 X2 (unused or N)  3 ld  4 m  5 slabs  6 panels  7 kp
//  8 margin  9 hinged  10 wantGrad  11 2/m  12 G partials (slab s at +s·kp·ld·4)
//  13 work base  14 work bytes per thread  15 results (slab s: f64 sum, f64 active, f64 correct, f64 rows dropped early)
//  16 chunk rows R  17 early exit (see projectNegatives)
// Work per thread: 3 projections R×kp, coefficients for 3R entries (R×kp each, quad-packed),
// 3R row addresses, scratch kp, packed strips 3R×ld (see packStrips), then for the early exit
// 2R float64 norms, R×32 bytes of lane sums and R row indices.
function slabTask(op: i32, args: usize, slab: i32, thread: i32): void {
  const ld = <i32>arg(args, 3);
  const m = <i32>arg(args, 4);
  const slabs = <i32>arg(args, 5);
  const panels = argp(args, 6);
  const kp = <i32>arg(args, 7);
  const margin = arg(args, 8);
  const hinged = arg(args, 9) != 0;
  const wantGrad = arg(args, 10) != 0;
  const coef = <f32>arg(args, 11);
  const G = argp(args, 12) + <usize>slab * <usize>kp * <usize>ld * 4;
  const work = argp(args, 13) + <usize>thread * argp(args, 14);
  const res = argp(args, 15) + <usize>slab * 32;
  const R = <i32>arg(args, 16);
  const i0 = <i32>((<i64>slab * <i64>m) / <i64>slabs);
  const i1 = <i32>((<i64>(slab + 1) * <i64>m) / <i64>slabs);
  const rb = <usize>ld << 2;
  const zb = <usize>R * <usize>kp * 4;
  const Z0 = work, Z1 = Z0 + zb, Z2 = Z1 + zb;
  const C0 = Z2 + zb;
  const L0 = C0 + 3 * zb;
  const scratch = L0 + 3 * (<usize>R << 2);
  const Xp = scratch + (<usize>kp << 2);
  const normalized = op == OP_NORMALIZED;
  // early exit (squared, hinged): ‖u‖², ‖v‖², lane sums and live rows for projectNegatives
  const early = !normalized && hinged && arg(args, 17) != 0;
  const DP = Xp + 3 * <usize>R * rb;
  const DN = DP + (<usize>R << 3);
  const ACC = DN + (<usize>R << 3);
  const LIVE = ACC + (<usize>R << 5);
  const X0 = argp(args, 0), X1 = argp(args, 1), X2 = argp(args, 2);
  if (wantGrad) memory.fill(G, 0, <usize>kp * rb);
  let sum: f64 = 0;
  let active = 0;
  let correct = 0;
  let dropped = 0;
  const zr = <usize>kp << 2;
  // coefficient blocks are packed by quads: quad q of entry t at C + q·cq + 16·t, so the gradient
  // tile reads its 4 coefficients per row from one contiguous stream
  const cq = <usize>(3 * R) << 4;
  for (let c0 = i0; c0 < i1; c0 += R) {
    const n = min(R, i1 - c0);
    const x0 = X0 + <usize>c0 * rb, x1 = X1 + <usize>c0 * rb, x2 = X2 + <usize>c0 * rb;
    project(x0, n, ld, panels, kp, Z0, kp);
    if (early) {
      for (let i = 0; i < n; i++) store<f64>(DP + (<usize>i << 3), sumSq(Z0 + <usize>i * zr, kp));
      dropped += projectNegatives(x1, n, ld, panels, kp, Z1, DP, DN, ACC, LIVE, margin);
    } else {
      project(x1, n, ld, panels, kp, Z1, kp);
    }
    if (normalized) project(x2, n, ld, panels, kp, Z2, kp);
    let s = 0;
    for (let i = 0; i < n; i++) {
      const z0 = Z0 + <usize>i * zr, z1 = Z1 + <usize>i * zr, z2 = Z2 + <usize>i * zr;
      let dp: f64, dn: f64, na: f64 = 0, np: f64 = 0, nn: f64 = 0;
      if (normalized) {
        na = normalizeRow(z0, kp);
        np = normalizeRow(z1, kp);
        nn = normalizeRow(z2, kp);
        dp = sumSqDiff(z0, z1, kp);
        dn = sumSqDiff(z0, z2, kp);
      } else if (early) {
        dp = load<f64>(DP + (<usize>i << 3));
        dn = load<f64>(DN + (<usize>i << 3));
      } else {
        dp = sumSq(z0, kp);
        dn = sumSq(z1, kp);
      }
      const diff = dp - dn;
      const bracket = diff + margin;
      if (diff < 0) correct++;
      if (bracket > 0) active++;
      // NaN (∞ − ∞: embeddings past float32) is no inactive triplet: it carries into the loss
    if (hinged && bracket <= 0) continue;
      sum += bracket;
      if (!wantGrad) continue;
      const so = <usize>s << 4;
      const lo = <usize>s << 2;
      const row = <usize>(c0 + i) * rb;
      if (normalized) {
        // ∂/∂ea = c(en − ep), ∂/∂ep = c(ep − ea), ∂/∂en = c(ea − en), then back through the norm
        const cv = f32x4.splat(coef);
        for (let o: usize = 0; o < zr; o += 16) {
          v128.store(scratch + o, f32x4.mul(cv, f32x4.sub(v128.load(z2 + o), v128.load(z1 + o))));
        }
        backprop(C0 + so, z0, scratch, na, kp, cq);
        for (let o: usize = 0; o < zr; o += 16) {
          v128.store(scratch + o, f32x4.mul(cv, f32x4.sub(v128.load(z1 + o), v128.load(z0 + o))));
        }
        backprop(C0 + so + 16, z1, scratch, np, kp, cq);
        for (let o: usize = 0; o < zr; o += 16) {
          v128.store(scratch + o, f32x4.mul(cv, f32x4.sub(v128.load(z0 + o), v128.load(z2 + o))));
        }
        backprop(C0 + so + 32, z2, scratch, nn, kp, cq);
        store<u32>(L0 + lo, <u32>(X0 + row));
        store<u32>(L0 + lo, <u32>(X1 + row), 4);
        store<u32>(L0 + lo, <u32>(X2 + row), 8);
        s += 3;
      } else {
        scaleTo(C0 + so, z0, kp, coef, cq);
        scaleTo(C0 + so + 16, z1, kp, -coef, cq);
        store<u32>(L0 + lo, <u32>(X0 + row));
        store<u32>(L0 + lo, <u32>(X1 + row), 4);
        s += 2;
      }
    }
    if (s > 0) {
      packStrips(Xp, L0, s, ld);
      gradPacked(G, kp, ld, C0, cq, Xp, <usize>s << 5, s);
    }
  }
  store<f64>(res, sum);
  store<f64>(res, <f64>active, 8);
  store<f64>(res, <f64>correct, 16);
  store<f64>(res, <f64>dropped, 24);
}

// Reduce arguments: 0 partials  1 slabs  2 kp  3 ld  4 k  5 d  6 out (k×d f64)  7 rows per task
// 8 accumulate (out += instead of out =). Each output element sums the slabs in order 0..slabs−1.
function reduceTask(args: usize, task: i32): void {
  const Gp = argp(args, 0);
  const slabs = <i32>arg(args, 1);
  const kp = <i32>arg(args, 2);
  const ld = <i32>arg(args, 3);
  const k = <i32>arg(args, 4);
  const d = <i32>arg(args, 5);
  const out = argp(args, 6);
  const per = <i32>arg(args, 7);
  const acc = arg(args, 8) != 0;
  const r0 = task * per;
  const r1 = min(k, r0 + per);
  const slabBytes = <usize>kp * <usize>ld * 4;
  for (let r = r0; r < r1; r++) {
    for (let j = 0; j < d; j++) {
      const o = out + ((<usize>r * <usize>d + <usize>j) << 3);
      let s: f64 = acc ? load<f64>(o) : 0;
      let g = Gp + ((<usize>r * <usize>ld + <usize>j) << 2);
      for (let t = 0; t < slabs; t++) {
        s += <f64>load<f32>(g);
        g += slabBytes;
      }
      store<f64>(o, s);
    }
  }
}

// Project arguments: 0 X  1 n  2 ld  3 panels  4 kp  5 Y (n×kp)  6 rows per task  7 normalise rows
function projectTask(args: usize, task: i32): void {
  const X = argp(args, 0);
  const n = <i32>arg(args, 1);
  const ld = <i32>arg(args, 2);
  const panels = argp(args, 3);
  const kp = <i32>arg(args, 4);
  const Y = argp(args, 5);
  const per = <i32>arg(args, 6);
  const norm = arg(args, 7) != 0;
  const r0 = task * per;
  const r1 = min(n, r0 + per);
  if (r1 <= r0) return;
  const y = Y + <usize>r0 * (<usize>kp << 2);
  project(X + <usize>r0 * (<usize>ld << 2), r1 - r0, ld, panels, kp, y, kp);
  if (norm) for (let i = 0; i < r1 - r0; i++) normalizeRow(y + <usize>i * (<usize>kp << 2), kp);
}

// Columns arguments: 0 X (n×ld)  1 n  2 ld  3 panels  4 panel count  5 Y (n×ldy)  6 ldy
// 7 panels per task. The project op split the other way: a task takes a run of panels for every
// row of X, so a few rows of X (search queries) against many panels (a gallery) still make many
// tasks, and every lane of a panel is a real output.
function columnsTask(args: usize, task: i32): void {
  const X = argp(args, 0);
  const n = <i32>arg(args, 1);
  const ld = <i32>arg(args, 2);
  const panels = argp(args, 3);
  const np = <i32>arg(args, 4);
  const Y = argp(args, 5);
  const ldy = <i32>arg(args, 6);
  const per = <i32>arg(args, 7);
  const p0 = task * per;
  const p1 = min(np, p0 + per);
  if (p1 <= p0) return;
  project(X, n, ld, panels + <usize>p0 * (<usize>ld << 5), (p1 - p0) << 3, Y + (<usize>p0 << 5), ldy);
}

// Transpose arguments: 0 V (k rows of `stride` floats: value r of row i at r·stride + i)  1 stride
// 2 k  3 n  4 Z (n×kp, the padding columns left as they are)  5 kp  6 rows per task.
// Row by row of Z: the k cache lines of V one row reads hold the next fifteen rows' values too.
function transposeTask(args: usize, task: i32): void {
  const V = argp(args, 0);
  const stride = <usize>arg(args, 1);
  const k = <i32>arg(args, 2);
  const n = <i32>arg(args, 3);
  const Z = argp(args, 4);
  const kp = <usize>arg(args, 5);
  const per = <i32>arg(args, 6);
  const i0 = task * per;
  const i1 = min(n, i0 + per);
  for (let i = i0; i < i1; i++) {
    const z = Z + ((<usize>i * kp) << 2);
    let v = V + (<usize>i << 2);
    for (let r = 0; r < k; r++) {
      store<f32>(z + (<usize>r << 2), load<f32>(v));
      v += stride << 2;
    }
  }
}

// Distances arguments: 0 Z (n×kp)  1 kp  2 refs (i32 a, p, n per triplet)  3 list (i32, 0 = triplets
// 0..count−1)  4 count  5 out (f64: ‖z_a − z_p‖², ‖z_a − z_n‖² for each listed triplet)  6 per task.
// Every output depends on its triplet alone, so any split over threads gives the same bits.
function distancesTask(args: usize, task: i32): void {
  const Z = argp(args, 0);
  const kp = <i32>arg(args, 1);
  const refs = argp(args, 2);
  const list = argp(args, 3);
  const count = <i32>arg(args, 4);
  const out = argp(args, 5);
  const per = <i32>arg(args, 6);
  const t0 = task * per;
  const t1 = min(count, t0 + per);
  const row = <usize>kp << 2;
  for (let t = t0; t < t1; t++) {
    const i = list == 0 ? t : load<i32>(list + (<usize>t << 2));
    const r = refs + <usize>i * 12;
    const za = Z + <usize>load<i32>(r) * row;
    store<f64>(out + (<usize>t << 4), sumSqDiff(za, Z + <usize>load<i32>(r, 4) * row, kp));
    store<f64>(out + (<usize>t << 4), sumSqDiff(za, Z + <usize>load<i32>(r, 8) * row, kp), 8);
  }
}

// Coefficients arguments (one task: the sums follow the list's order): 0 Z (n×kp)  1 kp  2 C (n×k,
// row stride k)  3 k  4 refs  5 previous list  6 its count  7 list  8 count  9 scale s.
// C's rows of the previous list's samples are cleared (every other row is zero already), then each
// listed triplet adds s·(e_n − e_p), s·(e_p − e_a), s·(e_a − e_n) to the rows of a, p and n.
function coefficientsTask(args: usize): void {
  const Z = argp(args, 0);
  const rz = <usize>arg(args, 1) << 2;
  const C = argp(args, 2);
  const k = <i32>arg(args, 3);
  const refs = argp(args, 4);
  const prev = argp(args, 5);
  const np = <i32>arg(args, 6);
  const list = argp(args, 7);
  const nl = <i32>arg(args, 8);
  const s = <f32>arg(args, 9);
  const rc = <usize>k << 2;
  const k4 = (<usize>k & ~3) << 2;
  for (let t = 0; t < np; t++) {
    const r = refs + <usize>load<i32>(prev + (<usize>t << 2)) * 12;
    for (let u: usize = 0; u < 12; u += 4) {
      const c = C + <usize>load<i32>(r + u) * rc;
      for (let o: usize = 0; o < rc; o += 4) store<f32>(c + o, 0);
    }
  }
  const sv = f32x4.splat(s);
  for (let t = 0; t < nl; t++) {
    const r = refs + <usize>load<i32>(list + (<usize>t << 2)) * 12;
    const ja = <usize>load<i32>(r);
    const jp = <usize>load<i32>(r, 4);
    const jn = <usize>load<i32>(r, 8);
    const za = Z + ja * rz;
    const zp = Z + jp * rz;
    const zn = Z + jn * rz;
    const ca = C + ja * rc;
    const cp = C + jp * rc;
    const cn = C + jn * rc;
    let o: usize = 0;
    for (; o < k4; o += 16) {
      const ea = v128.load(za + o);
      const ep = v128.load(zp + o);
      const en = v128.load(zn + o);
      v128.store(ca + o, f32x4.add(v128.load(ca + o), f32x4.mul(sv, f32x4.sub(en, ep))));
      v128.store(cp + o, f32x4.add(v128.load(cp + o), f32x4.mul(sv, f32x4.sub(ep, ea))));
      v128.store(cn + o, f32x4.add(v128.load(cn + o), f32x4.mul(sv, f32x4.sub(ea, en))));
    }
    for (; o < rc; o += 4) {
      const ea = load<f32>(za + o);
      const ep = load<f32>(zp + o);
      const en = load<f32>(zn + o);
      store<f32>(ca + o, load<f32>(ca + o) + s * (en - ep));
      store<f32>(cp + o, load<f32>(cp + o) + s * (ep - ea));
      store<f32>(cn + o, load<f32>(cn + o) + s * (ea - en));
    }
  }
}

/** Gradient accumulation for the generic Kernels.accumulate (layouts as gradPacked). */
export function accumulate(G: usize, kp: i32, ld: i32, C: usize, cq: usize, Xp: usize, ss: usize, s: i32, wide: i32): void {
  WIDE = wide != 0;
  gradPacked(G, kp, ld, C, cq, Xp, ss, s);
}

// ---------------------------------------------------------------------------------------------
// Finite check: index of the first NaN or ±Infinity among n float32 values at x, or −1.
// 16 values per step (exponent bits all ones ⇔ not finite), the exact index found by a scalar
// rescan only when a step flags one.

export function firstNonFinite(x: usize, n: i32): i32 {
  const mask = i32x4.splat(0x7f800000);
  const n16 = n & ~15;
  let i = 0;
  for (; i < n16; i += 16) {
    const p = x + (<usize>i << 2);
    const a = i32x4.eq(v128.and(v128.load(p), mask), mask);
    const b = i32x4.eq(v128.and(v128.load(p, 16), mask), mask);
    const c = i32x4.eq(v128.and(v128.load(p, 32), mask), mask);
    const d = i32x4.eq(v128.and(v128.load(p, 48), mask), mask);
    if (v128.any_true(v128.or(v128.or(a, b), v128.or(c, d)))) break;
  }
  for (; i < n; i++) {
    if ((load<u32>(x + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) return i;
  }
  return -1;
}

// Embed arguments (one task, the whole batch): 0 X (n×ld)  1 n  2 ld  3 panels  4 kp  5 Y (n×kp)
// 6 normalise rows  7 values to check for finiteness (n·ld, 0 = none)  8 result: −1, or the index
// of the first non-finite input value (then nothing is computed).
function embedTask(args: usize): void {
  const X = argp(args, 0);
  const n = <i32>arg(args, 1);
  const ld = <i32>arg(args, 2);
  const panels = argp(args, 3);
  const kp = <i32>arg(args, 4);
  const Y = argp(args, 5);
  const norm = arg(args, 6) != 0;
  const check = <i32>arg(args, 7);
  const bad = check > 0 ? firstNonFinite(X, check) : -1;
  store<f64>(args + 64, <f64>bad);
  if (bad >= 0) return;
  project(X, n, ld, panels, kp, Y, kp);
  if (norm) for (let i = 0; i < n; i++) normalizeRow(Y + <usize>i * (<usize>kp << 2), kp);
}
