# Warnings are errors for DualSeg's own code; third-party headers are included as SYSTEM.
# ds_target_defaults(<target>) applies the project's flags to one of its own targets.

set(DS_WARNING_FLAGS -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 -Wvla)
set(DS_C_ONLY_WARNING_FLAGS -Wstrict-prototypes -Wmissing-prototypes)

if(DS_SANITIZE)
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
