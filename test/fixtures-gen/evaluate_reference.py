"""scikit-learn reference for POST /models/:id/evaluate's verification and identification:
writes test/fixtures/verification/route-*.json, read by test/routes/evaluate-verification.test.ts.

    python3 test/fixtures-gen/evaluate_reference.py     (numpy and scikit-learn; ~20 s)

scikit-learn was not installed system-wide when this was written; it ran from a venv:
    python3 -m venv --system-site-packages /tmp/skl && /tmp/skl/bin/pip install scikit-learn
    /tmp/skl/bin/python test/fixtures-gen/evaluate_reference.py

Unlike verification_reference.py (which re-implements roc_curve for the math core), this calls
sklearn.metrics.roc_curve(drop_intermediate=False) and roc_auc_score on the scores -distance.
The route sees what the service stores: float32 vectors, labels numbered in order of first
appearance (labelIds), embedded by an imported W that is exact in float32 (a scaled permutation,
or the identity), so both sides compute bit-identical distances. The split and the pair samples
reuse verification_reference.py's re-implementations of rng.ts, split.ts and Algorithm S.
"""
import os
import sys

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verification_reference as ref  # noqa: E402

FARS = ref.FARS


def sk_verification(gen, imp, fars, curve_points=0):
    """ref.roc_summary on scikit-learn's own roc_curve (every threshold kept) and roc_auc_score."""
    roc = lambda y, scores: roc_curve(y, scores, drop_intermediate=False)  # noqa: E731
    return ref.roc_summary(gen, imp, fars, curve_points, roc=roc, auc=roc_auc_score)


def first_appearance_ids(y):
    ids = {}
    return np.array([ids.setdefault(int(v), len(ids)) for v in y], dtype=np.int64)


def case(X, y, W, fars, curve_points, ident, sample=None):
    """X as float32, E = X·Wᵀ exactly (W a scaled permutation); labels numbered as the service does."""
    X = X.astype(np.float32).astype(np.float64)
    E = X @ W.T
    ids = first_appearance_ids(y)
    if sample:
        I, J, total = ref.impostor_sample(ids, sample["maxImpostorPairs"], sample["seed"])
        imp = ref.distances(E, I, J, "euclidean")
        I, J, gtotal = ref.genuine_sample(ids, sample["maxGenuinePairs"], sample["seed"])
        gen = ref.distances(E, I, J, "euclidean")
    else:
        gen, imp = ref.all_pairs(E, ids, "euclidean")
        total = len(imp)
        gtotal = len(gen)
    v = sk_verification(gen, imp, fars, curve_points)
    v.update(impostorTotal=int(total), genuineTotal=int(gtotal))
    out = {"X": X.tolist(), "labels": [int(v) for v in y], "W": W.tolist(), "verification": v}
    if ident is not None:
        ident_out = ref.identification(E, ids, "euclidean", **ident)
        names = {int(i): int(v) for i, v in zip(ids, y)}
        ident_out["unknownLabels"] = [names[i] for i in ident_out["unknownLabels"]]
        del ident_out["gallery"]
        out["identification"] = ident_out
    return out


def main():
    rs = np.random.RandomState(35)
    # random: 400 samples of 40 identities, unsorted, in 8 dimensions; W = 0.5·a permutation
    y = rs.randint(0, 40, size=400)
    centres = rs.normal(size=(40, 8))
    X = centres[y] * 1.5 + rs.normal(size=(400, 8))
    W = 0.5 * np.eye(8)[rs.permutation(8)]
    fars = [0.1, 0.03, 0.01, 0.003, 0.001, 1e-4, 1e-5]
    ident = dict(seed=4, fraction=0.25, ranks=[1, 5, 10], fars=[0.1, 0.05, 0.01])
    body = {
        "verification": {"fars": fars, "curve": True},
        "identification": {"seed": 4, "unknownFraction": 0.25, "fars": [0.1, 0.05, 0.01]},
    }
    out = case(X, y, W, fars, 1000, ident)
    ref.write("route-random.json", {"body": body, **out})

    # digits: the shared set's 1797 rows, raw 64 features, identity W, every option at its default
    X, y = ref.read_digits()
    ident = dict(seed=0, fraction=0.2, ranks=[1, 5, 10], fars=[0.1, 0.01])
    out = case(X, y, np.eye(64), FARS, 0, ident)
    del out["X"], out["labels"], out["W"]
    ref.write("route-digits.json", {"source": "shared/data/digits train.csv + test.csv", "body": {}, **out})
    sample = {"maxImpostorPairs": 200000, "maxGenuinePairs": 50000, "seed": 11}
    out = case(X, y, np.eye(64), FARS, 0, None, sample=sample)
    del out["X"], out["labels"], out["W"]
    ref.write(
        "route-digits-sampled.json",
        {"source": "shared/data/digits train.csv + test.csv", "body": {"verification": sample}, **out},
    )


if __name__ == "__main__":
    main()
