# Warnings on in both languages; errors with COHORT_WERROR (CI turns it on).
function(cohort_set_warnings target)
  set(_cxx -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
  set(_cuda_host -Wall,-Wextra)
  if(COHORT_WERROR)
    list(APPEND _cxx -Werror)
    set(_cuda_flags -Werror=all-warnings)
  endif()
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${_cxx}>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=${_cuda_host} ${_cuda_flags}>)
endfunction()
