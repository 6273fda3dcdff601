#include "acquisition/protocols/protocol.hpp"

#include "acquisition/protocols/ascii.hpp"
#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/openeeg.hpp"
#include "acquisition/protocols/semg_frame.hpp"

#include <stdexcept>

namespace semg::acquisition {

std::vector<std::string> Parser::channel_labels() const {
    std::vector<std::string> labels;
    for (std::size_t c = 0; c < channels(); ++c) labels.push_back("ch" + std::to_string(c + 1));
    return labels;
}

std::unique_ptr<Parser> make_parser(const ProtocolConfig& config) {
    if (config.name == "cyton") return std::make_unique<CytonParser>(config.cyton);
    if (config.name == "cyton-daisy") {
        CytonConfig cyton = config.cyton;
        cyton.daisy = true;
        return std::make_unique<CytonParser>(cyton);
    }
    if (config.name == "ascii") return std::make_unique<AsciiParser>(config.ascii);
    if (config.name == "openeeg") return std::make_unique<OpenEegParser>(config.openeeg);
    if (config.name == "semg") return std::make_unique<SemgFrameParser>(config.semg);
    throw std::invalid_argument("unknown protocol '" + config.name +
                                "' (known: cyton, cyton-daisy, ascii, openeeg, semg)");
}

} // namespace semg::acquisition
