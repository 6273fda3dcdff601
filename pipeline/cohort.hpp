// Cohorts (`semg analyze DIR|@manifest.tsv`, `semg merge`): the recordings of a dataset folder or
// a manifest with their ids (subject, session, task, condition), deterministic shards, the
// per-recording marker (cohort.json) that makes reruns resumable, and the dataset tables
// (recordings.csv, fits.csv, pairs.csv, dataset.sqlite) built from the per-recording results.
// Rules and column meanings: docs/cohort.md.
// Configuration and merge time only: everything here may allocate and throws
// std::invalid_argument with one line naming the file, line or field on bad input.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace semg::pipeline::cohort {

struct Ids {
    std::string subject, session, task, condition;
};

// One recording of a cohort. `relative`: its path below the cohort's folder with '/' separators
// (the sort key of shards and table rows, and the place of its results below RESULTS).
struct Entry {
    std::filesystem::path path;
    std::string relative;
    Ids ids;
};

// Whether `path` has the extension of a format `semg analyze` reads (docs/formats.md): .bdf .edf
// .csv .tsv .txt .mat .hea .h5 (WFDB by its .hea header; .dat files are its data).
bool is_recording_file(const std::filesystem::path& path);

// The components that all of `folders` (absolute, normal) start with.
std::filesystem::path common_folder(const std::vector<std::filesystem::path>& folders);

// `--pattern '{subject}/{session}/{task}.bdf'`: a relative path with fields {subject}, {session},
// {task}, {condition} (each one path component or part of one, at least one character) and `*`
// (any text within a component); everything else is literal. The whole relative path must match.
class PathPattern {
public:
    explicit PathPattern(const std::string& pattern); // throws std::invalid_argument
    std::optional<Ids> match(const std::string& relative) const;

private:
    std::regex regex_;
    std::vector<std::string> fields_;
};

// Every recording file below `folder` (recursively, sorted by relative path; hidden entries and
// `skip` are not looked into). With a pattern only the paths it matches, their ids from it;
// `unmatched` counts the others. Throws std::invalid_argument when there is none.
std::vector<Entry> discover(const std::filesystem::path& folder,
                            const std::optional<PathPattern>& pattern,
                            const std::vector<std::filesystem::path>& skip, std::size_t& unmatched);

// A manifest: tab-separated, a header row naming the columns (path required; subject, session,
// task, condition optional, others ignored), one row per recording; paths relative to the
// manifest's folder `base` (or absolute). `where` names the file in errors ("m.tsv:3: ...").
// Entries' `relative` is their path below the folder all of them share. Throws on a missing
// path column, a row with another number of cells, an empty or repeated path.
std::vector<Entry> parse_manifest(std::string_view text, const std::string& where,
                                  const std::filesystem::path& base);

// `--shard K/N` (1 <= K <= N): the K-th of N shards holds the recordings at sorted positions
// i with i % N == K - 1, so N shards cover every recording once whatever the cluster does.
struct Shard {
    std::size_t index = 1;
    std::size_t count = 1;
    bool holds(std::size_t position) const noexcept { return position % count == index - 1; }
};
Shard parse_shard(const std::string& text); // throws std::invalid_argument naming --shard

// The marker of one recording, RESULTS/.cohort/<relative>.json, written (atomically) after its
// results or its failure: what merge lists and what a rerun compares. Kept apart from the result
// folders, so that a failed recording leaves no folder behind.
struct Marker {
    std::string relative;
    std::string results; // its result folder, relative to RESULTS ('/' separators)
    Ids ids;
    std::string sha256;              // of the input file; empty when it could not be read
    nlohmann::ordered_json settings; // the options that change results (compared as a whole)
    std::string status;              // "ok" or "failed"
    std::string error;               // failed: the message
};
inline constexpr std::string_view kMarkerFolder = ".cohort";
std::filesystem::path marker_path(const std::filesystem::path& results,
                                  const std::string& relative);
nlohmann::ordered_json marker_json(const Marker& m);
Marker parse_marker(const nlohmann::json& j, const std::string& where);
// The marker of a recording, or nothing when it has none or it cannot be read.
std::optional<Marker> read_marker(const std::filesystem::path& results,
                                  const std::string& relative);
void write_marker(const std::filesystem::path& results, const Marker& m);

// Whether the recording's marker says ok for the same input bytes and settings and its result
// folder holds complete results: a rerun skips it.
bool is_up_to_date(const std::filesystem::path& results, const std::string& relative,
                   const std::string& sha256, const nlohmann::ordered_json& settings);

struct MergeCounts {
    std::size_t recordings = 0, failed = 0, fits = 0, pairs = 0;
    std::size_t settings_variants =
        0; // distinct settings among the markers: above 1, rows differ in method
};
// Builds RESULTS/recordings.csv, fits.csv, pairs.csv and dataset.sqlite from every marker in
// RESULTS/.cohort and the summary.json of each one's result folder: rows sorted by relative path,
// each file replaced atomically. Idempotent: the same markers and summaries give the same bytes.
MergeCounts merge(const std::filesystem::path& results);

// The table headers (docs/cohort.md), for tests and docs.
extern const std::vector<std::string> kRecordingsColumns;
extern const std::vector<std::string> kFitsColumns;
extern const std::vector<std::string> kPairsColumns;

} // namespace semg::pipeline::cohort
