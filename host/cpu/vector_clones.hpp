/*
 * vector_clones.hpp: COHORT_VECTOR_CLONES before a hot loop's function compiles it for
 * AVX-512 and AVX2 as well as the baseline x86-64 (SSE2 only) and picks one at load time
 * (GCC function multiversioning). Loops with selects (argmin, threshold masks) only
 * vectorise with the AVX blends. The file's -ffp-contract=off holds in every clone, so
 * results are the same on every machine.
 */
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define COHORT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define COHORT_VECTOR_CLONES
#endif
