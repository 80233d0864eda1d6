"""numpy reference for POST /models/:id/evaluate with a galleryId (docs/decisions/0038): writes
test/fixtures/verification/route-gallery-probes.json, read by test/routes/evaluate-gallery.test.ts.

    python3 test/fixtures-gen/gallery_probe_reference.py     (numpy only; ~1 s)

A gallery of enrolled items (1-3 an identity, and two items without a label) and a dataset of
labelled probes, a quarter of whose identities are not enrolled; both embedded by W = 0.5·a
permutation, exact in float32, so both sides compute bit-identical distances. Pairs are probe ×
item only: genuine when the labels are equal, impostor otherwise (an unlabelled item is an impostor
to every probe). ROC: verification_reference.py's re-implementation of sklearn's roc_curve
(drop_intermediate=False). Identification: every item is the gallery; a probe is known when its
label is enrolled; CMC and open-set DIR as identify.ts (ties by gallery row, rows in item-id order).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verification_reference as ref  # noqa: E402


def verification(gen, imp, fars, curve_points):
    v = ref.roc_summary(gen, imp, fars, curve_points)
    # every pair is used: the totals are the counts (keys in the order the route writes them)
    G, N = v.pop("genuineCount"), v.pop("impostorCount")
    return {"genuineCount": G, "impostorCount": N, "genuineTotal": G, "impostorTotal": N, **v}


def identification(EG, gl, EP, pl, ranks, fars):
    """gl: item labels (None: unlabelled); pl: probe labels."""
    enrolled = set(v for v in gl if v is not None)
    gl_arr = np.array([-(10**9) if v is None else v for v in gl])

    def score(e, lab):
        d = dist_row(EG, e)
        order = np.argsort(d, kind="stable")
        labs = gl_arr[order]
        rank = int(np.flatnonzero(labs == lab)[0]) + 1 if (labs == lab).any() else None
        return rank, float(d[order[0]]), bool(labs[0] == lab)

    K = [score(EP[i], pl[i]) for i in range(len(pl)) if pl[i] in enrolled]
    U = np.sort(np.array([score(EP[i], pl[i])[1] for i in range(len(pl)) if pl[i] not in enrolled]))
    cmc = [{"rank": r, "rate": sum(1 for k in K if k[0] <= r) / len(K)} for r in ranks]
    open_set = []
    for far in fars:
        if len(U) < ref.needed(far):
            open_set.append({"far": far, "dir": None, "threshold": None})
            continue
        c = len(U)
        m = int(np.sum((np.arange(c + 1) / c) <= far)) - 1
        v = U[m]
        scores = np.r_[[k[1] for k in K], U]
        below = scores[scores < v]
        hits = sum(1 for k in K if k[2] and k[1] < v)
        open_set.append({"far": far, "dir": hits / len(K), "threshold": float(below.max()) if below.size else None})
    # label ids in order of first appearance over the items' labels, then the probes'
    order = []
    for v in [v for v in gl if v is not None] + list(pl):
        if v not in order:
            order.append(v)
    unknown = sorted(set(v for v in pl if v not in enrolled), key=order.index)
    return {
        "galleryCount": len(gl),
        "knownProbeCount": len(K),
        "unknownProbeCount": len(U),
        "unknownLabels": [int(v) for v in unknown],
        "cmc": cmc,
        "openSet": open_set,
    }


def dist_row(EG, e):
    """Distances from e to every row, summed over dimensions in index order (as the TypeScript)."""
    s = np.zeros(EG.shape[0])
    for r in range(EG.shape[1]):
        v = EG[:, r] - e[r]
        s = s + v * v
    return np.sqrt(np.maximum(s, 0.0))


def main():
    rs = np.random.RandomState(38)
    d = 8
    centres = rs.normal(size=(40, d))
    # items: identities 0..29 enrolled with 1-3 items each, and two unlabelled distractors
    gl, XG = [], []
    for lab in range(30):
        for _ in range(1 + rs.randint(0, 3)):
            gl.append(lab)
            XG.append(centres[lab] * 1.5 + rs.normal(size=d))
    for _ in range(2):
        gl.append(None)
        XG.append(rs.normal(size=d) * 2)
    # probes: 240 samples of identities 0..39 (30..39 not enrolled), unsorted
    pl = [int(v) for v in rs.randint(0, 40, size=240)]
    XP = [centres[lab] * 1.5 + rs.normal(size=d) for lab in pl]
    XG = np.array(XG).astype(np.float32).astype(np.float64)
    XP = np.array(XP).astype(np.float32).astype(np.float64)
    W = 0.5 * np.eye(d)[rs.permutation(d)]
    EG, EP = XG @ W.T, XP @ W.T
    gen, imp = [], []
    for i in range(len(pl)):
        dr = dist_row(EG, EP[i])
        for j in range(len(gl)):
            (gen if gl[j] is not None and gl[j] == pl[i] else imp).append(dr[j])
    fars = [0.1, 0.01, 0.001, 1e-4, 1e-5]
    ident_fars = [0.1, 0.05, 0.01]
    out = {
        "body": {"verification": {"fars": fars, "curve": True}, "identification": {"fars": ident_fars}},
        "items": [
            {"id": f"item-{j:04d}", **({} if gl[j] is None else {"label": gl[j]}), "input": XG[j].tolist()}
            for j in range(len(gl))
        ],
        "X": XP.tolist(),
        "labels": pl,
        "W": W.tolist(),
        "verification": verification(np.array(gen), np.array(imp), fars, 1000),
        "identification": identification(EG, gl, EP, pl, [1, 5, 10], ident_fars),
    }
    ref.write("route-gallery-probes.json", out)


if __name__ == "__main__":
    main()
