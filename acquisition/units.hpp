#pragma once
// Voltage units as recordings state them (an EDF dimension, a WFDB unit, a .mat `units` entry).
#include <optional>
#include <string_view>

namespace semg::acquisition {

// µV per `unit`, case-insensitive: uV/µV/μV/microV/microvolt(s), mV/millivolt(s), V/volt(s), nV.
// nullopt when it is not a voltage (or is empty).
std::optional<double> microvolts_per(std::string_view unit);

} // namespace semg::acquisition
