// BIDS-EMG (BIDS 1.11, the `emg` datatype): finding the recordings of a dataset, reading their
// sidecars (`*_emg.json`, `*_channels.tsv`) into what the analysis needs (mains, the sample
// rate to check, the montage), and writing the sidecars of a capture. Rules and the choices made
// where the standard leaves room: docs/bids.md.
// Configuration time only: everything here may allocate, and a malformed sidecar throws
// std::invalid_argument with one line naming the file, the line or field, and the problem.
#pragma once

#include "acquisition/source.hpp"
#include "pipeline/montage.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace semg::pipeline::bids {

// The BIDS version whose schema the sidecars written here follow (the EMG datatype is 1.11).
inline constexpr std::string_view kBidsVersion = "1.11.0";

// A file name's entities in order ("sub"->"01", "ses"->"1", "task"->"sorensen"), its suffix
// ("emg") and extension (".bdf"). Empty suffix: the name is not a BIDS name.
struct FileName {
    std::vector<std::pair<std::string, std::string>> entities;
    std::string suffix;
    std::string extension;

    std::optional<std::string> entity(std::string_view key) const;
    // "sub-01_ses-1_task-sorensen": the entities joined, without suffix and extension.
    std::string stem() const;
};
FileName parse_file_name(std::string_view name);

// The folder holding dataset_description.json, looking at `inside` and then up its parents.
std::optional<std::filesystem::path> find_root(const std::filesystem::path& inside);

struct Recording {
    std::filesystem::path path;     // .../sub-01/ses-1/emg/sub-01_ses-1_task-x_emg.bdf
    std::filesystem::path root;     // the dataset
    std::filesystem::path relative; // sub-01/ses-1/emg (the folder, relative to root)
    FileName name;
};

// `path` as a BIDS-EMG recording: sub-<S>/[ses-<X>/]emg/sub-<S>_[ses-<X>_]..._emg.{bdf,edf}
// below a dataset root. Nothing when it is not one.
std::optional<Recording> as_recording(const std::filesystem::path& path);
// Every recording below `under` (the root or a folder inside it), sorted by path. derivatives/,
// sourcedata/ and code/ are not looked into. Throws std::invalid_argument when there is none.
std::vector<Recording> find_recordings(const std::filesystem::path& root,
                                       const std::filesystem::path& under);

// What *_emg.json says that the analysis uses. Every REQUIRED field is checked for presence and
// type; a missing one is a warning (the analysis needs only the ones read here).
struct EmgSidecar {
    std::optional<double> sampling_frequency_hz;
    std::optional<double> power_line_hz; // nothing: "n/a"
    std::string task_name;
    std::vector<std::string> warnings;
};
EmgSidecar parse_emg_json(std::string_view text, const std::string& where);

// One row of *_channels.tsv. Empty strings where the column is absent; "n/a" left as written.
struct ChannelRow {
    std::uint32_t line = 0;
    std::string name, type, units, status, target_muscle, level, side;
    std::optional<double> interelectrode_distance_mm;
};
// Throws for: no header, a missing required column (name, type, units), a row with another
// number of cells than the header, an empty or repeated name, a non-numeric
// interelectrode_distance.
std::vector<ChannelRow> parse_channels_tsv(std::string_view text, const std::string& where);

// The sidecars that apply to a recording by BIDS' inheritance principle: files in the
// recording's folder or any folder above it up to the root whose entities are a subset of the
// recording's. *_emg.json: all of them, outermost first (each overrides the one before, key by
// key). *_channels.tsv: the innermost. Two applicable files in one folder is an error.
struct Sidecars {
    std::vector<std::filesystem::path> emg_json; // outermost first
    std::optional<std::filesystem::path> channels_tsv;
};
Sidecars find_sidecars(const Recording& recording);

// The recording's sidecars, read: the merged *_emg.json and the channels.
struct RecordingSidecars {
    Sidecars files;
    EmgSidecar emg;
    std::vector<ChannelRow> channels;
};
RecordingSidecars read_sidecars(const Recording& recording);

// The montage that channels.tsv gives for the source's channels: type EMG (and status not bad)
// is EMG, target_muscle with the semg columns level and side (else the label) is the site.
// Throws when a channel of the recording has no row, or a row names no channel of the file.
// Adds notices (channels left out as bad) to `notices`.
Montage montage_from_channels(const std::vector<ChannelRow>& rows, const std::filesystem::path& tsv,
                              const acquisition::SourceInfo& info,
                              std::vector<std::string>& notices);

// Throws std::runtime_error naming both files and rates when SamplingFrequency disagrees with
// the file's rate (relative difference above 1e-6).
void check_sampling_frequency(const EmgSidecar& sidecar, const std::filesystem::path& json,
                              const acquisition::SourceInfo& info,
                              const std::filesystem::path& recording);

// ---- Writing (semg capture --bids-root) ------------------------------------------------------

struct CaptureSidecar {
    std::string task;
    double sampling_frequency_hz = 0.0;
    std::optional<double> power_line_hz; // nothing: "n/a"
    double duration_s = 0.0;
    std::vector<std::string> labels;
    std::size_t emg_channel_count = 0;
    std::string placement_description; // EMGPlacementSchemeDescription ("Other")
    std::string reference;             // EMGReference
    std::string manufacturer;          // empty: not written
    std::string software_version;
    std::string device; // protocol, for the description
    std::pair<double, double> range_uv{0.0, 0.0};
};
std::string emg_json_text(const CaptureSidecar& c);
// name, type, units, then the recommended columns semg knows (target_muscle from the montage
// inferred from the labels) and its own level and side (described by channels_json_text()).
std::string channels_tsv_text(const CaptureSidecar& c, const Montage& montage);
std::string channels_json_text();
std::string dataset_description_text(const std::string& name);
// A derivative dataset's description (DatasetType derivative, GeneratedBy semg).
std::string derivative_description_text(const std::string& version,
                                        const std::optional<std::string>& source_url);
// participants.tsv with `subject` ("01", without "sub-") added, given the current text (empty:
// none yet). Unchanged when the subject is listed.
std::string participants_with(std::string_view current, const std::string& subject,
                              const std::string& where);
// A label as BIDS allows it: letters and digits only. Throws naming `option` otherwise.
void check_label(const std::string& value, const std::string& option);

} // namespace semg::pipeline::bids
