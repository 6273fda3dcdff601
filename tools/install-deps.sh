#!/usr/bin/env bash
# Installs what semg needs to build and test, from Debian's packages only.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  libeigen3-dev libfftw3-dev libboost-dev libedf-dev
  libmatio-dev  # MATLAB .mat v5/v7.3 recordings (acquisition/mat_source.cpp; brings libhdf5)
  zlib1g-dev  # inflates compressed .mat v5 variables to check them first (acquisition/mat_v5_layout.cpp)
  libssl-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy python3-scipy socat time
  clang libclang-rt-dev llvm  # fuzz harnesses (tests/fuzz): Clang, libFuzzer, llvm-symbolizer
  libhdf5-dev  # PLUX OpenSignals .h5 recordings (acquisition/opensignals_h5.cpp), HDF5 C API
  libsqlite3-dev  # dataset.sqlite of `semg merge` (pipeline/cohort.cpp)
  snakemake  # the Snakemake workflow test (tools/snakemake, tests/tools/test_cohort.cpp)
  slurm-wlm munge  # the Slurm job-array test: a one-node cluster the test starts (tests/tools/test_cohort.cpp)
  chromium  # the report.html test (tests/tools/test_report_browser.js) runs it headless
  clang-format  # tools/check-format.sh: the C++ sources against .clang-format
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The build runs `npm ci` for report.html's chart library (report/web/package-lock.json). Checked
# by command, not by package: a NodeSource nodejs brings its own npm and conflicts with Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi
