/*
 * mma.h (emulation): nvcuda::wmma for the fragment shapes the kernels use. Each lane's
 * fragment holds num_elements elements of the tile in a deliberately scrambled order
 * (WmmaOptions::layout_multiplier), so a kernel that assumes which element a lane holds
 * gets wrong answers here. load, store and mma are warp meeting points resolved once
 * for the whole warp; their pointer alignment and ldm are checked.
 */
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_bf16.h"
#include "cuda_runtime.h"

namespace cohort::emulation {

struct WmmaOptions {
  // Odd, so (32 * element + lane) * multiplier mod (rows * cols) is a bijection.
  unsigned layout_multiplier = 37;
  // false: each mma rounds C + the exact sum of the products once; true: adds the
  // products one by one, truncating each sum (the least accurate order allowed).
  bool truncating_sums = false;
};
inline WmmaOptions& wmma_options() {
  static WmmaOptions options;
  return options;
}

}  // namespace cohort::emulation

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

namespace detail {

template <typename Use, int M, int N, int K>
struct Shape;
template <int M, int N, int K>
struct Shape<matrix_a, M, N, K> {
  static constexpr int kRows = M, kCols = K;
};
template <int M, int N, int K>
struct Shape<matrix_b, M, N, K> {
  static constexpr int kRows = K, kCols = N;
};
template <int M, int N, int K>
struct Shape<accumulator, M, N, K> {
  static constexpr int kRows = M, kCols = N;
};

template <typename T>
struct Storage {
  using type = T;
};
template <>
struct Storage<precision::tf32> {
  using type = float;
};

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  using use = Use;
  using layout = Layout;
  using input = T;
  using element_type = typename detail::Storage<T>::type;
  static constexpr int kRows = detail::Shape<Use, M, N, K>::kRows;
  static constexpr int kCols = detail::Shape<Use, M, N, K>::kCols;
  static constexpr int num_elements = kRows * kCols / 32;
  element_type x[num_elements];
};

inline float __float_to_tf32(float value) {  // cvt.rna.tf32.f32: round half away from zero
  std::uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & ~0x1fffu;
  std::memcpy(&value, &u, sizeof value);
  return value;
}

template <typename F>
void fill_fragment(F& f, float value) {
  for (auto& element : f.x) element = typename F::element_type(value);
}

namespace detail {

using cohort::emulation::Arrival;
using cohort::emulation::fail;

// The tile position of element e of a lane's fragment.
template <typename F>
void position(unsigned lane, int e, int& row, int& col) {
  constexpr unsigned kTotal = F::kRows * F::kCols;
  static_assert((kTotal & (kTotal - 1)) == 0, "tile sizes are powers of two");
  const unsigned at =
      ((static_cast<unsigned>(e) * 32 + lane) * cohort::emulation::wmma_options().layout_multiplier) & (kTotal - 1);
  row = static_cast<int>(at / F::kCols);
  col = static_cast<int>(at % F::kCols);
}

inline void check_memory(Arrival* const* lanes, const char* what, std::size_t element_bytes) {
  const Arrival& first = *lanes[0];
  for (int l = 1; l < 32; ++l)
    if (lanes[l]->operands[1] != first.operands[1] || lanes[l]->ldm != first.ldm || lanes[l]->layout != first.layout)
      fail(std::string(what) + ": lanes pass different pointers, ldm or layouts, at " + first.file + ":" +
           std::to_string(first.line));
  if (reinterpret_cast<std::uintptr_t>(first.operands[1]) % 32 != 0)
    fail(std::string(what) + ": pointer not 256-bit aligned, at " + first.file + ":" + std::to_string(first.line));
  if (first.ldm * element_bytes % 16 != 0)
    fail(std::string(what) + ": ldm not a multiple of 16 bytes, at " + first.file + ":" + std::to_string(first.line));
}

template <typename F, typename T>
void load(Arrival* const* lanes) {
  check_memory(lanes, "load_matrix_sync", sizeof(T));
  const T* matrix = static_cast<const T*>(lanes[0]->operands[1]);
  const std::size_t ldm = lanes[0]->ldm;
  for (unsigned l = 0; l < 32; ++l) {
    F& f = *static_cast<F*>(const_cast<void*>(lanes[l]->operands[0]));
    for (int e = 0; e < F::num_elements; ++e) {
      int r, c;
      position<F>(l, e, r, c);
      const auto row = static_cast<std::size_t>(r), col = static_cast<std::size_t>(c);
      f.x[e] = std::is_same_v<typename F::layout, row_major> ? matrix[row * ldm + col] : matrix[col * ldm + row];
    }
  }
}

template <typename F>
void store(Arrival* const* lanes) {
  check_memory(lanes, "store_matrix_sync", sizeof(float));
  float* matrix = static_cast<float*>(const_cast<void*>(lanes[0]->operands[1]));
  const std::size_t ldm = lanes[0]->ldm;
  const bool row_major_memory = lanes[0]->layout == mem_row_major;
  for (unsigned l = 0; l < 32; ++l) {
    const F& f = *static_cast<const F*>(lanes[l]->operands[0]);
    for (int e = 0; e < F::num_elements; ++e) {
      int r, c;
      position<F>(l, e, r, c);
      const auto row = static_cast<std::size_t>(r), col = static_cast<std::size_t>(c);
      (row_major_memory ? matrix[row * ldm + col] : matrix[col * ldm + row]) = f.x[e];
    }
  }
}

// A multiplier input as the tensor cores see it: TF32 keeps the top 19 bits and ignores
// the rest (counted: the kernel should have rounded them with __float_to_tf32).
template <typename F>
double input_value(typename F::element_type value) {
  if constexpr (std::is_same_v<typename F::input, precision::tf32>) {
    std::uint32_t u;
    std::memcpy(&u, &value, sizeof u);
    if (u & 0x1fffu) ++cohort::emulation::stats().unrounded_tf32_inputs;
    u &= ~0x1fffu;
    float kept;
    std::memcpy(&kept, &u, sizeof kept);
    return kept;
  } else {
    return static_cast<float>(value);
  }
}

inline float truncate_to_float(double value) {
  float f = static_cast<float>(value);
  if (std::fabs(static_cast<double>(f)) > std::fabs(value)) f = std::nextafter(f, 0.0f);
  return f;
}

template <typename D, typename A, typename B, typename C>
void multiply_add(Arrival* const* lanes) {
  constexpr int M = A::kRows, K = A::kCols, N = B::kCols;
  static_assert(B::kRows == K && C::kRows == M && C::kCols == N && D::kRows == M && D::kCols == N, "mma shapes");
  double a[M][K], b[K][N], c[M][N];
  for (unsigned l = 0; l < 32; ++l) {
    const A& fa = *static_cast<const A*>(lanes[l]->operands[1]);
    const B& fb = *static_cast<const B*>(lanes[l]->operands[2]);
    const C& fc = *static_cast<const C*>(lanes[l]->operands[3]);
    int r, col;
    for (int e = 0; e < A::num_elements; ++e) {
      position<A>(l, e, r, col);
      a[r][col] = input_value<A>(fa.x[e]);
    }
    for (int e = 0; e < B::num_elements; ++e) {
      position<B>(l, e, r, col);
      b[r][col] = input_value<B>(fb.x[e]);
    }
    for (int e = 0; e < C::num_elements; ++e) {
      position<C>(l, e, r, col);
      c[r][col] = fc.x[e];
    }
  }
  const bool truncating = cohort::emulation::wmma_options().truncating_sums;
  float d[M][N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double sum = c[i][j];  // products of TF32 or BF16 inputs are exact in double
      for (int k = 0; k < K; ++k)
        sum = truncating ? truncate_to_float(sum + a[i][k] * b[k][j]) : sum + a[i][k] * b[k][j];
      d[i][j] = static_cast<float>(sum);
    }
  for (unsigned l = 0; l < 32; ++l) {
    D& fd = *static_cast<D*>(const_cast<void*>(lanes[l]->operands[0]));
    int r, col;
    for (int e = 0; e < D::num_elements; ++e) {
      position<D>(l, e, r, col);
      fd.x[e] = d[r][col];
    }
  }
}

inline void meet(cohort::emulation::WarpOperation operation, const void* a, const void* b, const void* c, const void* d,
                 unsigned ldm, int layout, const char* file, int line) {
  Arrival arrival;
  arrival.kind = cohort::emulation::Collective::Wmma;
  arrival.file = file;
  arrival.line = line;
  arrival.mask = 0xffffffffu;
  arrival.operation = operation;
  arrival.operands[0] = a;
  arrival.operands[1] = b;
  arrival.operands[2] = c;
  arrival.operands[3] = d;
  arrival.ldm = ldm;
  arrival.layout = layout;
  cohort::emulation::meet(arrival);
}

}  // namespace detail

template <typename F, typename T>
void load_matrix_sync(F& f, const T* matrix, unsigned ldm, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  static_assert(std::is_same_v<typename F::element_type, T>, "fragment and memory element types differ");
  detail::meet(&detail::load<F, T>, &f, matrix, nullptr, nullptr, ldm, 0, file, line);
}

template <typename F>
void store_matrix_sync(float* matrix, const F& f, unsigned ldm, layout_t layout, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  detail::meet(&detail::store<F>, &f, matrix, nullptr, nullptr, ldm, layout, file, line);
}

template <typename D, typename A, typename B, typename C>
void mma_sync(D& d, const A& a, const B& b, const C& c, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  static_assert(std::is_same_v<typename A::use, matrix_a> && std::is_same_v<typename B::use, matrix_b>,
                "mma_sync(d, a, b, c)");
  detail::meet(&detail::multiply_add<D, A, B, C>, &d, &a, &b, &c, 0, 0, file, line);
}

}  // namespace nvcuda::wmma
