# Every dependency comes from a Debian 12 package (see scripts/install-deps.sh); nothing is downloaded.
find_package(Threads REQUIRED)

# Start-up cost: every cairn command is a new process, and the dynamic loader's relocation of
# libcrypto, yaml-cpp and RE2 (and the page faults it causes) was about 0.8 ms of each, a fifth of
# `cairn --version`. Where their static archives are installed (the -dev packages ship them), they
# are linked in; C++ runtime and fmt stay shared (fmt ships no archive, and one libstdc++ must
# serve every C++ library).
option(CAIRN_STATIC_DEPS "Link libcrypto, yaml-cpp and RE2 statically when their archives exist" ON)
if(CAIRN_STATIC_DEPS)
  set(OPENSSL_USE_STATIC_LIBS TRUE)
endif()
find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
# toml++ 3 (libtomlplusplus-dev), header-only: params files in TOML.
find_path(TOMLPLUSPLUS_INCLUDE_DIR toml++/toml.h)
if(NOT TOMLPLUSPLUS_INCLUDE_DIR)
  message(FATAL_ERROR "toml++ not found: install libtomlplusplus-dev (scripts/install-deps.sh)")
endif()
# fast_float (libfast-float-dev), header-only: parsing numbers in tables (core/table/table.cpp).
find_path(FAST_FLOAT_INCLUDE_DIR fast_float/fast_float.h)
if(NOT FAST_FLOAT_INCLUDE_DIR)
  message(FATAL_ERROR "fast_float not found: install libfast-float-dev (scripts/install-deps.sh)")
endif()
# libcurl's headers (libcurl4-openssl-dev): the S3 backend loads libcurl.so.4 itself at run time
# (core/remote/curl_api.cpp), so no command but those that reach S3 pays for its libraries.
find_path(CURL_HEADERS_DIR curl/curl.h)
if(NOT CURL_HEADERS_DIR)
  message(FATAL_ERROR "libcurl headers not found: install libcurl4-openssl-dev (scripts/install-deps.sh)")
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2>=1.1)
# RE2: patterns from config.yaml or the command line run in linear time (libre2-dev).
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)

# `cairn_yaml` and `cairn_re2`: the archives under CAIRN_STATIC_DEPS, else the shared libraries.
add_library(cairn_yaml INTERFACE)
add_library(cairn_re2 INTERFACE)
if(CAIRN_STATIC_DEPS)
  find_library(CAIRN_YAML_ARCHIVE NAMES libyaml-cpp.a)
  find_library(CAIRN_RE2_ARCHIVE NAMES libre2.a)
endif()
if(CAIRN_STATIC_DEPS AND CAIRN_YAML_ARCHIVE)
  get_target_property(_yaml_includes yaml-cpp INTERFACE_INCLUDE_DIRECTORIES)
  if(_yaml_includes)
    target_include_directories(cairn_yaml SYSTEM INTERFACE ${_yaml_includes})
  endif()
  target_link_libraries(cairn_yaml INTERFACE ${CAIRN_YAML_ARCHIVE})
else()
  target_link_libraries(cairn_yaml INTERFACE yaml-cpp)
endif()
if(CAIRN_STATIC_DEPS AND CAIRN_RE2_ARCHIVE)
  target_include_directories(cairn_re2 SYSTEM INTERFACE ${RE2_INCLUDE_DIRS})
  target_link_libraries(cairn_re2 INTERFACE ${CAIRN_RE2_ARCHIVE} Threads::Threads)
else()
  target_link_libraries(cairn_re2 INTERFACE PkgConfig::RE2)
endif()

# libgit2 for cairn_core and the unit tests: `cairn_libgit2`.
#
# Debian's libgit2 is built with mbedTLS, and git_libgit2_init() parses the whole system CA bundle
# (about 4 ms, a third of a `cairn run`). cairn makes no network connection yet, so when the
# static archives are installed (libgit2-dev and the -dev packages it depends on ship them),
# libgit2 is linked statically and its TLS set-up is diverted with `ld --wrap` to run on demand
# (git::Library::ensure_tls, for future network code). Otherwise: the shared library, as usual.
option(CAIRN_STATIC_LIBGIT2 "Link libgit2 statically and set up its TLS only on demand" ON)
add_library(cairn_libgit2 INTERFACE)
set(_cairn_static_git OFF)
if(CAIRN_STATIC_LIBGIT2)
  set(_archives "")
  set(_complete ON)
  foreach(_name IN LISTS LIBGIT2_STATIC_LIBRARIES)
    if(_name STREQUAL "rt")
      continue()
    endif()
    find_library(_cairn_a_${_name} NAMES lib${_name}.a)
    if(_cairn_a_${_name})
      list(APPEND _archives ${_cairn_a_${_name}})
    else()
      set(_complete OFF)
    endif()
  endforeach()
  # libgit2's GSSAPI (Negotiate) support needs this shared library, a dependency of libgit2 itself.
  find_library(_cairn_gssapi NAMES gssapi_krb5 libgssapi_krb5.so.2)
  find_program(_cairn_nm NAMES nm)
  if(_complete AND _cairn_gssapi AND _cairn_nm AND _cairn_a_git2)
    execute_process(COMMAND ${_cairn_nm} -g --defined-only ${_cairn_a_git2}
                    OUTPUT_VARIABLE _symbols ERROR_QUIET)
    string(FIND "${_symbols}" "git_mbedtls_stream_global_init" _found)
    if(NOT _found EQUAL -1)
      set(_cairn_static_git ON)
    endif()
  endif()
endif()
if(_cairn_static_git)
  message(STATUS "libgit2: static, TLS set up on demand")
  target_include_directories(cairn_libgit2 INTERFACE ${LIBGIT2_INCLUDE_DIRS})
  # libssh2 uses OpenSSL's libcrypto: it must follow the archives on the link line.
  target_link_libraries(cairn_libgit2 INTERFACE ${_archives} ${_cairn_gssapi} ${OPENSSL_CRYPTO_LIBRARY} rt)
  target_link_options(cairn_libgit2 INTERFACE "LINKER:--wrap=git_mbedtls_stream_global_init")
  target_compile_definitions(cairn_libgit2 INTERFACE CAIRN_DEFER_GIT_TLS=1)
else()
  message(STATUS "libgit2: shared")
  target_link_libraries(cairn_libgit2 INTERFACE PkgConfig::LIBGIT2)
endif()
if(CAIRN_TESTS AND NOT CAIRN_FUZZ)
  find_package(Catch2 2 REQUIRED)
endif()
