// libFuzzer harness: the simulator's scenario reader (acquisition/simulator_scenario.hpp).
// Input: a scenario file (TOML). Runs scenario_from_toml and validate; for a scenario that
// validates, checks that the JSON writer and the reader agree (written back as TOML and read
// again, the scenario is the same) and that its labels are two per pair.
// Documented failure: std::invalid_argument with a one-line message.
#include "acquisition/simulator_scenario.hpp"
#include "tests/acquisition/scenario_toml.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace semg::acquisition;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const Scenario s = scenario_from_toml(text, "fuzz.toml");
        validate(s);
        FUZZ_CHECK(s.labels().size() == 2 * s.pairs.size());
        const auto json = to_json(s);
        const Scenario again =
            scenario_from_toml(semg::test::scenario_toml(json), "fuzz-again.toml");
        FUZZ_CHECK(to_json(again) == json);
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
