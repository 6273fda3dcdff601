// libFuzzer harness: the montage reader (pipeline/montage.hpp). Input: a first line of
// recording channel labels separated by '|', then the montage file (TOML). Runs load_montage,
// load_montage_for (the last label as a signal the source skipped), infer_montage on the labels,
// and bilateral_pairs and describe on every montage they return.
// Documented failure: std::invalid_argument with a one-line message.
#include "pipeline/montage.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using semg::pipeline::Montage;

// A montage has one entry per recording channel, in recording order, and pairs within it.
void check(const Montage& montage, const std::vector<std::string>& labels) {
    FUZZ_CHECK(montage.channels.size() == labels.size());
    try {
        for (const auto& pair : semg::pipeline::bilateral_pairs(montage)) {
            FUZZ_CHECK(pair.left < labels.size() && pair.right < labels.size());
            FUZZ_CHECK(pair.left != pair.right);
        }
    } catch (const std::invalid_argument&) {
    }
    (void)semg::pipeline::describe(montage);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static semg::fuzz::MemFile file("montage.toml");
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::size_t eol = std::min(text.find('\n'), text.size());
    std::vector<std::string> labels;
    for (std::size_t at = 0; at <= eol;) {
        const std::size_t end = std::min(text.find('|', at), eol);
        labels.emplace_back(text.substr(at, end - at));
        at = end + 1;
    }
    const std::size_t toml_at = std::min(eol + 1, size);
    file.assign(data + toml_at, size - toml_at);

    try {
        check(semg::pipeline::load_montage(file.path(), labels), labels);
    } catch (const std::invalid_argument&) {
    }
    try {
        semg::acquisition::SourceInfo info;
        for (std::size_t i = 0; i + 1 < labels.size(); ++i) {
            info.channels.emplace_back();
            info.channels.back().label = labels[i];
        }
        info.skipped.push_back({labels.back(), 100.0, "sampled at 100 Hz"});
        std::vector<std::string> analysed(labels.begin(), labels.end() - 1);
        check(semg::pipeline::load_montage_for(file.path(), info), analysed);
    } catch (const std::invalid_argument&) {
    }
    try {
        check(semg::pipeline::infer_montage(labels), labels);
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
