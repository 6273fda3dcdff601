// `semg analyze FILE...`: per-epoch features and fatigue fits of recorded files.
#include "acquisition/file_source.hpp"
#include "pipeline/analysis.hpp"
#include "pipeline/bids.hpp"
#include "pipeline/cohort.hpp"
#include "pipeline/montage.hpp"
#include "pipeline/mvc.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/prefetch.hpp"
#include "pipeline/results.hpp"
#include "report/report.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"
#include "tools/fatigue_table.hpp"
#include "tools/session_log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace semg::tools {
namespace {

namespace fs = std::filesystem;

struct AnalyzeOptions {
    std::vector<fs::path> inputs;
    fs::path out;
    std::optional<double> fs_hz;
    bool force_fs = false;
    AnalysisOptions analysis; // shared with `semg capture`
    bool overwrite = false;
    bool quiet = false;
    // Cohorts (docs/cohort.md)
    unsigned jobs = 0; // 0: every core
    std::string pattern;
    std::string shard;
    bool force = false;
    bool list = false;
    bool pdf = false;      // report.pdf beside report.html
    SessionLogOptions log; // --db, --no-db, --subject, --session, --note
};

// Every file `semg analyze` writes into a result folder (OutputDir refuses to open another);
// an earlier run's copies are replaced, and the folder may hold nothing else without --overwrite.
const std::vector<std::string> kResultFiles = {"epochs.csv", "pairs.csv", "summary.json",
                                               "report.html", "report.pdf"};

// One result folder per input, decided before any input is read. One input: --out itself, or
// <stem>.semg beside it. Several: <stem>.semg beside each, or with --out under it at the input's
// path relative to the folder all inputs share (a/x.bdf b/x.bdf -> OUT/a/x.semg OUT/b/x.semg).
// Two inputs that would still share a folder (x.bdf and x.edf, or one file given twice) stop
// the run: one would silently replace the other's results.
std::vector<fs::path> result_folders(const std::vector<fs::path>& inputs, const fs::path& out) {
    const auto name = [](const fs::path& input) { return input.stem().string() + ".semg"; };
    std::vector<fs::path> folders;
    if (inputs.size() == 1)
        return {out.empty() ? inputs[0].parent_path() / name(inputs[0]) : out};
    std::vector<fs::path> parents;
    for (const auto& input : inputs)
        parents.push_back(fs::absolute(input).lexically_normal().parent_path());
    const fs::path common = pipeline::cohort::common_folder(parents);
    for (std::size_t i = 0; i < inputs.size(); ++i)
        folders.push_back(out.empty()
                              ? inputs[i].parent_path() / name(inputs[i])
                              : out / parents[i].lexically_relative(common) / name(inputs[i]));
    std::map<fs::path, std::size_t> seen;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const auto [it, fresh] = seen.emplace(fs::weakly_canonical(fs::absolute(folders[i])), i);
        if (fresh)
            continue;
        const auto& first = inputs[it->second];
        if (fs::weakly_canonical(fs::absolute(first)) ==
            fs::weakly_canonical(fs::absolute(inputs[i])))
            throw std::invalid_argument(inputs[i].string() + " is given twice");
        throw std::invalid_argument(first.string() + " and " + inputs[i].string() +
                                    " would both write their results to " +
                                    folders[i].lexically_normal().string() +
                                    ": rename one, or analyse them in separate runs with --out");
    }
    return folders;
}

namespace bids = pipeline::bids;

// One recording to analyse and where its results go; `recording` for a BIDS-EMG one.
struct Job {
    fs::path input;
    fs::path folder;
    std::optional<bids::Recording> recording;
    fs::path derivatives;                         // BIDS: the derivative dataset's folder
    std::optional<pipeline::cohort::Entry> entry; // a cohort's recording: its ids, marker, tables
};

// Inputs that are BIDS-EMG (a dataset folder, a folder inside one, or a recording in its place)
// become one job per recording, with results in DERIV/<sub-*/ses-*/emg>/<entities>_desc-fatigue/
// where DERIV is --out or ROOT/derivatives/semg (docs/bids.md). Other inputs keep the folders of
// result_folders(). The two kinds cannot be mixed in one run.
std::vector<Job> plan_jobs(const std::vector<fs::path>& inputs, const fs::path& out) {
    std::vector<Job> bids_jobs;
    std::vector<fs::path> plain;
    for (const auto& input : inputs) {
        std::error_code ec;
        if (fs::is_directory(input, ec)) {
            const auto root = bids::find_root(input);
            if (!root)
                throw acquisition::SourceError(input.string() +
                                               ": is a directory, and not a BIDS dataset (no "
                                               "dataset_description.json in it or above it)");
            for (auto& r : bids::find_recordings(*root, input))
                bids_jobs.push_back({r.path, {}, std::move(r), {}, {}});
        } else if (auto r = bids::as_recording(input)) {
            bids_jobs.push_back({input, {}, std::move(*r), {}, {}});
        } else {
            plain.push_back(input);
        }
    }
    if (!bids_jobs.empty() && !plain.empty())
        throw std::invalid_argument(plain.front().string() +
                                    " is not a BIDS-EMG recording while other inputs are: "
                                    "analyse them in separate runs");
    if (bids_jobs.empty()) {
        std::vector<Job> jobs;
        const auto folders = result_folders(plain, out);
        for (std::size_t i = 0; i < plain.size(); ++i)
            jobs.push_back({plain[i], folders[i], {}, {}, {}});
        return jobs;
    }
    std::map<fs::path, std::size_t> seen;
    for (std::size_t i = 0; i < bids_jobs.size(); ++i) {
        auto& job = bids_jobs[i];
        const auto& r = *job.recording;
        job.derivatives = out.empty() ? r.root / "derivatives" / "semg" : out;
        job.folder = job.derivatives / r.relative / (r.name.stem() + "_desc-fatigue");
        const auto [it, fresh] = seen.emplace(fs::weakly_canonical(fs::absolute(job.folder)), i);
        if (fresh)
            continue;
        const auto& first = bids_jobs[it->second].input;
        if (fs::weakly_canonical(fs::absolute(first)) ==
            fs::weakly_canonical(fs::absolute(job.input)))
            throw std::invalid_argument(job.input.string() + " is given twice");
        throw std::invalid_argument(
            first.string() + " and " + job.input.string() + " would both write their results to " +
            job.folder.string() +
            ": rename one (its entities, .bdf and .edf), or analyse them in "
            "separate runs with --out");
    }
    return bids_jobs;
}

// The sidecars of a BIDS-EMG recording, applied: SamplingFrequency must be the file's rate,
// PowerLineFrequency sets the mains (unless --mains says otherwise), channels.tsv gives the
// montage (unless --montage). Returns the "bids" object of summary.json.
nlohmann::ordered_json apply_sidecars(const bids::Recording& r, const acquisition::SourceInfo& info,
                                      const AnalysisOptions& a,
                                      pipeline::AnalysisSettings& settings) {
    const std::string name = r.path.string();
    const auto sidecars = bids::read_sidecars(r);
    for (const auto& w : sidecars.emg.warnings)
        log_warning(w);
    if (!sidecars.files.emg_json.empty())
        bids::check_sampling_frequency(sidecars.emg, sidecars.files.emg_json.back(), info, r.path);
    std::string mains = "--mains " + a.mains;
    if (a.mains == "auto" && sidecars.emg.power_line_hz) {
        const double hz = *sidecars.emg.power_line_hz;
        if (hz != 50.0 && hz != 60.0)
            throw std::invalid_argument(
                sidecars.files.emg_json.back().string() + ": PowerLineFrequency " +
                fmt::format("{:g}", hz) +
                " Hz: semg handles 50 or 60 Hz mains (give --mains off or auto)");
        settings.mains_hz = hz;
        mains = "PowerLineFrequency";
        log_notice(name + fmt::format(": mains {:g} Hz from PowerLineFrequency", hz));
    }
    if (a.montage.empty() && sidecars.files.channels_tsv) {
        std::vector<std::string> notices;
        settings.montage = bids::montage_from_channels(sidecars.channels,
                                                       *sidecars.files.channels_tsv, info, notices);
        for (const auto& n : notices)
            log_notice(n);
    } else if (a.montage.empty()) {
        log_notice(name + ": no *_channels.tsv: montage inferred from the channel labels");
    }
    nlohmann::ordered_json j;
    j["dataset"] = r.root.string();
    j["recording"] = r.path.lexically_relative(r.root).string();
    j["entities"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : r.name.entities)
        j["entities"][k] = v;
    j["emg_json"] = nlohmann::ordered_json::array();
    for (const auto& f : sidecars.files.emg_json)
        j["emg_json"].push_back(f.lexically_relative(r.root).string());
    j["channels_tsv"] = sidecars.files.channels_tsv
                            ? nlohmann::ordered_json(
                                  sidecars.files.channels_tsv->lexically_relative(r.root).string())
                            : nlohmann::ordered_json(nullptr);
    j["mains_from"] = mains;
    j["montage_from"] = !a.montage.empty()            ? "--montage"
                        : sidecars.files.channels_tsv ? "channels.tsv"
                                                      : "channel labels";
    return j;
}

// DERIV/dataset_description.json (DatasetType derivative, GeneratedBy semg), written atomically;
// one that another program wrote is left as it is, with a warning.
void write_derivative_description(const fs::path& derivatives, const fs::path& root) {
    const fs::path file = derivatives / "dataset_description.json";
    std::error_code ec;
    if (fs::exists(file, ec)) {
        try {
            std::ifstream in(file);
            const auto j = nlohmann::json::parse(in);
            if (!(j.contains("GeneratedBy") && j["GeneratedBy"].is_array() &&
                  !j["GeneratedBy"].empty() && j["GeneratedBy"][0].value("Name", "") == "semg")) {
                log_warning(file.string() + " was not written by semg: left as it is");
                return;
            }
        } catch (const std::exception&) {
            log_warning(file.string() + " is not valid JSON: left as it is");
            return;
        }
    }
    const fs::path rel = fs::weakly_canonical(fs::absolute(root))
                             .lexically_relative(fs::weakly_canonical(fs::absolute(derivatives)));
    std::optional<std::string> source;
    if (!rel.empty() && rel.begin()->string() == "..")
        source = rel.string();
    pipeline::write_file_atomically(
        file, bids::derivative_description_text(pipeline::software_version(), source));
}

std::string db(double v) {
    return std::isfinite(v) ? fmt::format("{:.1f} dB", v) : std::string("n/a");
}

// One line each on what mains and ECG handling found.
void log_findings(const std::string& name, const pipeline::AnalysisResult& r) {
    const auto& m = r.mains;
    if (m.mode == "auto") {
        const auto& d = m.detection;
        log_notice(
            name + ": mains " +
            (m.frequency_hz > 0.0 ? fmt::format("{:.0f} Hz detected", m.frequency_hz)
                                  : "not detected") +
            fmt::format(
                " (confidence {}; line/neighbour at 50 Hz {}, at 60 Hz {}, threshold {} over {} s)",
                d.confidence, db(d.fundamental_db[0]), db(d.fundamental_db[1]), db(d.threshold_db),
                d.blocks));
    }
    const auto& e = r.ecg.report;
    std::size_t cleaned = 0;
    for (bool b : e.subtracted)
        cleaned += b ? 1 : 0;
    log_notice(name + ": ECG " + dsp::to_string(r.ecg.method) + ", detected on " + r.ecg.source +
               ": " +
               (e.detected && std::isfinite(e.heart_rate_bpm)
                    ? fmt::format("{} beats, heart rate {:.0f} bpm", e.beats, e.heart_rate_bpm)
                    : fmt::format("no ECG found ({} candidate detections)", e.beats)) +
               (r.ecg.method == dsp::EcgMethod::Template
                    ? fmt::format(", template subtracted on {} of {} channels", cleaned,
                                  e.subtracted.size())
                    : ""));
}

void analyze_one(const fs::path& input, const fs::path& out_dir, const AnalyzeOptions& o,
                 pipeline::AnalysisSettings settings,
                 const std::optional<bids::Recording>& recording, std::ostream& text,
                 bool show_progress, const std::string& known_sha256 = {}) {
    // Claimed first: a folder holding other files stops the run before the input is read.
    pipeline::OutputDir out(out_dir, pipeline::OutputClaim{kResultFiles, o.overwrite});
    auto source = acquisition::open_file_source(input, {o.fs_hz, o.force_fs});
    const auto& info = source->info();
    for (const auto& notice : info.notices)
        log_notice(input.string() + ": " + notice);
    for (const auto& warning : info.warnings)
        log_warning(input.string() + ": " + warning);
    if (info.channels.empty())
        throw std::runtime_error(input.string() + ": no EMG channels");

    const AnalysisOptions& a = o.analysis;
    if (!a.montage.empty())
        settings.montage = pipeline::load_montage_for(a.montage, info);
    std::optional<nlohmann::ordered_json> bids_json;
    if (recording)
        bids_json = apply_sidecars(*recording, info, a, settings);
    if (!a.mvc.empty() || !a.mvc_segment.empty()) {
        // The reference comes from its own reading of the MVC file (or of this file's segment).
        auto mvc_source =
            acquisition::open_file_source(a.mvc.empty() ? input : a.mvc, {o.fs_hz, o.force_fs});
        std::optional<std::pair<double, double>> segment;
        if (!a.mvc_segment.empty())
            segment = parse_range(a.mvc_segment, "--mvc-segment");
        settings.mvc_rms_uv = pipeline::mvc_reference_rms_for(*mvc_source, info, settings, segment);
    }
    pipeline::FatigueAnalysis analysis(settings);
    try {
        analysis.prepare(info,
                         [&](const std::string& w) { log_warning(input.string() + ": " + w); });
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(input.string() + ": " + e.what());
    }
    for (const auto& notice : analysis.montage_notices())
        log_notice(input.string() + ": " + notice);
    if (info.total_frames && *info.total_frames < analysis.analyzer().epoch_frames())
        throw std::runtime_error(input.string() + ": " + std::to_string(*info.total_frames) +
                                 " samples is shorter than one epoch (" +
                                 std::to_string(analysis.analyzer().epoch_frames()) + " samples)");

    pipeline::EpochsCsvWriter epochs(out.open("epochs.csv"), analysis.labels(), analysis.sites());
    std::optional<pipeline::PairsCsvWriter> pairs;
    if (!analysis.pairs().empty())
        pairs.emplace(out.open("pairs.csv"), analysis.labels(), analysis.pairs());
    Progress progress(input.filename().string(), show_progress ? info.total_frames.value_or(0) : 0);
    std::uint64_t frames = 0;
    pipeline::AnalysisResult result;
    try {
        pipeline::PrefetchReader reader(*source, 8192);
        while (true) {
            const dsp::ConstBlockRef block = reader.next();
            if (block.frames == 0)
                break;
            analysis.process(block, [&](const dsp::EpochFrame& f, const pipeline::EpochDerived& d) {
                epochs.write(f, d);
                if (pairs)
                    pairs->write(f, d);
            });
            frames += block.frames;
            progress.update(frames);
        }
        analysis.flush([&](const dsp::EpochFrame& f, const pipeline::EpochDerived& d) {
            epochs.write(f, d);
            if (pairs)
                pairs->write(f, d);
        });
        progress.done();
        result = analysis.finish();
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(input.string() + ": " + e.what());
    }
    if (result.epochs == 0)
        throw std::runtime_error(input.string() + ": " + std::to_string(frames) +
                                 " samples is shorter than one epoch (" +
                                 std::to_string(analysis.analyzer().epoch_frames()) + " samples)");
    const pipeline::InputFacts facts{
        std::filesystem::weakly_canonical(std::filesystem::absolute(input)),
        known_sha256.empty() ? pipeline::sha256_file(input) : known_sha256, info};
    auto summary = pipeline::summary_json(facts, analysis.settings(), result);
    if (bids_json)
        summary["bids"] = *bids_json;
    out.open("summary.json") << summary.dump(2) << '\n';
    out.commit();
    report::write_report(out_dir);
    if (o.pdf)
        report::print_report_pdf(out_dir);
    log_findings(input.string(), result);
    if (!result.contraction_warning.empty())
        log_warning(input.string() + ": " + result.contraction_warning);
    if (!o.quiet) {
        text << input.string() << " -> " << out_dir.string() << "\n";
        if (a.montage.empty() && !analysis.pairs().empty()) {
            pipeline::Montage shown;
            shown.source =
                settings.montage ? settings.montage->source : "inferred from channel labels";
            shown.channels = analysis.sites();
            text << pipeline::describe(shown) << "(give --montage FILE to override)\n";
        }
        print_fatigue_table(result, text);
    }
}

namespace cohort = pipeline::cohort;

// A cohort run: one folder (plain or BIDS) or @manifest.tsv, with tables at the top of `results`.
struct CohortPlan {
    std::vector<Job> jobs; // sorted by relative path, this shard's only
    std::size_t total = 0; // recordings of every shard
    fs::path results;
};

bool is_cohort_input(const std::vector<fs::path>& inputs) {
    std::error_code ec;
    return inputs.size() == 1 &&
           (inputs[0].string().starts_with("@") || fs::is_directory(inputs[0], ec));
}

// The recordings of the cohort, their ids and result folders: a plain folder's below --out at
// their relative path (<name>.semg each), a BIDS dataset's as plan_jobs() places them.
CohortPlan plan_cohort(const AnalyzeOptions& o) {
    const std::string arg = o.inputs[0].string();
    CohortPlan plan;
    std::vector<cohort::Entry> entries;
    std::optional<bids::Recording> unused;
    const auto need_out = [&](const std::string& what) {
        if (o.out.empty())
            throw std::invalid_argument(
                arg + ": " + what +
                " --out RESULTS, the folder for its results and the dataset tables "
                "(docs/cohort.md)");
    };
    if (arg.starts_with("@")) {
        const fs::path manifest = arg.substr(1);
        if (!o.pattern.empty())
            throw UsageError("--pattern is for a folder; a manifest gives the ids in its columns");
        need_out("a manifest needs");
        std::ifstream in(manifest, std::ios::binary);
        if (!in)
            throw UsageError(manifest.string() + ": cannot read the manifest");
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        entries =
            cohort::parse_manifest(text, manifest.string(), fs::absolute(manifest).parent_path());
        plan.results = o.out;
    } else if (const auto root = bids::find_root(o.inputs[0])) {
        if (!o.pattern.empty())
            throw UsageError(
                "--pattern is for a plain folder; a BIDS dataset's ids are its entities");
        auto jobs = plan_jobs(o.inputs, o.out);
        plan.results = jobs.front().derivatives;
        for (auto& job : jobs) {
            const auto& r = *job.recording;
            job.entry = cohort::Entry{
                r.path,
                r.path.lexically_relative(r.root).generic_string(),
                {r.name.entity("sub").value_or(""), r.name.entity("ses").value_or(""),
                 r.name.entity("task").value_or(""), r.name.entity("acq").value_or("")}};
        }
        std::sort(jobs.begin(), jobs.end(),
                  [](const Job& a, const Job& b) { return a.entry->relative < b.entry->relative; });
        plan.total = jobs.size();
        for (std::size_t i = 0; i < jobs.size(); ++i)
            if (o.shard.empty() || cohort::parse_shard(o.shard).holds(i))
                plan.jobs.push_back(std::move(jobs[i]));
        return plan;
    } else {
        need_out(
            "is a directory, and not a BIDS dataset (no dataset_description.json in it or above it); as a "
            "folder of recordings it needs");
        std::optional<cohort::PathPattern> pattern;
        if (!o.pattern.empty())
            pattern.emplace(o.pattern);
        std::size_t unmatched = 0;
        entries = cohort::discover(o.inputs[0], pattern, {o.out}, unmatched);
        if (unmatched > 0)
            log_notice(fmt::format("{}: {} files do not match --pattern '{}': left out", arg,
                                   unmatched, o.pattern));
        plan.results = o.out;
    }
    std::map<fs::path, std::string> seen;
    plan.total = entries.size();
    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto& e = entries[i];
        const fs::path rel = e.relative;
        const fs::path folder = plan.results / rel.parent_path() / (rel.stem().string() + ".semg");
        const auto [it, fresh] = seen.emplace(folder.lexically_normal(), e.relative);
        if (!fresh)
            throw UsageError(
                it->second + " and " + e.relative + " would both write their results to " +
                folder.lexically_normal().string() + ": rename one, or list one in a manifest");
        if (!o.shard.empty() && !cohort::parse_shard(o.shard).holds(i))
            continue;
        plan.jobs.push_back({e.path, folder, std::nullopt, {}, std::move(e)});
    }
    return plan;
}

// SHA-256 of a named file (--montage, --mvc) for the settings key, empty when none.
std::string sha_of(const fs::path& p) {
    return p.empty() ? std::string() : pipeline::sha256_file(p);
}

// The options that change a recording's results, as cohort.json keeps them: a rerun with other
// values, other --montage/--mvc bytes or another semg version analyses the recording again.
nlohmann::ordered_json settings_key(const AnalyzeOptions& o) {
    const AnalysisOptions& a = o.analysis;
    const auto& d = a.detector;
    return {{"semg", pipeline::software_version()},
            {"fs_hz", o.fs_hz ? nlohmann::ordered_json(*o.fs_hz) : nlohmann::ordered_json()},
            {"force_fs", o.force_fs},
            {"select", a.channels},
            {"band", a.band},
            {"order", a.order},
            {"mains", a.mains},
            {"mains_notch_hz", a.mains_notch_hz},
            {"mains_exclude_hz", a.mains_exclude_hz},
            {"ecg", a.ecg},
            {"epoch_s", a.epoch_s},
            {"overlap", a.overlap},
            {"psd", a.psd},
            {"welch_segment_s", a.welch_segment_s},
            {"segments", a.segments},
            {"contractions", a.contractions},
            {"annotation", a.annotation},
            {"montage_sha256", sha_of(a.montage)},
            {"mvc_sha256", sha_of(a.mvc)},
            {"mvc_segment", a.mvc_segment},
            {"ai_threshold_pct", a.ai_threshold_pct},
            {"keep_flagged", a.keep_flagged},
            {"min_fit_epochs", a.fit.min_epochs},
            {"min_fit_share", a.fit.min_share},
            {"detector",
             {d.rest_ratio, d.activity_fraction, d.min_on_s, d.min_off_s, d.min_duration_s,
              d.burst_max_s, d.burst_gap_max_s, d.min_bursts}}};
}

std::string duration_text(double s) {
    if (!std::isfinite(s) || s < 0)
        return "?";
    const auto t = static_cast<long long>(s + 0.5);
    return t >= 3600 ? fmt::format("{}h{:02}m", t / 3600, t / 60 % 60)
           : t >= 60 ? fmt::format("{}m{:02}s", t / 60, t % 60)
                     : fmt::format("{}s", t);
}

// The run's progress on stderr: recordings done of all, failures, ETA. On a terminal one line
// redrawn in place; otherwise (a log file, a batch system) one plain line per recording.
class RunProgress {
public:
    RunProgress(std::size_t total, bool enabled)
        : total_(total), enabled_(enabled), terminal_(::isatty(STDERR_FILENO) == 1),
          start_(std::chrono::steady_clock::now()) {}
    enum class Outcome { Analysed, Skipped, Failed };
    void finished(const std::string& name, Outcome outcome) {
        const std::lock_guard lock(mutex_);
        ++done_;
        if (outcome == Outcome::Failed)
            ++failed_;
        if (outcome == Outcome::Skipped)
            ++skipped_;
        if (!enabled_)
            return;
        const double elapsed_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const std::size_t worked = done_ - skipped_;
        const double eta_s = worked > 0 ? elapsed_s / static_cast<double>(worked) *
                                              static_cast<double>(total_ - done_)
                                        : std::nan("");
        const std::string counts =
            fmt::format("{}/{} recordings, {} failed{}, ETA {}", done_, total_, failed_,
                        skipped_ ? fmt::format(", {} unchanged", skipped_) : "",
                        done_ == total_ ? "0s" : duration_text(eta_s));
        if (terminal_) {
            std::cerr << "\r\033[Ksemg: " << counts << std::flush;
            if (done_ == total_)
                std::cerr << '\n';
        } else {
            const char* what = outcome == Outcome::Analysed  ? "analysed"
                               : outcome == Outcome::Skipped ? "unchanged, skipped"
                                                             : "FAILED";
            std::cerr << fmt::format("semg: [{}] {}: {}\n", counts, name, what);
        }
    }
    std::size_t failed() const { return failed_; }
    std::size_t skipped() const { return skipped_; }

private:
    std::mutex mutex_;
    std::size_t total_, done_ = 0, failed_ = 0, skipped_ = 0;
    bool enabled_, terminal_;
    std::chrono::steady_clock::time_point start_;
};

// Runs body(i) for i < count on `threads` workers (each takes the next index when it is free,
// so at most `threads` recordings are open at once).
void run_parallel(std::size_t count, unsigned threads,
                  const std::function<void(std::size_t)>& body) {
    std::atomic<std::size_t> next{0};
    const auto work = [&] {
        for (std::size_t i = next++; i < count; i = next++)
            body(i);
    };
    threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(count)));
    if (threads == 1)
        return work();
    std::vector<std::jthread> workers;
    for (unsigned t = 0; t < threads; ++t)
        workers.emplace_back(work);
}

unsigned worker_count(const AnalyzeOptions& o) {
    return o.jobs > 0 ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
}

void write_derivative_descriptions(const std::vector<Job>& jobs, const std::vector<char>& ok) {
    std::map<fs::path, fs::path> derivatives; // written to -> dataset root
    for (std::size_t i = 0; i < jobs.size(); ++i)
        if (ok[i] && jobs[i].recording)
            derivatives.emplace(jobs[i].derivatives, jobs[i].recording->root);
    for (const auto& [folder, root] : derivatives)
        run_command(
            [&, &folder = folder, &root = root] { write_derivative_description(folder, root); });
}

// A cohort: each recording unless unchanged (or --force), its marker written after its results or
// its failure, then the dataset tables (unless this is one shard of several).
void run_cohort(const AnalyzeOptions& o, const pipeline::AnalysisSettings& settings,
                CohortPlan plan) {
    if (o.list) {
        for (const auto& job : plan.jobs)
            std::cout << job.entry->relative << '\t'
                      << job.folder.lexically_relative(plan.results).generic_string() << '\n';
        return;
    }
    const auto key = settings_key(o);
    const unsigned threads = worker_count(o);
    if (!o.quiet)
        log_notice(fmt::format(
            "{} recordings{} on {} worker{}, results in {}", plan.jobs.size(),
            o.shard.empty() ? "" : fmt::format(" (shard {} of {} in all)", o.shard, plan.total),
            threads, threads == 1 ? "" : "s", plan.results.string()));
    RunProgress progress(plan.jobs.size(), !o.quiet);
    std::vector<char> ok(plan.jobs.size(), 0);
    std::mutex out_mutex;
    run_parallel(plan.jobs.size(), threads, [&](std::size_t i) {
        const Job& job = plan.jobs[i];
        cohort::Marker m{job.entry->relative,
                         job.folder.lexically_relative(plan.results).generic_string(),
                         job.entry->ids,
                         {},
                         key,
                         "ok",
                         {}};
        auto outcome = RunProgress::Outcome::Analysed;
        try {
            m.sha256 = pipeline::sha256_file(job.input);
            if (!o.force && cohort::is_up_to_date(plan.results, m.relative, m.sha256, key)) {
                outcome = RunProgress::Outcome::Skipped;
            } else {
                std::ostringstream text;
                analyze_one(job.input, job.folder, o, settings, job.recording, text, false,
                            m.sha256);
                if (!o.quiet && !text.str().empty()) {
                    const std::lock_guard lock(out_mutex);
                    std::cout << job.input.string() << " -> " << job.folder.string() << "\n";
                }
            }
        } catch (const std::exception& e) {
            m.status = "failed";
            m.error = e.what();
            outcome = RunProgress::Outcome::Failed;
            std::cerr << "semg: error: " << e.what() << '\n';
            set_exit_code(ExitCode::InputFailed);
        }
        if (outcome != RunProgress::Outcome::Failed)
            log_session(o.log, job.folder, {m.ids.subject, m.ids.session, m.ids.task}, "analyze");
        if (outcome != RunProgress::Outcome::Skipped) {
            try {
                cohort::write_marker(plan.results, m);
            } catch (const std::exception& e) {
                std::cerr << "semg: error: " << job.folder.string() << ": " << e.what() << '\n';
                set_exit_code(ExitCode::DeviceIo);
                outcome = RunProgress::Outcome::Failed;
            }
        }
        ok[i] = outcome != RunProgress::Outcome::Failed;
        progress.finished(job.entry->relative, outcome);
    });
    const std::size_t skipped = progress.skipped(), failed = progress.failed();
    log_notice(fmt::format(
        "{} analysed, {} unchanged since the last run (same SHA-256 and settings) and skipped{}, "
        "{} failed",
        plan.jobs.size() - skipped - failed, skipped, skipped ? " (--force redoes them)" : "",
        failed));
    write_derivative_descriptions(plan.jobs, ok);
    if (!o.shard.empty()) {
        log_notice("shard " + o.shard + " done: run `semg merge " + plan.results.string() +
                   "` when every shard is, for the dataset tables");
        return;
    }
    run_command([&] {
        const auto counts = cohort::merge(plan.results);
        if (counts.settings_variants > 1)
            log_warning(fmt::format(
                "{}: its recordings were analysed with {} different settings: earlier runs' "
                "results with other options are in the tables (--force analyses all again)",
                plan.results.string(), counts.settings_variants));
        log_notice(fmt::format(
            "tables: {} (recordings.csv {} rows, {} failed; fits.csv {} rows; pairs.csv {} "
            "rows; dataset.sqlite)",
            plan.results.string(), counts.recordings, counts.failed, counts.fits, counts.pairs));
    });
}

// A file's ids for the session log: a BIDS recording's entities (--subject/--session override).
SessionIds session_ids(const Job& job) {
    if (!job.recording)
        return {};
    const auto& n = job.recording->name;
    return {n.entity("sub").value_or(""), n.entity("ses").value_or(""),
            n.entity("task").value_or("")};
}

// Files given one by one: on `--jobs` workers, each one's table printed in the order given.
void run_files(const AnalyzeOptions& o, const pipeline::AnalysisSettings& settings,
               const std::vector<Job>& jobs) {
    const unsigned threads = worker_count(o);
    std::vector<char> ok(jobs.size(), 0);
    std::vector<std::optional<std::string>> texts(jobs.size());
    std::size_t printed = 0;
    std::mutex out_mutex;
    run_parallel(jobs.size(), threads, [&](std::size_t i) {
        std::ostringstream text;
        ok[i] = run_command([&] {
            analyze_one(jobs[i].input, jobs[i].folder, o, settings, jobs[i].recording, text,
                        threads == 1 || jobs.size() == 1);
        });
        if (ok[i])
            log_session(o.log, jobs[i].folder, session_ids(jobs[i]), "analyze");
        const std::lock_guard lock(out_mutex);
        texts[i] = text.str();
        while (printed < texts.size() && texts[printed])
            std::cout << *texts[printed++] << std::flush;
    });
    write_derivative_descriptions(jobs, ok);
    const auto failures = static_cast<std::size_t>(std::count(ok.begin(), ok.end(), 0));
    if (jobs.size() > 1 && failures > 0)
        std::cerr << "semg: " << failures << " of " << jobs.size() << " inputs failed\n";
}

} // namespace

void register_analyze(CLI::App& app) {
    auto o = std::make_shared<AnalyzeOptions>();
    auto* cmd =
        app.add_subcommand("analyze", "Per-epoch spectral features and fatigue fits of recordings");
    cmd->alias("analyse");
    cmd->add_option(
           "inputs", o->inputs,
           "Recordings: EDF/EDF+/BDF/BDF+, CSV/TSV, OpenBCI GUI .txt, OpenSignals .txt/.h5, "
           "MATLAB .mat (v4/v5/v7.3), WFDB (.hea/.dat) (docs/formats.md; `semg info` shows what is "
           "read), or a BIDS-EMG dataset folder or a folder inside one: every "
           "sub-*/[ses-*/]emg/*_emg.bdf|edf, with its sidecars (docs/bids.md); or one folder of "
           "recordings (searched recursively) or @manifest.tsv: a cohort, with dataset tables in "
           "--out (docs/cohort.md)")
        ->required();
    cmd->add_option("--out", o->out,
                    "Output folder (default: <name>.semg next to the input; with several inputs, "
                    "the parent of one <name>.semg folder each, at the input's path below the "
                    "folder the inputs share; BIDS-EMG: the derivative dataset, default "
                    "ROOT/derivatives/semg, with sub-*/ses-*/emg/<entities>_desc-fatigue/ per "
                    "recording)");
    auto* fs_option =
        cmd->add_option("--fs", o->fs_hz,
                        "Sample rate in Hz, for CSV files without a time column and .mat files "
                        "without a rate variable. With a time "
                        "column (time_s, first), its least-squares rate is used and --fs must "
                        "agree within 0.1 %");
    cmd->add_flag("--force-fs", o->force_fs,
                  "Use --fs and do not read the CSV time column (its rate, order and gaps)")
        ->needs(fs_option);
    cmd->footer(
        "File types are recognised by content, then by extension (docs/formats.md):\n"
        "  OpenBCI GUI .txt (v3-v6, '%OpenBCI' header): the EXG channels in uV, rate and board from\n"
        "    the header; sample index, accelerometer, aux and time columns are skipped, a skipped\n"
        "    sample index or a pause is a warning.\n"
        "  PLUX OpenSignals .txt ('# OpenSignals' header) and .h5: the EMG-sensor channels, ADC\n"
        "    counts to uV with the device's transfer function (VCC 3 V, gain 1000 for biosignalsplux);\n"
        "    other sensors and digital inputs are skipped.\n"
        "  .edf/.bdf: EDF/EDF+/BDF/BDF+ (EDFlib). .csv/.tsv/.txt: as below.\n"
        "CSV/TSV input: a header row of column names, then one row per sample. Delimiter: tab,\n"
        "semicolon or comma; with tab or semicolon a decimal comma is read as a decimal point.\n"
        "Sample rate: a first column time, time_s, t or seconds (or time_ms, t_ms) gives it, as the\n"
        "least-squares step over every timestamp. Time must increase at every row by at least 1 us\n"
        "(1 MHz); a step above 2.5 sample intervals is a gap, an error. Without a time column give\n"
        "--fs; with one, --fs must agree within 0.1 %, or add --force-fs to use --fs and not read it.\n"
        "Units: the column-name suffix _uV, _mV or _V (also \"(mV)\", \"[uV]\", \" V\"). A column\n"
        "without one is uV, unless its RMS about the mean is below 0.01 (sEMG in volts): then it is\n"
        "read as volts and a notice says so; add _V or _uV to the name to say which.\n"
        "MATLAB .mat (by its header, else .mat): the data is the matrix named Data/data/emg/signals\n"
        "(or the only one), the rate the variable fs/Fs/srate/sampling_rate/SampleRate (else --fs),\n"
        "labels channels/labels, units units (else V or uV by the RMS rule above). Delsys exports (Data,\n"
        "Fs, Channels): volts, the EMG channels of the largest rate group, zero padding cut.\n"
        "WFDB: the .hea header (or a .dat beside one), formats 16/61/80/212/24/32, gain, baseline\n"
        "and units from the header; checksums checked. Details: docs/formats.md.");
    add_analysis_options(*cmd, o->analysis, false);
    // --channels was the selection here but a count in `semg capture`: --select in both now.
    add_deprecated_alias(*cmd, "--channels", o->analysis.channels, "--select");
    cmd->add_flag("--overwrite", o->overwrite,
                  "Write into an output folder that holds other files too (they are kept)");
    cmd->add_flag("--pdf", o->pdf,
                  "Also print report.html to report.pdf through headless Chromium ($CHROMIUM, else "
                  "chromium on PATH)");
    cmd->add_flag("-q,--quiet", o->quiet, "No table on stdout; warnings and errors only on stderr");
    add_session_log_options(*cmd, o->log, true);
    const std::string cohort_group =
        "Cohorts: a folder, a BIDS dataset or @manifest.tsv (docs/cohort.md)";
    cmd->add_option("-j,--jobs", o->jobs,
                    "Recordings analysed at once, one thread each (default: every core)")
        ->check(CLI::Range(1u, 1024u))
        ->group(cohort_group);
    cmd->add_option(
           "--pattern", o->pattern,
           "Ids from a plain folder's relative paths, e.g. '{subject}/{session}/{task}.bdf' (fields "
           "{subject} {session} {task} {condition}, * any text; files that do not match are left out)")
        ->group(cohort_group);
    cmd->add_option(
           "--shard", o->shard,
           "K/N: analyse only the K-th of N shards (sorted relative paths, every N-th from the K-th); "
           "no tables: run `semg merge RESULTS` after the last")
        ->group(cohort_group);
    cmd->add_flag(
           "--force", o->force,
           "Analyse again recordings whose input and settings are unchanged since the last run")
        ->group(cohort_group);
    cmd->add_flag(
           "--list", o->list,
           "Print each recording of the run (relative path, tab, result folder below RESULTS) and stop")
        ->group(cohort_group);
    cmd->callback([o, cmd]() {
        set_quiet(o->quiet);
        // Options and output folders are checked once, before any input is read.
        pipeline::AnalysisSettings settings;
        std::vector<Job> jobs;
        bool cohort_mode = false;
        if (!run_command(
                [&] {
                    settings = analysis_settings_from(o->analysis);
                    if (o->fs_hz)
                        pipeline::check_sample_rate(*o->fs_hz, "--fs");
                    if (o->pdf)
                        report::require_chromium();
                    cohort_mode = is_cohort_input(o->inputs);
                    if (cohort_mode) {
                        if (!o->shard.empty())
                            pipeline::cohort::parse_shard(o->shard);
                        if (!o->pattern.empty())
                            pipeline::cohort::PathPattern{o->pattern};
                        return;
                    }
                    for (const auto* option : {"--pattern", "--shard", "--list"})
                        if (cmd->count(option) > 0)
                            throw UsageError(
                                std::string(option) +
                                " is for a folder, a BIDS dataset or @manifest.tsv given alone");
                    jobs = plan_jobs(o->inputs, o->out);
                },
                ExitCode::Usage))
            return;
        if (cohort_mode) {
            std::optional<CohortPlan> plan;
            if (!run_command([&] { plan = plan_cohort(*o); }))
                return;
            run_cohort(*o, settings, std::move(*plan));
            return;
        }
        run_files(*o, settings, jobs);
    });
}

} // namespace semg::tools
