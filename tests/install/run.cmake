# ctest install_consumer: installs the build into a fresh prefix, then configures, builds and runs
# tests/install/consumer against it with find_package(semg), as a user of the package would.
#   cmake -DBUILD_DIR=<semg build> -DWORK_DIR=<scratch> -DCONSUMER_DIR=<consumer source>
#         -DCXX_COMPILER=<compiler> [-DLAUNCHER=ccache] [-DEXTRA_FLAGS=<flags>]
#         [-DWITH_COMMAND=ON] -P run.cmake
# WITH_COMMAND=ON: the build has the `semg` command, which must be installed and run too.
# EXTRA_FLAGS carries the build's sanitizer flags: its static libraries need them at link time.
foreach(var BUILD_DIR WORK_DIR CONSUMER_DIR CXX_COMPILER)
  if(NOT ${var})
    message(FATAL_ERROR "run.cmake: ${var} is required")
  endif()
endforeach()

foreach(var BUILD_DIR WORK_DIR CONSUMER_DIR) # relative to the current folder
  get_filename_component(${var} "${${var}}" ABSOLUTE)
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "${what}: ok")
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")

run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
set(expected include/semg/dsp/iir.hpp include/semg/acquisition/protocols/protocol.hpp
             include/semg/pipeline/fatigue_fit.hpp)
if(WITH_COMMAND)
  list(APPEND expected bin/semg)
endif()
foreach(file IN LISTS expected)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "install_consumer: ${file} is not installed under ${prefix}")
  endif()
endforeach()
file(GLOB_RECURSE config "${prefix}/*/semgConfig.cmake")
if(NOT config)
  message(FATAL_ERROR "install_consumer: no semgConfig.cmake under ${prefix}")
endif()

set(configure_args -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" -DCMAKE_BUILD_TYPE=Release
                   "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
if(LAUNCHER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
endif()
if(EXTRA_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${EXTRA_FLAGS}"
                             "-DCMAKE_EXE_LINKER_FLAGS=${EXTRA_FLAGS}")
endif()
run("configure consumer" "${CMAKE_COMMAND}" ${configure_args})
run("build consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" -j2)
run("mdf_of_sine" "${WORK_DIR}/build/mdf_of_sine")
message("${run_output}")
if(WITH_COMMAND)
  run("installed semg --version" "${prefix}/bin/semg" --version)
  message("${run_output}")
endif()
