# Every dependency comes from Debian's packages (tools/install-deps.sh installs them).
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET fftw3)
# Boost, header-only parts: Asio (serial transport), Beast (the capture dashboard's HTTP and
# WebSocket server), CRC (protocol checksums). Debian's libboost-dev ships them all.
find_package(Boost 1.74 REQUIRED)
find_path(SEMG_BEAST_INCLUDE_DIR boost/beast/websocket.hpp HINTS ${Boost_INCLUDE_DIRS} REQUIRED)
if(SEMG_BUILD_CLI)
  find_package(CLI11 REQUIRED) # the `semg` command only
endif()
find_package(nlohmann_json 3.10 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(spdlog REQUIRED)
find_package(Threads REQUIRED)
# OpenSSL's libcrypto: SHA-256 of every input file, recorded in summary.json.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
# dataset.sqlite of `semg merge` (pipeline/cohort.cpp): Debian's libsqlite3-dev.
find_package(SQLite3 REQUIRED)

# EDFlib (libedf-dev) ships a header and a library, no CMake or pkg-config file.
find_path(EDFLIB_INCLUDE_DIR edflib.h REQUIRED)
find_library(EDFLIB_LIBRARY edf REQUIRED)
add_library(edflib::edflib UNKNOWN IMPORTED)
set_target_properties(edflib::edflib PROPERTIES
  IMPORTED_LOCATION "${EDFLIB_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${EDFLIB_INCLUDE_DIR}")

# libmatio (libmatio-dev): MATLAB .mat v4/v5/v7.3 files (acquisition/mat_source.cpp); its
# pkg-config file brings HDF5 for v7.3.
pkg_check_modules(MATIO REQUIRED IMPORTED_TARGET matio)
# zlib (zlib1g-dev, the one matio inflates with): acquisition/mat_v5_layout.cpp checks compressed
# v5 variables' headers before matio reads them.
find_package(ZLIB REQUIRED)
