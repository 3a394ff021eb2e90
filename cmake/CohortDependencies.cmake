# Every dependency comes from the distribution (cmake/run.sh installs them);
# nothing is downloaded at build time.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(simdjson CONFIG REQUIRED)
if(COHORT_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
