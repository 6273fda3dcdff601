// `semg merge RESULTS`: the dataset tables (recordings.csv, fits.csv, pairs.csv, dataset.sqlite)
// at the top of RESULTS, from every recording's cohort.json and summary.json below it. Run at the
// end of `semg analyze DIR --out RESULTS`, and after the shards of a cluster run (docs/cohort.md).
// Idempotent: the same per-recording results give the same tables, byte for byte.
#include "pipeline/cohort.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"

#include <fmt/format.h>

#include <iostream>

namespace semg::tools {

void register_merge(CLI::App& app) {
    auto results = std::make_shared<std::filesystem::path>();
    auto quiet = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("merge",
                                   "Dataset tables from the per-recording results of a cohort run");
    cmd->add_option("results", *results,
                    "The RESULTS folder of `semg analyze DIR --out RESULTS` (or its shards)")
        ->required();
    cmd->add_flag("-q,--quiet", *quiet, "Print nothing on success");
    cmd->callback([results, quiet] {
        run_command(
            [&] {
                const auto counts = pipeline::cohort::merge(*results);
                if (counts.recordings == 0)
                    log_warning(
                        results->string() +
                        ": no recording results (cohort.json) below it: the tables are empty");
                if (counts.settings_variants > 1)
                    log_warning(fmt::format(
                        "{}: the recordings were analysed with {} different settings (another "
                        "semg version or other options: compare `settings` in .cohort/*.json)",
                        results->string(), counts.settings_variants));
                if (!*quiet)
                    std::cout << fmt::format(
                        "{}: recordings.csv {} rows ({} failed), fits.csv {} rows, pairs.csv {} rows, "
                        "dataset.sqlite\n",
                        results->string(), counts.recordings, counts.failed, counts.fits,
                        counts.pairs);
                if (counts.failed > 0)
                    set_exit_code(ExitCode::InputFailed);
            },
            ExitCode::Usage);
    });
}

} // namespace semg::tools
