// `semg info FILE...`: what semg reads from each recording, without analysing it: format,
// channels (label, unit, rate, physical range and resolution), duration, start time,
// annotations, skipped signals, notices and warnings, and the montage `semg analyze` would use
// (inferred from the labels, or from channels.tsv for a BIDS-EMG recording). Every format the
// readers know shows here through acquisition::open_file_source and SourceInfo.
// A file that cannot be read gives one error line naming it and exit status 1; the others are
// still shown. `--json` prints one JSON document with an entry per file.
#include "acquisition/file_source.hpp"
#include "pipeline/bids.hpp"
#include "pipeline/montage.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>

namespace semg::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

struct InfoOptions {
    std::vector<fs::path> inputs;
    std::optional<double> fs_hz;
    bool json = false;
    std::size_t max_annotations = 20;
};

ordered_json optional_number(const std::optional<double>& v) {
    return v && std::isfinite(*v) ? ordered_json(*v) : ordered_json(nullptr);
}

// The montage analyze would use, or why there is none; never throws.
ordered_json montage_json(const fs::path& input, const acquisition::SourceInfo& info) {
    ordered_json j;
    std::vector<std::string> notices;
    try {
        pipeline::Montage montage;
        const auto recording = pipeline::bids::as_recording(input);
        pipeline::bids::RecordingSidecars sidecars;
        if (recording)
            sidecars = pipeline::bids::read_sidecars(*recording);
        if (recording && sidecars.files.channels_tsv) {
            montage = pipeline::bids::montage_from_channels(
                sidecars.channels, *sidecars.files.channels_tsv, info, notices);
        } else {
            std::vector<std::string> labels;
            for (const auto& ch : info.channels)
                labels.push_back(ch.label);
            montage = pipeline::infer_montage(labels);
        }
        notices.insert(notices.end(), montage.notices.begin(), montage.notices.end());
        j["source"] = montage.source;
        j["channels"] = ordered_json::array();
        for (const auto& site : montage.channels) {
            ordered_json c{{"label", site.label}, {"emg", site.is_emg}};
            if (site.is_emg) {
                c["muscle"] = site.muscle;
                c["level"] = site.level;
                c["side"] = std::string(pipeline::to_string(site.side));
            }
            j["channels"].push_back(c);
        }
        j["pairs"] = ordered_json::array();
        for (const auto& p : pipeline::bilateral_pairs(montage))
            j["pairs"].push_back({{"muscle", p.muscle},
                                  {"level", p.level},
                                  {"left", montage.channels[p.left].label},
                                  {"right", montage.channels[p.right].label}});
        j["notices"] = notices;
        if (recording) {
            j["bids"] = {
                {"root", recording->root.string()},
                {"entities", recording->name.stem()},
                {"sampling_frequency_hz", optional_number(sidecars.emg.sampling_frequency_hz)},
                {"power_line_hz", optional_number(sidecars.emg.power_line_hz)},
                {"warnings", sidecars.emg.warnings}};
            try {
                if (!sidecars.files.emg_json.empty())
                    pipeline::bids::check_sampling_frequency(
                        sidecars.emg, sidecars.files.emg_json.back(), info, input);
            } catch (const std::exception& e) {
                j["bids"]["warnings"].push_back(e.what());
            }
        }
    } catch (const std::exception& e) {
        j["error"] = e.what();
    }
    return j;
}

ordered_json file_json(const fs::path& input, const acquisition::SourceInfo& info) {
    ordered_json j;
    j["path"] = input.string();
    j["format"] = info.format;
    j["sample_rate_hz"] = info.sample_rate_hz;
    j["frames"] = info.total_frames ? ordered_json(*info.total_frames) : ordered_json(nullptr);
    j["duration_s"] =
        info.total_frames && info.sample_rate_hz > 0.0
            ? ordered_json(static_cast<double>(*info.total_frames) / info.sample_rate_hz)
            : ordered_json(nullptr);
    j["start_time"] = info.start_time ? ordered_json(*info.start_time) : ordered_json(nullptr);
    j["channels"] = ordered_json::array();
    for (const auto& ch : info.channels)
        j["channels"].push_back({{"label", ch.label},
                                 {"unit", "uV"},
                                 {"sample_rate_hz", info.sample_rate_hz},
                                 {"physical_min_uv", optional_number(ch.physical_min_uv)},
                                 {"physical_max_uv", optional_number(ch.physical_max_uv)},
                                 {"resolution_uv", optional_number(ch.resolution_uv)}});
    j["skipped"] = ordered_json::array();
    for (const auto& s : info.skipped)
        j["skipped"].push_back(
            {{"label", s.label}, {"sample_rate_hz", s.sample_rate_hz}, {"reason", s.reason}});
    j["annotations"] = ordered_json::array();
    for (const auto& a : info.annotations)
        j["annotations"].push_back({{"onset_s", a.onset_s},
                                    {"duration_s", a.duration_s >= 0.0 ? ordered_json(a.duration_s)
                                                                       : ordered_json(nullptr)},
                                    {"text", a.text}});
    j["notices"] = info.notices;
    j["warnings"] = info.warnings;
    j["montage"] = montage_json(input, info);
    return j;
}

std::string num(const ordered_json& v, const char* format = "{:g}") {
    return v.is_number() ? fmt::format(fmt::runtime(format), v.get<double>()) : std::string("?");
}

void print_text(const ordered_json& j, std::size_t max_annotations, std::ostream& out) {
    out << j["path"].get<std::string>() << "\n";
    out << "  format       " << j["format"].get<std::string>() << "\n";
    out << "  start        "
        << (j["start_time"].is_string() ? j["start_time"].get<std::string>() : "not stated")
        << "\n";
    out << "  duration     "
        << (j["duration_s"].is_number()
                ? fmt::format("{:.3f} s ({} samples at {:g} Hz)", j["duration_s"].get<double>(),
                              j["frames"].get<std::uint64_t>(), j["sample_rate_hz"].get<double>())
                : fmt::format("unknown (at {:g} Hz)", j["sample_rate_hz"].get<double>()))
        << "\n";
    const auto& channels = j["channels"];
    out << fmt::format("  channels     {} (unit uV, {:g} Hz)\n", channels.size(),
                       j["sample_rate_hz"].get<double>());
    std::size_t width = 5;
    for (const auto& c : channels)
        width = std::max(width, c["label"].get<std::string>().size());
    out << fmt::format("    {:>3}  {:<{}}  {:>25}  {}\n", "#", "label", width, "physical range uV",
                       "resolution uV");
    for (std::size_t i = 0; i < channels.size(); ++i) {
        const auto& c = channels[i];
        const std::string range =
            c["physical_min_uv"].is_number()
                ? num(c["physical_min_uv"]) + " .. " + num(c["physical_max_uv"])
                : "?";
        out << fmt::format("    {:>3}  {:<{}}  {:>25}  {}\n", i + 1, c["label"].get<std::string>(),
                           width, range, num(c["resolution_uv"], "{:.4g}"));
    }
    for (const auto& s : j["skipped"])
        out << fmt::format("  skipped      '{}' ({:g} Hz): {}\n", s["label"].get<std::string>(),
                           s["sample_rate_hz"].get<double>(), s["reason"].get<std::string>());
    const auto& notes = j["annotations"];
    out << "  annotations  " << notes.size() << "\n";
    for (std::size_t i = 0; i < notes.size() && i < max_annotations; ++i) {
        const auto& a = notes[i];
        out << fmt::format("    {:>10.3f} s  {:>10}  {}\n", a["onset_s"].get<double>(),
                           a["duration_s"].is_number()
                               ? fmt::format("{:.3f} s", a["duration_s"].get<double>())
                               : "-",
                           a["text"].get<std::string>());
    }
    if (notes.size() > max_annotations)
        out << "    ... and " << notes.size() - max_annotations << " more (--json lists all)\n";
    for (const auto& n : j["notices"])
        out << "  notice       " << n.get<std::string>() << "\n";
    for (const auto& w : j["warnings"])
        out << "  warning      " << w.get<std::string>() << "\n";

    const auto& m = j["montage"];
    if (m.contains("error")) {
        out << "  montage      cannot be inferred: " << m["error"].get<std::string>() << "\n";
        return;
    }
    pipeline::Montage shown;
    shown.source = m["source"].get<std::string>();
    for (const auto& c : m["channels"]) {
        pipeline::ChannelSite site;
        site.label = c["label"].get<std::string>();
        site.is_emg = c["emg"].get<bool>();
        if (site.is_emg) {
            site.muscle = c["muscle"].get<std::string>();
            site.level = c["level"].get<std::string>();
            const std::string side = c["side"].get<std::string>();
            site.side = side == "left"      ? pipeline::Side::Left
                        : side == "right"   ? pipeline::Side::Right
                        : side == "midline" ? pipeline::Side::Midline
                                            : pipeline::Side::Unknown;
        }
        shown.channels.push_back(std::move(site));
    }
    std::string table = pipeline::describe(shown);
    out << "  " << table.substr(0, table.size() - 1) << "\n";
    if (m["pairs"].empty())
        out << "  pairs        none\n";
    for (const auto& p : m["pairs"])
        out << fmt::format(
            "  pair         {} {}: '{}' / '{}'\n",
            p["muscle"].get<std::string>().empty() ? "-" : p["muscle"].get<std::string>(),
            p["level"].get<std::string>().empty() ? "-" : p["level"].get<std::string>(),
            p["left"].get<std::string>(), p["right"].get<std::string>());
    for (const auto& n : m["notices"])
        out << "  notice       " << n.get<std::string>() << "\n";
    if (m.contains("bids")) {
        const auto& b = m["bids"];
        out << "  BIDS         " << b["entities"].get<std::string>() << " in "
            << b["root"].get<std::string>() << "; PowerLineFrequency "
            << (b["power_line_hz"].is_number() ? num(b["power_line_hz"]) + " Hz" : "n/a") << "\n";
        for (const auto& w : b["warnings"])
            out << "  warning      " << w.get<std::string>() << "\n";
    }
}

} // namespace

void register_info(CLI::App& app) {
    auto o = std::make_shared<InfoOptions>();
    auto* cmd = app.add_subcommand(
        "info",
        "What semg reads from recordings: format, channels, duration, annotations, montage");
    cmd->add_option("inputs", o->inputs, "Recordings (every format semg analyze reads)")
        ->required();
    cmd->add_option("--fs", o->fs_hz, "Sample rate in Hz, for CSV files without a time column");
    cmd->add_flag("--json", o->json,
                  "One JSON document on stdout: {\"files\": [...]}, one entry per input "
                  "(an unreadable one has \"error\")");
    cmd->add_option("--max-annotations", o->max_annotations,
                    "Annotations listed per file in the text output (--json lists all)")
        ->capture_default_str();
    cmd->footer(
        "Channels are always given in uV: every reader converts to it. The montage is the one "
        "`semg analyze` would infer from the labels, or read from *_channels.tsv for a "
        "BIDS-EMG recording (docs/bids.md); give --montage FILE to analyze to override it.");
    cmd->callback([o]() {
        ordered_json all{{"files", ordered_json::array()}};
        for (std::size_t i = 0; i < o->inputs.size(); ++i) {
            const auto& input = o->inputs[i];
            std::string error;
            const bool ok = run_command([&] {
                std::unique_ptr<acquisition::Source> source;
                try {
                    if (o->fs_hz)
                        pipeline::check_sample_rate(*o->fs_hz, "--fs");
                    source = acquisition::open_file_source(input, {o->fs_hz, false});
                } catch (const std::exception& e) {
                    // One line naming the file, whatever the reader's message starts with.
                    error = e.what();
                    if (error.find(input.string()) == std::string::npos)
                        error = input.string() + ": " + error;
                    throw std::runtime_error(error);
                }
                const ordered_json j = file_json(input, source->info());
                if (o->json) {
                    all["files"].push_back(j);
                } else {
                    if (i > 0)
                        std::cout << "\n";
                    print_text(j, o->max_annotations, std::cout);
                }
            });
            if (!ok && o->json) {
                all["files"].push_back({{"path", input.string()}, {"error", error}});
            }
        }
        if (o->json)
            std::cout << all.dump(2) << "\n";
    });
}

} // namespace semg::tools
