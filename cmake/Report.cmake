# report.html needs a chart library from the npm registry. report/web/package-lock.json pins it
# (exact version and sha512); `npm ci` installs it into the build folder at build time, with
# npm's cache there too, and the files are embedded into the binary. Nothing downloaded is
# committed. Node and npm: tools/install-deps.sh.
find_program(SEMG_NODE node)
find_program(SEMG_NPM npm)
if(NOT SEMG_NODE OR NOT SEMG_NPM)
  message(FATAL_ERROR "semg: node and npm are needed to build report.html (run tools/install-deps.sh)")
endif()

# semg_npm_ci(SOURCE_DIR <dir with package.json + package-lock.json> WORK_DIR <build dir>
#             OUTPUTS <files under WORK_DIR>...)
# Copies package.json and package-lock.json to WORK_DIR and runs `npm ci` there. Runs again
# when either file changes; later runs reuse WORK_DIR/npm-cache (--prefer-offline).
function(semg_npm_ci)
  cmake_parse_arguments(ARG "" "SOURCE_DIR;WORK_DIR" "OUTPUTS" ${ARGN})
  set(outputs "")
  foreach(out IN LISTS ARG_OUTPUTS)
    list(APPEND outputs "${ARG_WORK_DIR}/${out}")
  endforeach()
  file(MAKE_DIRECTORY "${ARG_WORK_DIR}")
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E copy_if_different "${ARG_SOURCE_DIR}/package.json"
            "${ARG_SOURCE_DIR}/package-lock.json" "${ARG_WORK_DIR}"
    COMMAND ${CMAKE_COMMAND} -E env "npm_config_cache=${ARG_WORK_DIR}/npm-cache"
            npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false
            "${SEMG_NPM}" ci --ignore-scripts --prefer-offline --loglevel=error
    # npm gives installed files the tarball's fixed 1985 time stamp: touch them so that the
    # build sees them as newer than package-lock.json and does not run npm ci every time.
    COMMAND ${CMAKE_COMMAND} -E touch ${outputs}
    WORKING_DIRECTORY "${ARG_WORK_DIR}"
    DEPENDS "${ARG_SOURCE_DIR}/package.json" "${ARG_SOURCE_DIR}/package-lock.json"
    COMMENT "npm ci: chart library for report.html (pinned in report/web/package-lock.json)"
    VERBATIM)
endfunction()

# semg_embed_files(<output .cpp> NAMESPACE <ns> FILES <name>=<path>...)
# Generates a source file with one function per file, `std::string_view <name>()`, returning the
# file's bytes (an unsigned char array: long string literals trip -Woverlength-strings).
function(semg_embed_files output)
  cmake_parse_arguments(ARG "" "NAMESPACE" "FILES" ${ARGN})
  set(depends "")
  foreach(entry IN LISTS ARG_FILES)
    string(REGEX REPLACE "^[^=]*=" "" path "${entry}")
    list(APPEND depends "${path}")
  endforeach()
  string(REPLACE ";" "|" files_arg "${ARG_FILES}")
  add_custom_command(
    OUTPUT "${output}"
    COMMAND ${CMAKE_COMMAND} "-DOUTPUT=${output}" "-DNAMESPACE=${ARG_NAMESPACE}"
            "-DFILES=${files_arg}" -P "${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake"
    DEPENDS ${depends} "${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake"
    COMMENT "Embedding report.html assets"
    VERBATIM)
endfunction()
