// `semg analyze FILE...`: per-epoch features and fatigue fits of recorded files.
#include "acquisition/file_source.hpp"
#include "pipeline/analysis.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/results.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

namespace semg::tools {
namespace {

struct AnalyzeOptions {
    std::vector<std::filesystem::path> inputs;
    std::filesystem::path out;
    std::optional<double> fs_hz;
    std::string channels;
    std::string band = "20:450";
    int order = 4;
    std::string mains = "off";
    double mains_exclude_hz = 1.0;
    double epoch_s = 1.0;
    double overlap = 0.5;
    std::string psd = "welch";
    double welch_segment_s = 0.25;
    std::string segment;
    bool keep_flagged = false;
    bool quiet = false;
};

pipeline::AnalysisSettings settings_from(const AnalyzeOptions& o) {
    pipeline::AnalysisSettings s;
    const auto [low, high] = parse_range(o.band, "--band");
    s.band = {low, high, o.order};
    s.mains_hz = parse_mains(o.mains);
    s.mains_exclude_hz = o.mains_exclude_hz;
    s.epoch_s = o.epoch_s;
    s.overlap = o.overlap;
    s.psd = {dsp::psd_method_from_string(o.psd), o.welch_segment_s};
    if (!o.segment.empty()) s.segment_s = parse_range(o.segment, "--segment");
    s.channels = split_list(o.channels);
    s.keep_flagged = o.keep_flagged;
    return s;
}

void print_table(const pipeline::AnalysisResult& r, std::ostream& out) {
    out << fmt::format("{:<20} {:>8} {:>10} {:>12} {:>6} {:>9} {:>8}\n", "channel", "IMF_Hz",
                       "slope_Hz/s", "slope_%/s", "r2", "RMS0_uV", "flagged");
    auto num = [](double v, int prec) {
        return std::isfinite(v) ? fmt::format("{:.{}f}", v, prec) : std::string("-");
    };
    for (const auto& ch : r.channels)
        out << fmt::format("{:<20} {:>8} {:>10} {:>12} {:>6} {:>9} {:>8}\n", ch.label,
                           num(ch.mdf.initial, 1), num(ch.mdf.slope_per_s, 3),
                           num(ch.mdf.slope_pct_per_s, 3), num(ch.mdf.r2, 2),
                           num(ch.rms.initial, 1),
                           fmt::format("{}/{}", ch.flagged_epochs, ch.epochs));
}

void analyze_one(const std::filesystem::path& input, const std::filesystem::path& out_dir,
                 const AnalyzeOptions& o) {
    auto source = acquisition::open_file_source(input, {o.fs_hz});
    const auto& info = source->info();
    for (const auto& notice : info.notices) log_notice(input.string() + ": " + notice);
    if (info.channels.empty()) throw std::runtime_error(input.string() + ": no EMG channels");

    pipeline::FatigueAnalysis analysis(settings_from(o));
    analysis.prepare(info, [&](const std::string& w) { log_warning(input.string() + ": " + w); });
    if (info.total_frames && *info.total_frames < analysis.analyzer().epoch_frames())
        throw std::runtime_error(input.string() + ": " + std::to_string(*info.total_frames) +
                                 " samples is shorter than one epoch (" +
                                 std::to_string(analysis.analyzer().epoch_frames()) + " samples)");

    pipeline::OutputDir out(out_dir);
    pipeline::EpochsCsvWriter epochs(out.open("epochs.csv"), analysis.labels());
    Progress progress(input.filename().string(), info.total_frames.value_or(0));
    dsp::Block block(info.channels.size(), 8192);
    std::uint64_t frames = 0;
    pipeline::AnalysisResult result;
    try {
        while (const std::size_t n = source->read(block.capacity_ref())) {
            block.set_frames(n);
            analysis.process(block.cref(), [&](const dsp::EpochFrame& f) { epochs.write(f); });
            frames += n;
            progress.update(frames);
        }
        progress.done();
        result = analysis.finish();
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(input.string() + ": " + e.what());
    }
    if (result.epochs == 0)
        throw std::runtime_error(input.string() + ": " + std::to_string(frames) +
                                 " samples is shorter than one epoch (" +
                                 std::to_string(analysis.analyzer().epoch_frames()) + " samples)");
    const pipeline::InputFacts facts{std::filesystem::weakly_canonical(std::filesystem::absolute(input)), pipeline::sha256_file(input), info};
    out.open("summary.json") << pipeline::summary_json(facts, analysis.settings(), result).dump(2) << '\n';
    out.commit();
    if (!o.quiet) {
        std::cout << input.string() << " -> " << out_dir.string() << "\n";
        print_table(result, std::cout);
    }
}

} // namespace

void register_analyze(CLI::App& app) {
    auto o = std::make_shared<AnalyzeOptions>();
    auto* cmd = app.add_subcommand("analyze", "Per-epoch spectral features and fatigue fits of recordings");
    cmd->add_option("inputs", o->inputs, "EDF/EDF+/BDF/BDF+ or CSV/TSV recordings")->required();
    cmd->add_option("--out", o->out,
                    "Output folder (default: <name>.semg next to the input; with several inputs, "
                    "the parent of one <name>.semg folder each)");
    cmd->add_option("--fs", o->fs_hz, "Sample rate in Hz, for CSV files without a time column");
    cmd->add_option("--channels", o->channels, "Comma-separated channel labels to analyse (default: all)");
    cmd->add_option("--band", o->band, "Band-pass LOW:HIGH in Hz (upper edge clamped to 0.45 fs)")->capture_default_str();
    cmd->add_option("--order", o->order, "Butterworth prototype order (scipy convention)")->capture_default_str();
    cmd->add_option("--mains", o->mains, "Mains frequency whose harmonics leave the spectral moments: 50, 60 or off")->capture_default_str();
    cmd->add_option("--mains-exclude-hz", o->mains_exclude_hz, "Half-width of the excluded bins around each harmonic")->capture_default_str();
    cmd->add_option("--epoch-s", o->epoch_s, "Epoch length in seconds")->capture_default_str();
    cmd->add_option("--overlap", o->overlap, "Epoch overlap fraction in [0, 1)")->capture_default_str();
    cmd->add_option("--psd", o->psd, "PSD method: welch or periodogram")->capture_default_str();
    cmd->add_option("--welch-segment-s", o->welch_segment_s, "Welch segment length in seconds")->capture_default_str();
    cmd->add_option("--segment", o->segment, "Fit range START:END in seconds (default: whole recording)");
    cmd->add_flag("--keep-flagged", o->keep_flagged, "Include flagged epochs in the fits");
    cmd->add_flag("-q,--quiet", o->quiet, "No table on stdout");
    cmd->callback([o]() {
        int failures = 0;
        for (const auto& input : o->inputs) {
            const bool ok = run_command([&] {
                std::filesystem::path out = o->out;
                const auto name = input.stem().string() + ".semg";
                if (out.empty()) out = input.parent_path() / name;
                else if (o->inputs.size() > 1) out /= name;
                analyze_one(input, out, *o);
            });
            if (!ok) ++failures;
        }
        if (o->inputs.size() > 1 && failures > 0)
            std::cerr << "semg: " << failures << " of " << o->inputs.size() << " inputs failed\n";
    });
}

} // namespace semg::tools
