// A pull towards the starting map W₀ (the PCA or identity start), scale-free:
//
//   R(W) = λ · ‖W − W₀‖²_F / ‖W₀‖²_F,   ∂R/∂W = 2λ (W − W₀) / ‖W₀‖²_F
//
// Dividing by ‖W₀‖² makes λ independent of the start's scale (the PCA start is rescaled to the data),
// so one λ means "this much relative change costs this much loss" on every data set. It keeps the
// directions along which the raw neighbourhoods were already right, which the batch losses, seeing a
// handful of labels at a time, would otherwise trade away for the batch's benefit. Pure.
//
// trainMined divides the request's startPull by the number of pairs of training labels (pullPerLabel):
// the pull is a prior worth a fixed amount of evidence, and what the batch losses learn about W grows
// with the label pairs they separate. It dominates when a few classes train (5 digits: 10 pairs; they
// say little about unseen classes) and vanishes when hundreds do (900 identities: 404,550 pairs), where
// even λ = startPull/labels cost precision@1 (docs/decisions/0045). It also scales λ by a gate in
// [0, 1], how good the start is on the training samples (start-gate.ts, docs/decisions/0051): a pull
// keeps what the start gets wrong as firmly as what it gets right.

/** The λ of R for a request's startPull over `labels` training labels: startPull / (labels·(labels − 1)/2). */
export function pullPerLabel(startPull: number, labels: number): number {
  const pairs = (labels * (labels - 1)) / 2;
  return pairs > 0 ? startPull / pairs : 0;
}

export interface StartPull {
  /** adds ∂R/∂W into grad (when non-null) and returns R(W) */
  apply(W: Float64Array, grad: Float64Array | null): number;
}

/**
 * A pull of strength λ ≥ 0 towards a copy of W0; λ = 0 (or W₀ = 0) gives a pull that does nothing.
 * `directional`: R(W) = λ‖W/‖W‖ − W₀/‖W₀‖‖², blind to the scale of W (for normalised embeddings,
 * whose loss is too: a pull on the scale would only shrink W and change Adam's effective step).
 */
export function createStartPull(W0: Float64Array, lambda: number, directional = false): StartPull {
  const start = Float64Array.from(W0);
  let sq = 0;
  for (let i = 0; i < start.length; i++) sq += start[i] * start[i];
  const c = sq > 0 ? lambda / sq : 0;
  if (directional && sq > 0) {
    const inv0 = 1 / Math.sqrt(sq);
    for (let i = 0; i < start.length; i++) start[i] *= inv0;
  }
  const check = (W: Float64Array) => {
    if (W.length !== start.length) throw new RangeError(`W has ${W.length} values, expected ${start.length}`);
  };
  if (directional) {
    return {
      apply(W, grad) {
        if (c === 0) return 0;
        check(W);
        let ww = 0;
        let wu = 0;
        for (let i = 0; i < W.length; i++) {
          ww += W[i] * W[i];
          wu += W[i] * start[i];
        }
        if (ww === 0) return 0;
        const nrm = Math.sqrt(ww);
        const cos = wu / nrm;
        // ‖u − u₀‖² = 2 − 2·cos; ∂/∂W = (2λ/‖W‖)·(u·cos − u₀)
        if (grad !== null) {
          const g = (2 * lambda) / nrm;
          for (let i = 0; i < W.length; i++) grad[i] += g * ((W[i] / nrm) * cos - start[i]);
        }
        return lambda * (2 - 2 * cos);
      },
    };
  }
  return {
    apply(W, grad) {
      if (c === 0) return 0;
      check(W);
      let r = 0;
      for (let i = 0; i < W.length; i++) {
        const diff = W[i] - start[i];
        r += diff * diff;
        if (grad !== null) grad[i] += 2 * c * diff;
      }
      return c * r;
    },
  };
}
