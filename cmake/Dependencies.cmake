# Third-party libraries: the system copy first (Debian: libhnswlib-dev, libsimdjson-dev,
# libxxhash-dev), else a pinned download checked by its SHA-256 (users online without the
# packages). Each arrives as one target: hnswlib::hnswlib, simdjson::simdjson, xxhash::xxhash.
include(FetchContent)
find_package(PkgConfig QUIET)

# --- xxHash (XXH3 for ids, cache keys and hash tables) -------------------------------
if(PkgConfig_FOUND)
  pkg_check_modules(COVEKIT_XXHASH QUIET IMPORTED_TARGET libxxhash)
endif()
if(COVEKIT_XXHASH_FOUND)
  add_library(xxhash::xxhash ALIAS PkgConfig::COVEKIT_XXHASH)
  message(STATUS "covekit: xxHash ${COVEKIT_XXHASH_VERSION} from the system")
else()
  FetchContent_Declare(covekit_xxhash
    URL https://github.com/Cyan4973/xxHash/archive/refs/tags/v0.8.2.tar.gz
    URL_HASH SHA256=baee0c6afd4f03165de7a4e67988d16f0f2b257b51d0e3cb91909302a26a79c4)
  FetchContent_MakeAvailable(covekit_xxhash)
  add_library(covekit_xxhash_lib STATIC ${covekit_xxhash_SOURCE_DIR}/xxhash.c)
  set_target_properties(covekit_xxhash_lib PROPERTIES POSITION_INDEPENDENT_CODE ON LINKER_LANGUAGE C)
  target_include_directories(covekit_xxhash_lib SYSTEM PUBLIC ${covekit_xxhash_SOURCE_DIR})
  add_library(xxhash::xxhash ALIAS covekit_xxhash_lib)
  message(STATUS "covekit: xxHash 0.8.2 downloaded (pinned)")
endif()

# --- simdjson (JSON parsing) ----------------------------------------------------------
find_package(simdjson 3 CONFIG QUIET)
if(simdjson_FOUND)
  message(STATUS "covekit: simdjson ${simdjson_VERSION} from the system")
else()
  set(SIMDJSON_DEVELOPER_MODE OFF CACHE BOOL "" FORCE)
  set(BUILD_SHARED_LIBS OFF)
  FetchContent_Declare(simdjson
    URL https://github.com/simdjson/simdjson/archive/refs/tags/v3.12.3.tar.gz
    URL_HASH SHA256=d0af071f2f4187d8b26b556e83ef832b634bd5feb4e2f537b9dabbd334d4e334)
  FetchContent_MakeAvailable(simdjson)
  set_target_properties(simdjson PROPERTIES POSITION_INDEPENDENT_CODE ON)
  message(STATUS "covekit: simdjson 3.12.3 downloaded (pinned)")
endif()

# --- hnswlib (header-only HNSW graph) -------------------------------------------------
find_path(COVEKIT_HNSWLIB_INCLUDE hnswlib/hnswlib.h)
if(NOT COVEKIT_HNSWLIB_INCLUDE)
  FetchContent_Declare(covekit_hnswlib
    URL https://files.pythonhosted.org/packages/source/h/hnswlib/hnswlib-0.8.0.tar.gz
    URL_HASH SHA256=cb6d037eedebb34a7134e7dc78966441dfd04c9cf5ee93911be911ced951c44c)
  FetchContent_MakeAvailable(covekit_hnswlib)
  set(COVEKIT_HNSWLIB_INCLUDE ${covekit_hnswlib_SOURCE_DIR})
  message(STATUS "covekit: hnswlib 0.8.0 downloaded (pinned)")
else()
  message(STATUS "covekit: hnswlib headers from the system (${COVEKIT_HNSWLIB_INCLUDE})")
endif()
add_library(covekit_hnswlib INTERFACE)
target_include_directories(covekit_hnswlib SYSTEM INTERFACE ${COVEKIT_HNSWLIB_INCLUDE})
add_library(hnswlib::hnswlib ALIAS covekit_hnswlib)

# --- PCRE2 (ECMA-262 regexes for JSON Schema `pattern`, with \p{...} and JIT) ------------
if(PkgConfig_FOUND)
  pkg_check_modules(COVEKIT_PCRE2 QUIET IMPORTED_TARGET libpcre2-8)
endif()
if(COVEKIT_PCRE2_FOUND)
  add_library(pcre2::pcre2 ALIAS PkgConfig::COVEKIT_PCRE2)
  message(STATUS "covekit: PCRE2 ${COVEKIT_PCRE2_VERSION} from the system")
else()
  set(PCRE2_BUILD_PCRE2_8 ON CACHE BOOL "" FORCE)
  set(PCRE2_BUILD_PCRE2_16 OFF CACHE BOOL "" FORCE)
  set(PCRE2_BUILD_PCRE2_32 OFF CACHE BOOL "" FORCE)
  set(PCRE2_SUPPORT_JIT ON CACHE BOOL "" FORCE)
  set(PCRE2_BUILD_PCRE2GREP OFF CACHE BOOL "" FORCE)
  set(PCRE2_BUILD_TESTS OFF CACHE BOOL "" FORCE)
  set(PCRE2_STATIC_PIC ON CACHE BOOL "" FORCE)
  FetchContent_Declare(covekit_pcre2
    URL https://github.com/PCRE2Project/pcre2/releases/download/pcre2-10.42/pcre2-10.42.tar.bz2
    URL_HASH SHA256=8d36cd8cb6ea2a4c2bb358ff6411b0c788633a2a45dabbf1aeb4b701d1b5e840)
  FetchContent_MakeAvailable(covekit_pcre2)
  set_target_properties(pcre2-8-static PROPERTIES POSITION_INDEPENDENT_CODE ON)
  add_library(pcre2::pcre2 ALIAS pcre2-8-static)
  message(STATUS "covekit: PCRE2 10.42 downloaded (pinned)")
endif()
