"""Peer for bench_matrix: the user x item count matrix with scipy or pandas.

Args: MODE PATH
  scipy     PATH is a prefix: PATH.row.npy, PATH.col.npy (int32 ids, written by the
            benchmark); timed: scipy.sparse.coo_matrix((ones, (row, col))).tocsr() with
            duplicates summed (the from-memory aggregation, counts only); one untimed
            warm-up run in prepare (the benchmark warms cohort up too). Timed: building
            the ones data, the COO matrix, tocsr (counting sort by row, duplicates
            summed, columns sorted within rows) and the sum; output CSR = indptr +
            int32 indices + int64 data.
  crosstab  PATH is the benchmark's CSV (user,item,...); timed: pandas.read_csv of the
            user and item columns + pandas.crosstab (the end-to-end count table).
  groupby   like crosstab but groupby([user, item]).size() (sparse result).
Run through run_peer.py, which times run() and prints one JSON line; run() adds the
process CPU time of its work as "cpu_seconds" (user + system, all threads).
"""
import time


def prepare(args):
    mode, path = args[0], args[1]
    import numpy as np
    state = {"mode": mode, "path": path, "np": np}
    if mode == "scipy":
        import scipy.sparse
        state["sp"] = scipy.sparse
        state["row"] = np.load(path + ".row.npy")
        state["col"] = np.load(path + ".col.npy")
        work(state)  # warm-up
    else:
        import pandas
        state["pd"] = pandas
    return state


def run(s):
    cpu = time.process_time()
    facts = work(s)
    facts["cpu_seconds"] = time.process_time() - cpu
    return facts


def work(s):
    np = s["np"]
    if s["mode"] == "scipy":
        row, col = s["row"], s["col"]
        data = np.ones(row.shape[0], dtype=np.int64)
        m = s["sp"].coo_matrix((data, (row, col)), shape=(int(row.max()) + 1, int(col.max()) + 1)).tocsr()
        m.sum_duplicates()
        return {"impl": "scipy coo->csr", "nnz": int(m.nnz), "events": int(m.sum())}
    pd = s["pd"]
    frame = pd.read_csv(s["path"], usecols=["user", "item"], dtype=str)
    if s["mode"] == "crosstab":
        table = pd.crosstab(frame["user"], frame["item"])
        return {"impl": "pandas read_csv + crosstab", "nnz": int((table.values > 0).sum()),
                "events": int(table.values.sum())}
    sizes = frame.groupby(["user", "item"]).size()
    return {"impl": "pandas read_csv + groupby size", "nnz": int(sizes.shape[0]), "events": int(sizes.sum())}
