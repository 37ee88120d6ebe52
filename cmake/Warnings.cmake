# Compiler warnings and sanitizers, applied through the interface target cairn_options.
add_library(cairn_options INTERFACE)
target_compile_options(cairn_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(CAIRN_WERROR)
  target_compile_options(cairn_options INTERFACE -Werror)
endif()
if(CAIRN_SANITIZE)
  target_compile_options(cairn_options INTERFACE -fsanitize=${CAIRN_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(cairn_options INTERFACE -fsanitize=${CAIRN_SANITIZE})
endif()
if(CAIRN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CAIRN_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage instrumentation for libFuzzer in every object; the fuzz targets add the fuzzer's
  # main at link time. UBSan aborts on its first report so that libFuzzer records the input.
  target_compile_options(cairn_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(cairn_options INTERFACE -fsanitize=address,undefined)
endif()
