#include "acquisition/protocols/protocol.hpp"

#include "acquisition/protocols/ascii.hpp"
#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/openeeg.hpp"
#include "acquisition/protocols/semg_frame.hpp"

#include <stdexcept>

namespace semg::acquisition {

std::vector<std::string> Parser::channel_labels() const {
    std::vector<std::string> labels;
    for (std::size_t c = 0; c < channels(); ++c)
        labels.push_back("ch" + std::to_string(c + 1));
    return labels;
}

std::unique_ptr<Parser> make_parser(const ProtocolConfig& config) {
    switch (config.name) {
    case Protocol::Cyton: return std::make_unique<CytonParser>(config.cyton);
    case Protocol::CytonDaisy: {
        CytonConfig cyton = config.cyton;
        cyton.daisy = true;
        return std::make_unique<CytonParser>(cyton);
    }
    case Protocol::Ascii: return std::make_unique<AsciiParser>(config.ascii);
    case Protocol::OpenEeg: return std::make_unique<OpenEegParser>(config.openeeg);
    case Protocol::Semg: return std::make_unique<SemgFrameParser>(config.semg);
    }
    traits(config.name); // throws: a value outside the enum
    throw std::invalid_argument("make_parser: unknown protocol");
}

} // namespace semg::acquisition
