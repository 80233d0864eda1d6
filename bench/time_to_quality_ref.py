#!/usr/bin/python3
"""Reference learner for `npm run bench -- --time-to-quality`: numpy + scipy L-BFGS-B on the hinged
triplet loss, started from a given W0 (the service's own PCA start), same margin, weight decay, k.

  python3 time_to_quality_ref.py --dir DIR --margin 0.2 --weight-decay 1e-4 --max-iter 500 --history 10

DIR holds X.f32 (n x d float32), T.i32 (m x 3 int32 sample indices), W0.f64 (k x d float64) and
shape.json {n, d, m, k}. Timed, as the service's job is: reading the data, forming A-P and A-N, a
PCA of the same size as the service's (numpy eigh of the covariance of min(8192, 3m) sampled rows;
its result is discarded: the optimisation starts from W0 so that both start from the same point),
and the L-BFGS-B run. Loss, as src/math/losses.ts:
  L(W) = (1/m) sum_i max(0, |W dp_i|^2 - |W dn_i|^2 + margin) + 0.5 * lambda * |W|_F^2
Products in float32 (as numpy_triplet_bench.py), loss and gradient returned in float64.
Prints one JSON object: finalLoss, iterations, evaluations, seconds per phase, loss after each iteration.
"""
import argparse
import json
import os
import time

import numpy as np
from scipy.optimize import minimize


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--margin", type=float, default=0.2)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--max-iter", type=int, default=500)
    ap.add_argument("--history", type=int, default=10)
    a = ap.parse_args()
    t0 = time.perf_counter()
    shape = json.load(open(os.path.join(a.dir, "shape.json")))
    n, d, m, k = shape["n"], shape["d"], shape["m"], shape["k"]
    X = np.fromfile(os.path.join(a.dir, "X.f32"), dtype=np.float32).reshape(n, d)
    T = np.fromfile(os.path.join(a.dir, "T.i32"), dtype=np.int32).reshape(m, 3)
    W0 = np.fromfile(os.path.join(a.dir, "W0.f64"), dtype=np.float64).reshape(k, d)
    Dp = X[T[:, 0]] - X[T[:, 1]]
    Dn = X[T[:, 0]] - X[T[:, 2]]
    t_load = time.perf_counter() - t0

    t1 = time.perf_counter()
    rng = np.random.default_rng(0)
    rows = np.concatenate([T[:, 0], T[:, 1], T[:, 2]])
    if rows.size > 8192:
        rows = rng.choice(rows, 8192, replace=False)
    S = X[rows].astype(np.float64)
    S -= S.mean(0)
    C = S.T @ S / max(1, S.shape[0] - 1)
    vals, vecs = np.linalg.eigh(C)
    _ = vecs[:, ::-1][:, :k] / np.sqrt(max(vals[::-1][:k].clip(0).sum(), 1e-300))
    t_pca = time.perf_counter() - t1

    lam, margin = a.weight_decay, a.margin

    def fg(w):
        W = w.reshape(k, d)
        W32 = W.astype(np.float32)
        U = Dp @ W32.T
        V = Dn @ W32.T
        b = np.einsum("ij,ij->i", U, U).astype(np.float64) - np.einsum("ij,ij->i", V, V) + margin
        act = b > 0
        loss = b[act].sum() / m + 0.5 * lam * float(np.dot(w, w))
        G = (U[act].T @ Dp[act] - V[act].T @ Dn[act]).astype(np.float64) * (2.0 / m) + lam * W
        return loss, G.ravel()

    t2 = time.perf_counter()
    res = minimize(fg, W0.ravel(), jac=True, method="L-BFGS-B",
                   options={"maxiter": a.max_iter, "maxcor": a.history})
    t_opt = time.perf_counter() - t2
    print(json.dumps({"tool": "scipy L-BFGS-B", "finalLoss": float(res.fun), "iterations": int(res.nit),
                      "evaluations": int(res.nfev), "message": str(res.message),
                      "seconds": {"load": t_load, "pca": t_pca, "optimize": t_opt, "total": t_load + t_pca + t_opt},
                      "startLoss": float(fg(W0.ravel())[0])}))


if __name__ == "__main__":
    main()
