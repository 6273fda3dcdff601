# The build options (top-level CMakeLists.txt) must make sense together: say which one is missing
# rather than failing later on a target that was not built.
if(SEMG_BUILD_CLI AND NOT SEMG_BUILD_REPORT)
  message(FATAL_ERROR "semg: SEMG_BUILD_CLI=ON needs SEMG_BUILD_REPORT=ON (`semg report` and "
                      "`semg analyze` write report.html); turn both off for the libraries only")
endif()
if(SEMG_BUILD_TESTS AND NOT SEMG_BUILD_CLI)
  message(FATAL_ERROR "semg: SEMG_BUILD_TESTS=ON needs SEMG_BUILD_CLI=ON (many tests run the "
                      "`semg` command); set SEMG_BUILD_TESTS=OFF for the libraries only")
endif()
