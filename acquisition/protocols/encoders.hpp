// Encoders: samples in µV to the bytes a device would send, for the simulator, fake devices
// on a pseudo-terminal and round-trip tests. Pure functions; quantisation rounds to the
// nearest count and saturates at the format's range. Parsing the output gives the input back
// within half a quantisation step (exactly, for values on the count grid).
// They throw std::invalid_argument on a wrong sample count or configuration.
#pragma once

#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/openeeg.hpp"
#include "acquisition/protocols/protocol.hpp"
#include "acquisition/protocols/semg_frame.hpp"

#include <array>
#include <string>
#include <vector>

namespace semg::acquisition {

// ---- OpenBCI Cyton ------------------------------------------------------------------------
// Counts for a value in µV at this gain: rounded, clamped to 24 bits.
std::int32_t cyton_counts(double uv, double gain);
// One 33-byte packet of 8 channels; aux bytes are zero.
std::array<std::uint8_t, cyton::packet_bytes>
encode_cyton_packet(std::uint8_t counter, std::span<const float> samples_uv, double gain = 24.0,
                    std::uint8_t footer = cyton::footer_min);
// One 16-channel Daisy frame as two packets: channels 9–16 with `even_counter`, then
// channels 1–8 with even_counter + 1. even_counter must be even.
std::array<std::uint8_t, 2 * cyton::packet_bytes>
encode_cyton_daisy_frame(std::uint8_t even_counter, std::span<const float> samples_uv,
                         double gain = 24.0);

// ---- OpenEEG P2 ---------------------------------------------------------------------------
// count = round(µV / scale + offset), clamped to 0..1023.
std::array<std::uint8_t, openeeg::packet_bytes>
encode_openeeg_packet(std::uint8_t counter, std::span<const float> samples_uv,
                      const OpenEegConfig& config = {}, std::uint8_t switches = 0);

// ---- ASCII lines --------------------------------------------------------------------------
struct AsciiLineFormat {
    char separator = ',';
    std::vector<std::string> labels; // empty: bare values; else `label:value` per channel
    int decimals = 0;                // 0: integer counts, as an Arduino analogRead prints
    double scale_uv_per_count = 1.0; // value = µV / scale + offset
    double offset_counts = 0.0;
    std::string line_end = "\r\n"; // what Arduino's println sends
};
std::string encode_ascii_line(std::span<const float> samples_uv,
                              const AsciiLineFormat& format = {});
std::string encode_ascii_header(std::span<const std::string> names, char separator = ',',
                                std::string_view line_end = "\r\n");

// ---- SEMG frame ---------------------------------------------------------------------------
// Appends one packet; samples_uv holds header.frames × header.channels values, frame by frame.
// Integer formats store round(µV / scale), saturated; float32 stores µV (scale written as 1).
void append_semg_packet(std::vector<std::uint8_t>& out, const SemgPacketHeader& header,
                        std::span<const float> samples_uv);
std::vector<std::uint8_t> encode_semg_packet(const SemgPacketHeader& header,
                                             std::span<const float> samples_uv);

} // namespace semg::acquisition
