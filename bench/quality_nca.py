"""NCA reference of the open-set quality bench (bench/quality.ts).

Reads train X (float32, n×d), train labels (int32), test X from the files named on the command line,
fits Neighborhood Components Analysis with k outputs and writes the test embeddings (float32, m×k).
scikit-learn's NeighborhoodComponentsAnalysis (init='pca') when it can be imported; otherwise the same
objective implemented here with numpy + scipy's L-BFGS-B (sklearn's formulation: maximise the expected
number of correctly classified points, softmax over negative squared distances, PCA start) and says so
on stderr.

  python3 quality_nca.py X_train.f32 y_train.i32 X_test.f32 d k max_iter seed out.f32
"""
import sys

import numpy as np


def pca_start(X, k):
    Xc = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return vt[:k].copy()


def nca_numpy(X, y, k, max_iter, seed):
    from scipy.optimize import minimize

    n, d = X.shape
    same = y[:, None] == y[None, :]

    def loss_grad(flat):
        L = flat.reshape(k, d)
        Z = X @ L.T
        sq = (Z * Z).sum(1)
        D = sq[:, None] + sq[None, :] - 2 * Z @ Z.T
        np.fill_diagonal(D, np.inf)
        S = -D
        S -= S.max(axis=1, keepdims=True)
        P = np.exp(S)
        P /= P.sum(axis=1, keepdims=True)
        Pm = np.where(same, P, 0.0)
        p = Pm.sum(axis=1)
        W = Pm - P * p[:, None]
        Ws = W + W.T
        np.fill_diagonal(Ws, -W.sum(axis=0))
        grad = 2 * Z.T @ Ws @ X  # ∂(Σ p_i)/∂L, as scikit-learn's _loss_grad_lbfgs
        return -p.sum(), -grad.ravel()

    L0 = pca_start(X, min(k, d))
    if k > d:
        L0 = np.vstack([L0, np.zeros((k - d, d))])
    res = minimize(loss_grad, L0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res.x.reshape(k, d)


def main():
    xtr, ytr, xte, d, k, max_iter, seed, out = sys.argv[1:9]
    d, k, max_iter, seed = int(d), int(k), int(max_iter), int(seed)
    Xtr = np.fromfile(xtr, dtype=np.float32).reshape(-1, d).astype(np.float64)
    y = np.fromfile(ytr, dtype=np.int32)
    Xte = np.fromfile(xte, dtype=np.float32).reshape(-1, d).astype(np.float64)
    try:
        from sklearn.neighbors import NeighborhoodComponentsAnalysis

        nca = NeighborhoodComponentsAnalysis(n_components=k, init="pca", max_iter=max_iter, random_state=seed)
        nca.fit(Xtr, y)
        E = nca.transform(Xte)
        sys.stderr.write("nca: scikit-learn\n")
    except ImportError:
        L = nca_numpy(Xtr, y, k, max_iter, seed)
        E = Xte @ L.T
        sys.stderr.write("nca: numpy+scipy L-BFGS-B (scikit-learn not importable)\n")
    E.astype(np.float32).tofile(out)


if __name__ == "__main__":
    main()
