/*
 * similar_cpu.cpp: exact cosine top-k on the CPU.
 *
 * 1. Normalize every corpus row once (normalize_row, OpenMP over rows).
 * 2. Tasks = (query batch of <= B queries) x (corpus slice). Each task, on one OpenMP
 *    thread with single-threaded OpenBLAS, walks its slice in blocks of C rows:
 *    S = Qhat(B x d) * Chat(C x d)^T with cblas_sgemm into a B x C scratch (never the
 *    full Q x N matrix), and feeds each query's CandidateList with the rows whose fast
 *    score reaches the list's running threshold.
 * 3. Slices exist only when there are fewer query batches than threads; their lists are
 *    concatenated per query (the union of supersets is a superset).
 * 4. finish_candidates: final threshold, cosine_score, (score desc, index asc).
 */
#include "host/cpu/similar_cpu.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cohort/progress.hpp"
#include "host/cpu/vector_clones.hpp"
#include "kernels/similar_element.hpp"

namespace cohort::detail {

void CandidateList::prune() {
  threshold_ = std::max(threshold_, keep_within_window(items_, k_, window_));
  // Many rows tied within the window: grow the limit so pushes stay amortized O(1).
  limit_ = std::max(limit_, 2 * items_.size());
}

TopK empty_topk(std::size_t queries, std::size_t k) {
  TopK result;
  result.queries = queries;
  result.k = k;
  result.indices.assign(queries * k, -1);
  result.scores.assign(queries * k, std::numeric_limits<float>::quiet_NaN());
  result.counts.assign(queries, 0);
  return result;
}

namespace {

// OpenBLAS threads off while OpenMP threads each run their own small GEMMs.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : previous_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~SingleThreadedBlas() { openblas_set_num_threads(previous_); }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_;
};

struct Plan {
  std::size_t batch = 0, batches = 0, block = 0, slices = 1, slice_rows = 0;
};

Plan make_plan(const SimilarProblem& p, int threads) {
  Plan plan;
  const std::size_t n = p.corpus.rows, q = p.query_count;
  plan.batch = p.query_batch ? p.query_batch : 256;
  plan.batch = std::max<std::size_t>(1, std::min(plan.batch, q));
  plan.batches = (q + plan.batch - 1) / plan.batch;
  plan.block = p.chunk_rows ? p.chunk_rows : 2048;
  plan.block = std::max<std::size_t>(1, std::min(plan.block, n));
  const std::size_t blocks = (n + plan.block - 1) / plan.block;
  const auto t = static_cast<std::size_t>(std::max(threads, 1));
  if (plan.batches < t) plan.slices = std::max<std::size_t>(1, std::min(blocks, (t + plan.batches - 1) / plan.batches));
  // Slices hold whole blocks, so the chunk size alone fixes every GEMM shape.
  plan.slice_rows = ((blocks + plan.slices - 1) / plan.slices) * plan.block;
  plan.slices = (n + plan.slice_rows - 1) / plan.slice_rows;
  return plan;
}

constexpr std::size_t kSpan = 16;

// Writes the numbers of the kSpan-score spans of x[0..n) holding a score >= threshold
// to spans; returns how many. Branch-free so it vectorizes (and cloned, see
// vector_clones.hpp).
COHORT_VECTOR_CLONES
std::size_t spans_at_least(const float* x, std::size_t n, float threshold, std::uint32_t* spans) {
  // GCC vector extensions: two 8-float compares per span, OR-folded to one word.
  typedef float F8 __attribute__((vector_size(32)));
  typedef std::int64_t L4 __attribute__((vector_size(32)));
  F8 t;
  for (int i = 0; i < 8; ++i) t[i] = threshold;
  std::size_t count = 0, s = 0;
  for (; (s + 1) * kSpan <= n; ++s) {
    F8 a, b;
    std::memcpy(&a, x + s * kSpan, sizeof a);
    std::memcpy(&b, x + s * kSpan + 8, sizeof b);
    const L4 m = reinterpret_cast<L4>((a >= t) | (b >= t));
    spans[count] = static_cast<std::uint32_t>(s);
    count += static_cast<std::size_t>(((m[0] | m[1]) | (m[2] | m[3])) != 0);
  }
  if (s * kSpan < n) {
    int hit = 0;
    for (std::size_t j = s * kSpan; j < n; ++j) hit |= static_cast<int>(x[j] >= threshold);
    spans[count] = static_cast<std::uint32_t>(s);
    count += static_cast<std::size_t>(hit);
  }
  return count;
}

// Starts a list's threshold from its first block instead of pushing (and pruning) the
// whole block: split the block into `rank` groups; their maxima are `rank` distinct rows,
// so the smallest maximum is <= the rank-th best score of the block, which is <= the
// k-th best overall. An excluded row inside the block could be one of them, so rank is
// k + 1 then; with a candidate filter the block's rows may not count, so no seed.
void seed_threshold(const float* row, std::size_t m, std::size_t start, std::int64_t excluded, bool filtered,
                    CandidateList& list, float window) {
  const std::size_t k = list.k();
  const bool self_inside = excluded >= static_cast<std::int64_t>(start) && excluded < static_cast<std::int64_t>(start + m);
  const std::size_t rank = self_inside ? k + 1 : k;
  if (filtered || m < 8 * rank) return;
  float lowest = 2.0f;
  for (std::size_t g = 0; g < rank; ++g) {
    const std::size_t g0 = g * m / rank, g1 = (g + 1) * m / rank;
    float top = row[g0];
    for (std::size_t j = g0 + 1; j < g1; ++j) top = row[j] > top ? row[j] : top;
    lowest = std::min(lowest, top);
  }
  list.raise_threshold(lowest - window);
}

// Scans corpus rows [begin, end) for the queries [q0, q0 + qn) into lists[0..qn).
void scan_slice(const SimilarProblem& p, const float* corpus_hat, const float* queries_hat, std::size_t q0,
                std::size_t qn, std::size_t begin, std::size_t end, std::size_t block, std::vector<float>& scores,
                std::vector<CandidateList>& lists) {
  const std::size_t d = p.dim();
  const float window = candidate_window(d);
  scores.resize(qn * block);
  std::vector<std::uint32_t> spans(block / kSpan + 1);
  for (std::size_t start = begin; start < end; start += block) {
    const std::size_t m = std::min(block, end - start);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(qn), static_cast<int>(m),
                static_cast<int>(d), 1.0f, queries_hat, static_cast<int>(d), corpus_hat + start * d,
                static_cast<int>(d), 0.0f, scores.data(), static_cast<int>(m));
    for (std::size_t i = 0; i < qn; ++i) {
      const float* row = scores.data() + i * m;
      CandidateList& list = lists[i];
      const std::int64_t excluded = p.excluded_row(q0 + i);
      if (start == begin) seed_threshold(row, m, start, excluded, p.allowed != nullptr, list, window);
      // Most spans hold nothing above the threshold once it has settled; the survivors
      // are checked one by one against the (possibly risen) current threshold.
      const std::size_t hits = spans_at_least(row, m, list.threshold(), spans.data());
      for (std::size_t h = 0; h < hits; ++h) {
        const std::size_t j0 = spans[h] * kSpan, j1 = std::min(m, j0 + kSpan);
        for (std::size_t j = j0; j < j1; ++j) {
          if (row[j] < list.threshold()) continue;
          const auto index = static_cast<std::int64_t>(start + j);
          if (index == excluded || (p.allowed && !p.allowed[index])) continue;
          list.push(row[j], index);
        }
      }
    }
  }
}

}  // namespace

TopK similar_cpu(const SimilarProblem& p) {
  const std::size_t n = p.corpus.rows, d = p.dim(), q = p.query_count;
  TopK result = empty_topk(q, p.k);
  if (q == 0 || n == 0 || p.k == 0) return result;
  const float window = candidate_window(d);

  std::vector<float> corpus_hat(n * d);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i)
    normalize_row(p.corpus.data + static_cast<std::size_t>(i) * d, d, corpus_hat.data() + static_cast<std::size_t>(i) * d);

  const Plan plan = make_plan(p, omp_get_max_threads());
  const std::size_t tasks = plan.batches * plan.slices;
  // With slices, each task's lists wait for the merge; without, tasks finish in place.
  std::vector<std::vector<CandidateList>> slice_lists(plan.slices > 1 ? tasks : 0);
  auto rescore_for = [&](std::size_t query_index, const float* query_hat) {
    (void)query_index;
    return [&corpus_hat, query_hat, d](Candidate& c) {
      c.exact = cosine_score(query_hat, corpus_hat.data() + static_cast<std::size_t>(c.index) * d, d);
    };
  };

  {
    SingleThreadedBlas single_threaded;
#pragma omp parallel
    {
      std::vector<float> queries_hat, scores;
      std::vector<CandidateList> lists;
#pragma omp for schedule(dynamic, 1)
      for (std::int64_t task = 0; task < static_cast<std::int64_t>(tasks); ++task) {
        const std::size_t b = static_cast<std::size_t>(task) / plan.slices, s = static_cast<std::size_t>(task) % plan.slices;
        const std::size_t q0 = b * plan.batch, qn = std::min(plan.batch, q - q0);
        queries_hat.resize(qn * d);
        for (std::size_t i = 0; i < qn; ++i) normalize_row(p.query(q0 + i), d, queries_hat.data() + i * d);
        lists.assign(qn, CandidateList(p.k, window));
        const std::size_t begin = s * plan.slice_rows, end = std::min(n, begin + plan.slice_rows);
        scan_slice(p, corpus_hat.data(), queries_hat.data(), q0, qn, begin, end, plan.block, scores, lists);
        if (plan.slices > 1) {
          slice_lists[static_cast<std::size_t>(task)] = std::move(lists);
          lists = {};
          continue;
        }
        for (std::size_t i = 0; i < qn; ++i) {
          const std::size_t qi = q0 + i;
          result.counts[qi] = static_cast<std::int64_t>(
              finish_candidates(lists[i].items(), p.k, window, rescore_for(qi, queries_hat.data() + i * d),
                                result.indices.data() + qi * p.k, result.scores.data() + qi * p.k));
        }
        if (p.progress) p.progress->add(qn);
      }
    }
  }
  if (plan.slices == 1) return result;

#pragma omp parallel
  {
    std::vector<float> query_hat(d);
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t qi = 0; qi < static_cast<std::int64_t>(q); ++qi) {
      const auto query = static_cast<std::size_t>(qi);
      const std::size_t b = query / plan.batch, i = query - b * plan.batch;
      CandidateList merged(p.k, window);
      for (std::size_t s = 0; s < plan.slices; ++s) merged.append(slice_lists[b * plan.slices + s][i]);
      normalize_row(p.query(query), d, query_hat.data());
      result.counts[query] = static_cast<std::int64_t>(
          finish_candidates(merged.items(), p.k, window, rescore_for(query, query_hat.data()),
                            result.indices.data() + query * p.k, result.scores.data() + query * p.k));
      if (p.progress) p.progress->add(1);
    }
  }
  return result;
}

}  // namespace cohort::detail
