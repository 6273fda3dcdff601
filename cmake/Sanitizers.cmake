# Sanitizer and fuzzing builds (docs/testing.md). Both are off in the normal build.
#
# SEMG_SANITIZE: every target of this build with AddressSanitizer and UndefinedBehaviorSanitizer,
# any undefined behaviour fatal (-fno-sanitize-recover), so that a report fails the test that
# triggered it. GCC or Clang.
# SEMG_FUZZ: the libFuzzer harnesses in tests/fuzz, which need Clang (-fsanitize=fuzzer). With
# another compiler they are skipped with a message; the rest of the build is unaffected.
option(SEMG_SANITIZE "Build with -fsanitize=address,undefined" OFF)
option(SEMG_FUZZ "Build the libFuzzer harnesses in tests/fuzz (Clang only)" OFF)

if(SEMG_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

set(SEMG_FUZZ_ENABLED OFF)
if(SEMG_FUZZ)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # Clang without its runtime package has no libFuzzer to link.
    include(CheckCXXSourceCompiles)
    set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer)
    check_cxx_source_compiles([[
      #include <cstddef>
      #include <cstdint>
      extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
    ]] SEMG_HAVE_LIBFUZZER)
    unset(CMAKE_REQUIRED_FLAGS)
  endif()
  if(SEMG_HAVE_LIBFUZZER)
    set(SEMG_FUZZ_ENABLED ON)
    # Coverage feedback from the libraries under test; the harnesses link libFuzzer itself.
    add_compile_options(-fsanitize=fuzzer-no-link)
  else()
    message(STATUS "semg: fuzz harnesses skipped: they need Clang and its libFuzzer "
                   "(Debian: clang, libclang-rt-dev); the compiler is ${CMAKE_CXX_COMPILER_ID}")
  endif()
endif()
