// The serial protocols semg speaks, and the facts about each that do not belong to one parser:
// one enum, one table. The name is the one spelling used everywhere (--protocol, summary.json's
// "protocol", the raw BDF's equipment field, BIDS Device); the other facts are the defaults a
// real device of that protocol has (baud rate, sample rate, channel count, start/stop
// commands). Text is mapped to the enum once, where it enters (the command line, tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace semg::acquisition {

enum class Protocol : std::uint8_t { Cyton, CytonDaisy, Ascii, OpenEeg, Semg };

struct ProtocolTraits {
    Protocol protocol;
    std::string_view name;         // "cyton", "cyton-daisy", "ascii", "openeeg", "semg"
    std::string_view manufacturer; // of the only device speaking it (BIDS Manufacturer); or empty
    unsigned default_baud;         // line speed of the usual device (ptys ignore it)
    double device_rate_hz;         // rate a real device streams at; 0: sent by the stream or --fs
    std::size_t wire_channels;     // channels every frame carries; 0: as many as the source has
    // Commands the host sends to start and to stop streaming; the device waits for the start
    // command when there is one (OpenBCI: 'b', Daisy first 'C' for 16 channels; stop 's').
    std::string_view start_commands;
    std::string_view stop_commands;
    // Samples sent while the port was away (before a reconnect) are lost without a count, and
    // capture says so: ASCII has no sample counter, the Cyton's wraps every 256 packets.
    bool uncounted_loss_on_reconnect;
};

// Every protocol, in the order the messages list them.
std::span<const ProtocolTraits> protocols() noexcept;
// Throws std::invalid_argument for a value outside the enum.
const ProtocolTraits& traits(Protocol protocol);
// "unknown" for a value outside the enum.
std::string_view protocol_name(Protocol protocol) noexcept;
// The name as a std::string, for messages and JSON (found by ADL: to_string(config.name)).
inline std::string to_string(Protocol protocol) { return std::string(protocol_name(protocol)); }
std::ostream& operator<<(std::ostream& out, Protocol protocol); // its name
// The protocol of this name (exact, lower case), if any.
std::optional<Protocol> find_protocol(std::string_view name) noexcept;
// Throws std::invalid_argument "unknown protocol 'NAME' (known: cyton, ..., semg)".
Protocol protocol_from_name(std::string_view name);
// "cyton, cyton-daisy, ascii, openeeg or semg", for messages and --help.
std::string protocol_names(std::string_view last_separator = " or ");

} // namespace semg::acquisition
