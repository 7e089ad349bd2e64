# Warnings are errors for DualSeg's own code; third-party headers are included as SYSTEM.
# ds_target_defaults(<target>) applies the project's flags to one of its own targets.

set(DS_WARNING_FLAGS -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 -Wvla)
set(DS_C_ONLY_WARNING_FLAGS -Wstrict-prototypes -Wmissing-prototypes)

# DS_FUZZ (scripts/fuzz.sh, clang only): coverage for libFuzzer plus ASan and UBSan on every
# target of the project; the harnesses of testing/fuzz/ add libFuzzer's main at link time.
option(DS_FUZZ "Build the libFuzzer harnesses of testing/fuzz/ (clang)" OFF)
if(DS_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DS_FUZZ=ON needs clang (CC=clang CXX=clang++); see scripts/fuzz.sh")
  endif()
  set(DS_SANITIZE ON)
endif()

if(DS_FUZZ)
  # -Wno-pass-failed: the instrumentation stops clang vectorising the `omp simd` loops, which
  # does not matter for fuzzing.
  set(DS_SANITIZE_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer -Wno-pass-failed)
elseif(DS_SANITIZE)
  set(DS_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
endif()

function(ds_target_defaults target)
  target_compile_options(${target} PRIVATE ${DS_WARNING_FLAGS}
    $<$<COMPILE_LANGUAGE:C>:${DS_C_ONLY_WARNING_FLAGS}>)
  # POSIX (fsync, mkstemp, ...) on top of strict C11.
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
  if(DS_SANITIZE)
    target_compile_options(${target} PRIVATE ${DS_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE ${DS_SANITIZE_FLAGS})
  endif()
endfunction()
