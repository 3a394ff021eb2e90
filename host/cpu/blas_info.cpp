/* blas_info.cpp: blas_description (see backend.hpp), for `cohort info`. */
#include <cblas.h>

#include <string>

#include "cohort/backend.hpp"

namespace cohort {

std::string blas_description() {
  const char* config = openblas_get_config();
  const char* core = openblas_get_corename();
  return std::string(config ? config : "OpenBLAS") + ", kernels " + (core ? core : "?");
}

}  // namespace cohort
