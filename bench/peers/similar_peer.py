"""Peer for bench_similar: cosine top-k on the same .npy with numpy or FAISS.

Args: EMBEDDINGS.npy K MODE IMPL THREADS [QUERIES]
  MODE   all      every row against every row (all-pairs top-k)
         first:Q  the first Q rows as queries
  IMPL   numpy    brute force: normalize, matmul in query blocks, argpartition + sort
         faiss    faiss.normalize_L2 + IndexFlatIP.search
         torch    PyTorch brute force on the GPU when there is one (else the CPU):
                  the rows uploaded, normalize, matmul in query blocks + topk, ids
                  back to the host (the same job as cohort's, from host memory);
                  prepare() warms the device up untimed
Run through run_peer.py, which times run() and prints one JSON line.
"""
import os
import sys


def prepare(args):
    path, k, mode, impl, threads = args[0], int(args[1]), args[2], args[3], int(args[4])
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import numpy as np
    x = np.load(path).astype(np.float32)
    q = x.shape[0] if mode == "all" else int(mode.split(":")[1])
    state = {"x": x, "k": min(k, x.shape[0]), "q": q, "impl": impl, "threads": threads, "np": np}
    if impl == "faiss":
        import faiss
        faiss.omp_set_num_threads(threads)
        state["faiss"] = faiss
    if impl == "torch":
        import torch
        torch.set_num_threads(threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        warm = torch.ones(256, x.shape[1], device=device)
        torch.topk(warm @ warm.T, 2, dim=1)  # context, cuBLAS handle, kernels loaded
        if device == "cuda":
            torch.cuda.synchronize()
        state.update(torch=torch, device=device)
    return state


def run_numpy(s):
    np = s["np"]
    x = s["x"] / np.linalg.norm(s["x"], axis=1, keepdims=True)
    k, q = s["k"], s["q"]
    ids = np.empty((q, k), dtype=np.int64)
    block = 1024
    for start in range(0, q, block):
        scores = x[start:min(start + block, q)] @ x.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        ids[start:start + scores.shape[0]] = np.take_along_axis(top, order, axis=1)
    return ids


def run_faiss(s):
    faiss = s["faiss"]
    x = s["x"].copy()
    faiss.normalize_L2(x)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, ids = index.search(x[: s["q"]], s["k"])
    return ids


def run_torch(s):
    torch = s["torch"]
    x = torch.nn.functional.normalize(torch.from_numpy(s["x"]).to(s["device"]), dim=1)
    k, q = s["k"], s["q"]
    block = max(1, min(q, (1 << 28) // x.shape[0]))  # score blocks of at most 2^28 floats
    ids = [torch.topk(x[start:start + block] @ x.T, k, dim=1).indices for start in range(0, q, block)]
    return torch.cat(ids).cpu().numpy()


def run(s):
    import time
    cpu_start = time.process_time()
    ids = {"numpy": run_numpy, "faiss": run_faiss, "torch": run_torch}[s["impl"]](s)
    return {"cpu_seconds": time.process_time() - cpu_start, "impl": s["impl"], "device": s.get("device", "cpu"),
            "n": int(s["x"].shape[0]), "d": int(s["x"].shape[1]), "queries": s["q"], "k": s["k"],
            "first_ids": [int(v) for v in ids[0][:5]]}


if __name__ == "__main__":
    sys.exit("run through bench/peers/run_peer.py")
