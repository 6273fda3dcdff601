#include "acquisition/protocols/protocol_id.hpp"

#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/openeeg.hpp"

#include <array>
#include <ostream>
#include <stdexcept>

namespace semg::acquisition {
namespace {

constexpr char cyton_start[] = {cyton::command_start_streaming, '\0'};
constexpr char daisy_start[] = {cyton::command_16_channels, cyton::command_start_streaming, '\0'};
constexpr char cyton_stop[] = {cyton::command_stop_streaming, '\0'};

// The Cyton's packet rate through the USB dongle (the board does not send it); the Daisy pairs
// two packets per frame.
constexpr double cyton_rate_hz = CytonConfig{}.sample_rate_hz;

constexpr std::array<ProtocolTraits, 5> table{{
    {Protocol::Cyton, "cyton", "OpenBCI", 115200, cyton_rate_hz, cyton::board_channels, cyton_start,
     cyton_stop, true},
    {Protocol::CytonDaisy, "cyton-daisy", "OpenBCI", 115200, cyton_rate_hz / 2.0,
     2 * cyton::board_channels, daisy_start, cyton_stop, true},
    {Protocol::Ascii, "ascii", "", 115200, 0.0, 0, "", "", true}, // most Arduino sketches
    {Protocol::OpenEeg, "openeeg", "", 57600, openeeg::sample_rate_hz, openeeg::channels, "", "",
     false},
    {Protocol::Semg, "semg", "", 921600, 0.0, 0, "", "", false},
}};

} // namespace

std::span<const ProtocolTraits> protocols() noexcept { return table; }

const ProtocolTraits& traits(Protocol protocol) {
    const auto i = static_cast<std::size_t>(protocol);
    if (i >= table.size() || table[i].protocol != protocol)
        throw std::invalid_argument("unknown protocol number " + std::to_string(i));
    return table[i];
}

std::string_view protocol_name(Protocol protocol) noexcept {
    const auto i = static_cast<std::size_t>(protocol);
    return i < table.size() ? table[i].name : std::string_view("unknown");
}

std::ostream& operator<<(std::ostream& out, Protocol protocol) {
    return out << protocol_name(protocol);
}

std::optional<Protocol> find_protocol(std::string_view name) noexcept {
    for (const auto& t : table)
        if (t.name == name)
            return t.protocol;
    return std::nullopt;
}

Protocol protocol_from_name(std::string_view name) {
    if (const auto p = find_protocol(name))
        return *p;
    throw std::invalid_argument("unknown protocol '" + std::string(name) +
                                "' (known: " + protocol_names(", ") + ")");
}

std::string protocol_names(std::string_view last_separator) {
    std::string text;
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (i > 0)
            text += i + 1 == table.size() ? last_separator : std::string_view(", ");
        text += table[i].name;
    }
    return text;
}

} // namespace semg::acquisition
