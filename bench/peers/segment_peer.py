"""k-means peers for bench_segment: scikit-learn KMeans and faiss.Kmeans on the same .npy.

Args: --npy FILE --k K --max-iter N --tol X --seed S --peer sklearn|faiss
Both run n_init=1 from their own k-means++ / random init, on OMP_NUM_THREADS threads.
faiss runs with max_points_per_centroid = N so it trains on every row (by default it
subsamples to 256 rows per centroid) and reports its final objective; scikit-learn
reports inertia_ and n_iter_. Inertia is recomputed the same way for both (sum of
squared distances of every row to its nearest final centroid).
"""
import argparse
import os

import numpy as np


def prepare(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--npy", required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--max-iter", type=int, default=300)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--peer", choices=["sklearn", "faiss"], default="sklearn")
    args = p.parse_args(argv)
    x = np.ascontiguousarray(np.load(args.npy).astype(np.float32, copy=False))
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    import faiss  # noqa: F401  (imports are not timed)
    import sklearn.cluster  # noqa: F401
    return {"args": args, "x": x, "threads": threads}


def inertia_of(x, centroids):
    import faiss
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    dist, _ = index.search(x, 1)
    return float(dist.astype(np.float64).sum())


def run(state):
    args, x, threads = state["args"], state["x"], state["threads"]
    if args.peer == "sklearn":
        from sklearn.cluster import KMeans
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=threads):
            km = KMeans(n_clusters=args.k, n_init=1, max_iter=args.max_iter, tol=args.tol,
                        algorithm="lloyd", random_state=args.seed).fit(x)
        return {"inertia": float(km.inertia_), "iterations": int(km.n_iter_), "k": args.k, "n": x.shape[0]}
    import faiss
    faiss.omp_set_num_threads(threads)
    km = faiss.Kmeans(x.shape[1], args.k, niter=args.max_iter, seed=args.seed,
                      max_points_per_centroid=x.shape[0], verbose=False)
    km.train(x)
    return {"inertia": float(km.obj[-1]) if len(km.obj) else inertia_of(x, km.centroids),
            "iterations": len(km.obj), "k": args.k, "n": x.shape[0]}
