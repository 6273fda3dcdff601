# `cmake --install <build> [--prefix <dir>]`: the libraries as semg::dsp, semg::acquisition and
# semg::pipeline with their headers, a CMake package for find_package(semg), and the `semg`
# command when it is built. A consumer project: tests/install/consumer (README, "Use the
# libraries"). report/ is not installed: it is a part of the command, not a library for others.
#
# Layout under the prefix:
#   bin/semg
#   lib/libsemg_{dsp,acquisition,pipeline}.a
#   include/semg/{dsp,acquisition,pipeline}/...   included as "dsp/iir.hpp", as in this tree;
#                                                  the semg/ level keeps those short folder names
#                                                  out of <prefix>/include itself
#   lib/cmake/semg/semgConfig.cmake, semgConfigVersion.cmake, semgTargets*.cmake
include(CMakePackageConfigHelpers)

set(SEMG_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/semg")

install(TARGETS semg_dsp semg_acquisition semg_pipeline
  EXPORT semgTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}") # include/semg: the targets' INSTALL_INTERFACE

# Every header of the three folders: new headers are installed without a list to keep up to date.
foreach(folder dsp acquisition pipeline)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/${folder}"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/semg"
    FILES_MATCHING PATTERN "*.hpp")
endforeach()

install(EXPORT semgTargets
  NAMESPACE semg::
  FILE semgTargets.cmake
  DESTINATION "${SEMG_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/semgConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/semgConfig.cmake"
  INSTALL_DESTINATION "${SEMG_INSTALL_CMAKEDIR}")
# 0.x: a minor version may change the interfaces.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/semgConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/semgConfig.cmake" "${PROJECT_BINARY_DIR}/semgConfigVersion.cmake"
  DESTINATION "${SEMG_INSTALL_CMAKEDIR}")

if(TARGET semg)
  install(TARGETS semg RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()
