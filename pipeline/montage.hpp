// Paraspinal montage: which muscle, vertebral level and side each recording channel sits over,
// and which channels form bilateral (left/right) pairs for the imbalance indices.
// A montage comes from a TOML file (load_montage) or is inferred from channel labels
// (infer_montage); the rules and the file format are in docs/montage.md.
// Configuration time only: everything here may allocate and throws std::invalid_argument with a
// one-line message that names the file or label, so the command line can print it as is.
#pragma once

#include "acquisition/anatomy.hpp"
#include "acquisition/source.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semg::pipeline {

// Sides, levels and muscle names are acquisition/anatomy.hpp, shared with the simulator.
using acquisition::Side;
using acquisition::to_string; // "left", "right", "midline", "unknown"

struct ChannelSite {
    std::string label;
    // Canonical for the paraspinal sites: "longissimus", "iliocostalis", "multifidus",
    // "erector_spinae"; free text for other muscles (as written in the montage file); "" unknown.
    std::string muscle;
    std::string level; // "T10", "L3", a range "L3-L4", or "" when unknown
    Side side = Side::Unknown;
    bool is_emg = true; // false for ECG, accelerometer, trigger, annotation and other channels
    std::optional<double> electrode_size_mm;
    std::optional<double> inter_electrode_distance_mm;
};

struct Montage {
    // One entry per recording channel, in recording order: channels[i] describes channel i.
    std::vector<ChannelSite> channels;
    // Where the montage came from, for result files: the TOML path or "inferred from labels".
    std::string source;
    // Things the user should hear about how it was read (a free-text muscle taken from a label).
    std::vector<std::string> notices;

    std::optional<std::size_t> index_of(std::string_view label) const;
};

// Indices into Montage::channels.
struct BilateralPair {
    std::size_t left = 0;
    std::size_t right = 0;
    std::string muscle;
    std::string level;
};

// Reads a montage file and matches it to the recording's channel labels (exact match after
// trimming white space). Throws std::invalid_argument for TOML syntax errors (with line), unknown
// keys or values, montage channels absent from the recording, and recording channels absent
// from the montage (unless their label is plainly not EMG, e.g. "ECG" or "Status").
Montage load_montage(const std::filesystem::path& toml_file,
                     const std::vector<std::string>& labels);

// The same for a recording: a signal the source skipped (another sample rate, not a voltage) may
// appear in the montage only as a non-EMG channel; placing it on a muscle is an error, since a
// left/right pair must share one sample rate.
Montage load_montage_for(const std::filesystem::path& toml_file,
                         const acquisition::SourceInfo& info);

// Infers the montage from channel labels such as "ES L3 L", "multifidus_L5_right" or "ESL4R".
// Labels with no site information ("EMG1", "ch2") give Side::Unknown and no muscle, but only
// when no label states a side. A label with a side and a level but a muscle word outside the
// vocabulary ("GLUT L5 R") keeps that word, lower-cased, as a free-text muscle (so it pairs with
// its mirror label) and adds a notice; a word within two letters of a paraspinal name is a typo
// and is rejected. Throws std::invalid_argument naming the label when a label cannot
// be read unambiguously; the message points to --montage FILE.
Montage infer_montage(const std::vector<std::string>& labels);

// A channel's site from fields given separately, as a BIDS channels.tsv row has them: the
// muscle (target_muscle: "erector spinae", "left multifidus L5", "biceps brachii"), the level and
// the side; empty or "n/a" says nothing. The muscle text is read like a label: known muscle
// words become canonical, other words a free-text muscle (lower-cased), and a side or level in
// it counts. The level and side fields win over the muscle text; what neither says is taken from
// the channel label when the label reads cleanly. Throws std::invalid_argument starting with
// "file:line: channel 'label':" for a level or side field that cannot be read, or a muscle
// within two letters of a paraspinal name.
ChannelSite site_from_fields(const std::string& label, std::string_view muscle,
                             std::string_view level, std::string_view side,
                             const std::filesystem::path& file, std::uint32_t line);

// Same muscle and level, one left and one right EMG channel; ordered by the left channel.
// Throws std::invalid_argument when a channel would belong to two pairs (duplicated site).
std::vector<BilateralPair> bilateral_pairs(const Montage& montage);

// A short table (label, muscle, level, side, electrodes where known) for printing.
std::string describe(const Montage& montage);

} // namespace semg::pipeline
