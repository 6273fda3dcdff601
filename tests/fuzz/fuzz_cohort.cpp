// libFuzzer harness: the cohort parsers (pipeline/cohort.hpp). The first line of the input is
// read as a --pattern and as a --shard, the rest as a manifest (tab-separated), each entry's
// relative path then matched against the pattern; the whole input also as a cohort marker
// (JSON). Documented failure: std::invalid_argument with a one-line message.
#include "pipeline/cohort.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cohort = semg::pipeline::cohort;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto nl = text.find('\n');
    const std::string first(text.substr(0, nl));
    const std::string_view rest =
        nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    try {
        const auto shard = cohort::parse_shard(first);
        FUZZ_CHECK(shard.index >= 1 && shard.index <= shard.count);
    } catch (const std::invalid_argument&) {
    }
    std::optional<cohort::PathPattern> pattern;
    try {
        pattern.emplace(first);
    } catch (const std::invalid_argument&) {
    }
    try {
        const auto entries = cohort::parse_manifest(rest, "fuzz.tsv", "/base");
        FUZZ_CHECK(!entries.empty());
        for (std::size_t i = 0; i < entries.size(); ++i) {
            FUZZ_CHECK(entries[i].path.is_absolute());
            if (i > 0)
                FUZZ_CHECK(entries[i - 1].relative <= entries[i].relative);
            // Paths are at most PATH_MAX long; longer ones are not matched (std::regex recurses
            // per character).
            if (pattern && entries[i].relative.size() <= 4096) {
                if (const auto ids = pattern->match(entries[i].relative))
                    FUZZ_CHECK(ids->subject.find('/') == std::string::npos);
            }
        }
    } catch (const std::invalid_argument&) {
    }
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_discarded()) {
        try {
            const auto m = cohort::parse_marker(json, "fuzz.json");
            FUZZ_CHECK(m.status == "ok" || m.status == "failed");
            const auto back =
                cohort::parse_marker(nlohmann::json::parse(cohort::marker_json(m).dump()), "back");
            FUZZ_CHECK(back.relative == m.relative && back.results == m.results &&
                       back.error == m.error);
        } catch (const std::invalid_argument&) {
        }
    }
    return 0;
}
