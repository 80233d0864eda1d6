#!/usr/bin/env python3
"""Exact top-k search by numpy brute force, the reference for `npm run bench -- --search`.

Reads the gallery (n x dim float32, raw little-endian) and the queries from the files bench/search.ts
wrote, then times, per the options: single queries (X @ q, argpartition, sort of the k) and batches
(Q @ X.T, argpartition along rows, sort of the k). Squared euclidean as ||x||^2 + ||q||^2 - 2 x.q
with the gallery's norms precomputed; cosine as 1 - Xn @ qn with the gallery normalised beforehand
(neither precomputation is timed, as the engine's gallery preparation is not). float32 throughout.
Threads: set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before numpy loads (bench/search.ts does).
Prints one JSON object: wall and CPU (all threads) milliseconds per single query and per batch (each run),
and the indexes found.
"""
import argparse
import json
import time

import numpy as np


def top_k(d, k):
    """Row-wise k smallest of d (1-D or 2-D), nearest first."""
    k = min(k, d.shape[-1])
    part = np.argpartition(d, k - 1, axis=-1)[..., :k]
    vals = np.take_along_axis(d, part, axis=-1)
    order = np.argsort(vals, axis=-1, kind="stable")
    return np.take_along_axis(part, order, axis=-1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gallery", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--singles", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--metric", choices=["squared", "cosine"], default="squared")
    a = p.parse_args()
    X = np.fromfile(a.gallery, dtype=np.float32, count=a.n * a.dim).reshape(a.n, a.dim)
    Q = np.fromfile(a.queries, dtype=np.float32).reshape(-1, a.dim)
    if a.metric == "cosine":
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), np.float32(1e-30))
        X = X.astype(np.float32)
        norms = None
    else:
        norms = np.einsum("ij,ij->i", X, X).astype(np.float32)

    def distances(q):
        """q: (dim,) or (b, dim) -> distances to every row of X, float32."""
        if a.metric == "cosine":
            qn = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), np.float32(1e-30))
            return np.float32(1) - (qn @ X.T if q.ndim == 2 else X @ qn)
        if q.ndim == 1:
            return norms + np.dot(q, q) - np.float32(2) * (X @ q)
        return norms[None, :] + np.einsum("ij,ij->i", q, q)[:, None] - np.float32(2) * (q @ X.T)

    top_k(distances(Q[0]), a.k)  # warm-up
    single_ms, single_cpu_ms, single_idx = [], [], []
    for j in range(a.singles):
        t0, c0 = time.perf_counter(), time.process_time()
        idx = top_k(distances(Q[j]), a.k)
        single_ms.append((time.perf_counter() - t0) * 1e3)
        single_cpu_ms.append((time.process_time() - c0) * 1e3)
        single_idx.append(idx.tolist())
    batch_ms, batch_cpu_ms, batch_idx = [], [], []
    for b in range(a.batches):
        Qb = Q[b * a.batch : (b + 1) * a.batch]
        t0, c0 = time.perf_counter(), time.process_time()
        idx = top_k(distances(Qb), a.k)
        batch_ms.append((time.perf_counter() - t0) * 1e3)
        batch_cpu_ms.append((time.process_time() - c0) * 1e3)
        batch_idx.append(idx.tolist())
    out = {"single_ms": single_ms, "batch_ms": batch_ms, "single_cpu_ms": single_cpu_ms, "batch_cpu_ms": batch_cpu_ms}
    print(json.dumps({**out, "single_idx": single_idx, "batch_idx": batch_idx}))


if __name__ == "__main__":
    main()
