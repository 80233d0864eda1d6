"""numpy reference for src/math/verification: writes test/fixtures/verification/*.json.

    python3 test/fixtures-gen/verification_reference.py   (numpy only; ~10 s)

scikit-learn is not installed here, so its roc_curve is re-implemented exactly
(sklearn/metrics/_ranking.py, _binary_clf_curve + roc_curve with drop_intermediate=False):
  1. sort scores descending (argsort(kind="mergesort")[::-1]),
  2. distinct_value_indices = where(diff(score))[0]; threshold_idxs = r_[those, n - 1],
  3. tps = cumsum(y_true)[threshold_idxs]; fps = 1 + threshold_idxs - tps,
  4. prepend (0, 0) with threshold +inf; fpr = fps / fps[-1], tpr = tps / tps[-1].
Scores are -distance, so a pair is accepted when distance <= threshold.
  TAR@FAR: i = searchsorted(fpr, far, "right") - 1; TAR = tpr[i], threshold = -thresholds[i].
  EER: i* = first i with fpr >= 1 - tpr; linear interpolation between points i*-1 and i*.
  AUC: trapezoid(tpr, fpr) (roc_auc_score), checked against Mann-Whitney with average ranks.
  CMC / open set: the protocol of src/math/verification/identify.ts, with the split of split.ts
  (its Mulberry32 generator re-implemented below, bit for bit).
Distances are summed over dimensions in index order, as the TypeScript does, so both sides see
bit-identical distances and ties.
"""
import csv
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "verification")
DIGITS = os.path.join(HERE, "..", "..", "..", "shared", "data", "digits")
FARS = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
M32 = 0xFFFFFFFF


# --- src/math/rng.ts -----------------------------------------------------------------------
def imul(a, b):
    return (a * b) & M32


class Rng:
    def __init__(self, seed):
        z = (int(seed) ^ 0x9E3779B9) & M32
        z = imul(z ^ (z >> 16), 0x85EBCA6B)
        z = imul(z ^ (z >> 13), 0xC2B2AE35)
        self.state = (z ^ (z >> 16)) & M32

    def uniform(self):
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & M32)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296.0

    def int(self, n):
        return int(math.floor(self.uniform() * n))


def shuffle(a, rng):
    for i in range(len(a) - 1, 0, -1):
        j = rng.int(i + 1)
        a[i], a[j] = a[j], a[i]
    return a


# --- distances, summed in dimension order ----------------------------------------------------
def distances(E, I, J, metric):
    s = np.zeros(len(I))
    if metric == "cosine":
        raise NotImplementedError
    for r in range(E.shape[1]):
        v = E[I, r] - E[J, r]
        s = s + v * v
    s = np.maximum(s, 0.0)
    return np.sqrt(s) if metric == "euclidean" else s


def all_pairs(E, y, metric):
    n = len(y)
    I, J = np.triu_indices(n, 1)
    d = distances(E, I, J, metric)
    same = y[I] == y[J]
    return d[same], d[~same]


# --- sklearn.metrics.roc_curve(drop_intermediate=False) --------------------------------------
def roc_curve(y_true, y_score):
    order = np.argsort(y_score, kind="mergesort")[::-1]
    y_score = y_score[order]
    y_true = y_true[order]
    distinct = np.where(np.diff(y_score))[0]
    idx = np.r_[distinct, y_true.size - 1]
    tps = np.cumsum(y_true)[idx]
    fps = 1 + idx - tps
    thresholds = y_score[idx]
    tps = np.r_[0, tps]
    fps = np.r_[0, fps]
    thresholds = np.r_[np.inf, thresholds]
    return fps / fps[-1], tps / tps[-1], thresholds


def average_rank_auc(gen, imp):
    scores = np.r_[-gen, -imp]
    uniq, inv, cnt = np.unique(scores, return_inverse=True, return_counts=True)
    start = np.cumsum(cnt) - cnt
    avg = start + (cnt + 1) / 2.0
    ranks = avg[inv]
    G, N = len(gen), len(imp)
    return (ranks[:G].sum() - G * (G + 1) / 2.0) / (G * N)


def needed(far):
    return math.ceil(1 / far - 1e-9)


def roc_summary(gen, imp, fars, curve_points=0, roc=None, auc=None):
    """TAR at each FAR with its threshold, EER and its threshold, AUC and up to curve_points
    log-spaced ROC points, from genuine and impostor distances (a pair matches at distance <= t).
    roc: a roc_curve(y, scores) (default: roc_curve above); auc: an auc(y, scores) (default: the
    trapezoid under the ROC, checked against the average-rank AUC)."""
    G, N = len(gen), len(imp)
    y = np.r_[np.ones(G, dtype=np.int64), np.zeros(N, dtype=np.int64)]
    scores = -np.r_[gen, imp]
    fpr, tpr, thr = (roc or roc_curve)(y, scores)
    out = {"genuineCount": G, "impostorCount": N, "tarAtFar": []}
    for far in fars:
        if N < needed(far):
            out["tarAtFar"].append({"far": far, "tar": None, "threshold": None})
            continue
        i = np.searchsorted(fpr, far, side="right") - 1
        t = -thr[i]
        out["tarAtFar"].append({"far": far, "tar": float(tpr[i]), "threshold": None if np.isinf(t) else float(t)})
    fnr = 1 - tpr
    i = int(np.argmax(fpr >= fnr))
    a0, b0, a1, b1 = fpr[i - 1], tpr[i - 1], fpr[i], tpr[i]
    s = (1 - a0 - b0) / ((a1 - a0) + (b1 - b0))
    out["eer"] = float(a0 + s * (a1 - a0))
    out["eerThreshold"] = float(-thr[i])
    if auc is None:
        area = float(np.trapezoid(tpr, fpr))
        assert abs(area - average_rank_auc(gen, imp)) < 1e-9, (area, average_rank_auc(gen, imp))
    else:
        area = float(auc(y, scores))
    out["auc"] = area
    if curve_points:
        a = math.log10(1 / N)
        P = curve_points
        grid = [1.0 if i == P - 1 else 10 ** (a + (i * (0 - a)) / (P - 1)) for i in range(P)]
        out["curve"] = [
            {"far": f, "tar": float(tpr[np.searchsorted(fpr, f, side="right") - 1])} for f in grid
        ]
    return out


def verification(gen, imp, curve_points=0):
    return roc_summary(gen, imp, FARS, curve_points)


# --- identification (split.ts, identify.ts) --------------------------------------------------
def split(y, seed, fraction):
    rng = Rng(seed)
    labels = sorted(set(int(v) for v in y))
    order = shuffle(list(labels), rng)
    u = max(0, min(len(order) - 1, int(math.floor(fraction * len(order)))))
    unknown = set(order[:u])
    gallery, known, unknown_probes = [], [], []
    for lab in labels:
        idx = [int(i) for i in np.flatnonzero(y == lab)]
        if lab in unknown:
            unknown_probes += idx
            continue
        s = shuffle(list(idx), rng)
        gallery.append(s[0])
        known += s[1:]
    return sorted(gallery), sorted(known), sorted(unknown_probes), sorted(unknown)


def identification(E, y, metric, seed, fraction, ranks, fars):
    gallery, known, unknown_probes, unknown_labels = split(y, seed, fraction)
    g = np.array(gallery)

    def score(p):
        d = distances(E, np.full(len(g), p), g, metric)
        order = np.argsort(d, kind="stable")  # gallery is ascending: ties by sample index
        labs = y[g[order]]
        rank = int(np.flatnonzero(labs == y[p])[0]) + 1 if (labs == y[p]).any() else None
        return rank, float(d[order[0]]), bool(labs[0] == y[p])

    K = [score(p) for p in known]
    U = np.sort(np.array([score(p)[1] for p in unknown_probes]))
    cmc = [{"rank": r, "rate": sum(1 for k in K if k[0] <= r) / len(K)} for r in ranks]
    open_set = []
    for far in fars:
        if len(U) < needed(far):
            open_set.append({"far": far, "dir": None, "threshold": None})
            continue
        c = len(U)
        m = int(np.sum((np.arange(c + 1) / c) <= far)) - 1  # largest m with m/U <= far
        v = U[m]
        scores = np.r_[[k[1] for k in K], U]
        below = scores[scores < v]
        hits = sum(1 for k in K if k[2] and k[1] < v)
        open_set.append(
            {"far": far, "dir": hits / len(K), "threshold": float(below.max()) if below.size else None}
        )
    return {
        "seed": seed,
        "unknownFraction": fraction,
        "ranks": ranks,
        "fars": fars,
        "gallery": gallery,
        "unknownLabels": unknown_labels,
        "knownProbeCount": len(known),
        "unknownProbeCount": len(unknown_probes),
        "cmc": cmc,
        "openSet": open_set,
    }


def read_digits():
    rows = []
    for name in ("train.csv", "test.csv"):
        with open(os.path.join(DIGITS, name), newline="") as f:
            r = csv.reader(f)
            next(r)
            rows += [[float(v) for v in row] for row in r]
    a = np.array(rows)
    return a[:, 1:], a[:, 0].astype(np.int64)


def write(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")


def algorithm_s(total, count, seed):
    """pairs.ts's sampler: Knuth's Algorithm S, positions kept among `total` offered in order."""
    rng = Rng(seed)
    keep = []
    for t in range(total):
        if (total - t) * rng.uniform() < count - len(keep):
            keep.append(t)
            if len(keep) == count:
                break
    return np.array(keep)


def impostor_sample(y, count, seed):
    """Impostor pairs in (i, j > i) order, sampled with createRng(seed)."""
    I, J = np.triu_indices(len(y), 1)
    imp = np.flatnonzero(y[I] != y[J])
    keep = imp[algorithm_s(len(imp), count, seed)]
    return I[keep], J[keep], len(imp)


def genuine_sample(y, count, seed):
    """Genuine pairs label by label (ascending), i < j in index order, sampled with createRng(seed + 1)."""
    I, J = [], []
    for lab in sorted(set(int(v) for v in y)):
        idx = np.flatnonzero(y == lab)
        a, b = np.triu_indices(len(idx), 1)
        I.append(idx[a])
        J.append(idx[b])
    I, J = np.concatenate(I), np.concatenate(J)
    keep = algorithm_s(len(I), count, seed + 1)
    return I[keep], J[keep], len(I)


def case(E, y, metric, curve_points, ident, sample=None):
    gen, imp = all_pairs(E, y, metric)
    if sample:
        I, J, total = impostor_sample(y, sample["maxImpostorPairs"], sample["seed"])
        imp = distances(E, I, J, metric)
        I, J, gtotal = genuine_sample(y, sample["maxGenuinePairs"], sample["seed"])
        gen = distances(E, I, J, metric)
    out = {"metric": metric, "verification": verification(gen, imp, curve_points)}
    if sample:
        out["verification"].update(sample, impostorTotal=int(total), genuineTotal=int(gtotal))
    out["identification"] = identification(E, y, metric, **ident)
    return out


def main():
    rs = np.random.RandomState(17)
    # random: 400 samples of 40 identities (sizes 1..19), clusters in 8 dimensions
    y = np.sort(rs.randint(0, 40, size=400))
    centres = rs.normal(size=(40, 8))
    E = centres[y] * 2.0 + rs.normal(size=(400, 8))
    out = case(E, y, "euclidean", 200, dict(seed=5, fraction=0.25, ranks=[1, 5, 10], fars=[0.1, 0.05, 0.01]))
    write("random.json", {"E": E.tolist(), "labels": y.tolist(), **out})

    # ties: integer points, squared euclidean: every distance is a small integer, most of them tied
    y = rs.randint(0, 12, size=300)
    E = (rs.randint(0, 8, size=(12, 2))[y] + rs.randint(0, 3, size=(300, 2))).astype(np.float64)
    out = case(E, y, "squared", 0, dict(seed=1, fraction=0.3, ranks=[1, 2, 5, 10], fars=[0.1, 0.02]))
    write("ties.json", {"E": E.tolist(), "labels": y.tolist(), **out})

    # digits: the shared set's 1797 standardised rows (train then test), raw 64 features
    X, y = read_digits()
    ident = dict(seed=3, fraction=0.2, ranks=[1, 5, 10], fars=[0.1, 0.01])
    out = case(X, y, "euclidean", 0, ident)
    write("digits.json", {"source": "shared/data/digits train.csv + test.csv, raw features", **out})
    # the same with seeded samples: 200,000 of its 1,453,110 impostor and 50,000 of its 160,596 genuine pairs
    sample = {"maxImpostorPairs": 200000, "maxGenuinePairs": 50000, "seed": 11}
    out = case(X, y, "euclidean", 0, ident, sample=sample)
    del out["identification"]
    write("digits-sampled.json", {"source": "shared/data/digits train.csv + test.csv, raw features", **out})


if __name__ == "__main__":
    main()
