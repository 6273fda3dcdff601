#include "tools/version.hpp"
#include "pipeline/version.hpp"

#include <CLI/Version.hpp>
#include <Eigen/Core>
#include <boost/version.hpp>
#include <edflib.h>
#include <fftw3.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/opensslv.h>
#include <spdlog/version.h>
#include <toml++/toml.h>

namespace semg::tools {

std::string version_text() {
    const int edf = edflib_version(); // 125 -> 1.25
    return fmt::format("semg {} (git {})\n"
                       "libraries: FFTW {}, Eigen {}.{}.{}, Boost {}.{}.{}, EDFlib {}.{:02}, "
                       "spdlog {}.{}.{}, fmt {}.{}.{}, CLI11 {}, nlohmann-json {}.{}.{}, "
                       "toml++ {}.{}.{}, {}",
                       SEMG_VERSION, SEMG_GIT_HASH,
                       // "fftw-3.3.10" -> "3.3.10"
                       std::string(fftw_version).substr(std::string(fftw_version).find('-') + 1),
                       EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
                       BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100,
                       edf / 100, edf % 100, SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH,
                       FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100,
                       CLI11_VERSION, NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                       NLOHMANN_JSON_VERSION_PATCH, TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH,
                       OPENSSL_VERSION_TEXT);
}

} // namespace semg::tools
