# Developer mode: on when this is the top-level project. Turns on tests, benchmarks, warnings as
# errors, and lets presets pick sanitizers.
string(COMPARE EQUAL "${CMAKE_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}" _mlrc_is_top)
option(MLRCOPILOT_DEVELOPER_MODE "Build tests, benchmarks and turn on warnings" ${_mlrc_is_top})
option(MLRCOPILOT_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

if(MLRCOPILOT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Warnings for our own targets (not for consumers).
function(mlrc_warnings target)
  if(MLRCOPILOT_DEVELOPER_MODE)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
      # g++ 12 false positives at -O2: on Asio coroutine frames (see DESIGN.md pitfalls) and in
      # libstdc++'s string internals after inlining (GCC bugs 105329, 105562).
      $<$<COMPILE_LANGUAGE:CXX>:-Wno-mismatched-new-delete -Wno-maybe-uninitialized -Wno-stringop-overread -Wno-restrict -Wno-array-bounds -Wno-stringop-overflow>)
  endif()
endfunction()
