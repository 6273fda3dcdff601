#include "pipeline/bids.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace semg::pipeline::bids {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r");
    return std::string(text.substr(first, last - first + 1));
}

bool is_label(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0;
    });
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::invalid_argument(path.string() + ": cannot open");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string number_text(double v) {
    std::ostringstream s;
    s.precision(10);
    s << v;
    return s.str();
}

bool is_voltage(std::string_view units) {
    for (std::string_view u : {"V", "mV", "uV", "\xC2\xB5V", "\xCE\xBCV", "nV"})
        if (units == u)
            return true;
    return false;
}

// A folder's entry "sub-01" -> "01" for key "sub".
std::optional<std::string> folder_label(const fs::path& folder, std::string_view key) {
    const std::string name = folder.filename().string();
    const std::string prefix = std::string(key) + "-";
    if (!name.starts_with(prefix) || !is_label(std::string_view(name).substr(prefix.size())))
        return std::nullopt;
    return name.substr(prefix.size());
}

} // namespace

std::optional<std::string> FileName::entity(std::string_view key) const {
    for (const auto& [k, v] : entities)
        if (k == key)
            return v;
    return std::nullopt;
}

std::string FileName::stem() const {
    std::string out;
    for (const auto& [k, v] : entities)
        out += (out.empty() ? "" : "_") + k + "-" + v;
    return out;
}

FileName parse_file_name(std::string_view name) {
    FileName out;
    const auto dot = name.find('.');
    if (dot == std::string_view::npos)
        return {};
    out.extension = std::string(name.substr(dot));
    std::string_view rest = name.substr(0, dot);
    while (!rest.empty()) {
        const auto underscore = rest.find('_');
        const std::string_view part = rest.substr(0, underscore);
        const auto dash = part.find('-');
        if (underscore == std::string_view::npos) { // the suffix, after at least one entity
            if (dash != std::string_view::npos || !is_label(part) || out.entities.empty())
                return {};
            out.suffix = std::string(part);
            return out;
        }
        if (dash == std::string_view::npos || !is_label(part.substr(0, dash)) ||
            !is_label(part.substr(dash + 1)))
            return {};
        const std::string key(part.substr(0, dash));
        if (out.entity(key))
            return {}; // an entity twice
        out.entities.emplace_back(key, std::string(part.substr(dash + 1)));
        rest = rest.substr(underscore + 1);
    }
    return {};
}

std::optional<fs::path> find_root(const fs::path& inside) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(inside), ec);
    if (ec)
        return std::nullopt;
    if (!fs::is_directory(p, ec))
        p = p.parent_path();
    for (; !p.empty(); p = p.parent_path()) {
        if (fs::is_regular_file(p / "dataset_description.json", ec))
            return p;
        if (p == p.root_path())
            break;
    }
    return std::nullopt;
}

std::optional<Recording> as_recording(const fs::path& path) {
    std::error_code ec;
    const fs::path file = fs::weakly_canonical(fs::absolute(path), ec);
    if (ec || !fs::is_regular_file(file, ec))
        return std::nullopt;
    Recording r;
    r.name = parse_file_name(file.filename().string());
    if (r.name.suffix != "emg" || (r.name.extension != ".bdf" && r.name.extension != ".edf"))
        return std::nullopt;
    const fs::path emg = file.parent_path();
    if (emg.filename() != "emg")
        return std::nullopt;
    fs::path above = emg.parent_path();
    const auto ses = folder_label(above, "ses");
    if (ses)
        above = above.parent_path();
    const auto sub = folder_label(above, "sub");
    if (!sub || r.name.entity("sub") != sub || r.name.entity("ses") != ses)
        return std::nullopt;
    if (r.name.entities.empty() || r.name.entities.front().first != "sub")
        return std::nullopt;
    const fs::path root = above.parent_path();
    if (!fs::is_regular_file(root / "dataset_description.json", ec))
        return std::nullopt;
    r.path = file;
    r.root = root;
    r.relative = emg.lexically_relative(root);
    return r;
}

std::vector<Recording> find_recordings(const fs::path& root, const fs::path& under) {
    std::vector<Recording> found;
    std::error_code ec;
    const fs::path start = fs::weakly_canonical(fs::absolute(under), ec);
    fs::recursive_directory_iterator it(start, fs::directory_options::skip_permission_denied, ec);
    if (ec)
        throw std::invalid_argument(under.string() + ": cannot list (" + ec.message() + ")");
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec)
            throw std::invalid_argument(under.string() + ": cannot list (" + ec.message() + ")");
        const fs::path& p = it->path();
        if (it->is_directory(ec)) {
            const std::string name = p.filename().string();
            if (p.parent_path() == root &&
                (name == "derivatives" || name == "sourcedata" || name == "code"))
                it.disable_recursion_pending();
            continue;
        }
        if (auto r = as_recording(p); r && r->root == root)
            found.push_back(std::move(*r));
    }
    std::sort(found.begin(), found.end(),
              [](const Recording& a, const Recording& b) { return a.path < b.path; });
    if (found.empty())
        throw std::invalid_argument(
            under.string() +
            ": no BIDS-EMG recording (sub-<label>/[ses-<label>/]emg/sub-<label>_..._emg.bdf or "
            ".edf) in this dataset folder");
    return found;
}

// ---- *_emg.json ---------------------------------------------------------------------------------

namespace {

nlohmann::json parse_json(std::string_view text, const std::string& where) {
    try {
        auto j = nlohmann::json::parse(text.begin(), text.end());
        if (!j.is_object())
            throw std::invalid_argument(where + ": not a JSON object");
        return j;
    } catch (const nlohmann::json::parse_error& e) {
        throw std::invalid_argument(where + ": not valid JSON at byte " + std::to_string(e.byte) +
                                    " (" + e.what() + ")");
    } catch (const nlohmann::json::exception& e) {
        // A number beyond a double ("1e6666") is out_of_range, not parse_error (fuzz_bids).
        throw std::invalid_argument(where + ": not valid JSON (" + e.what() + ")");
    }
}

// Every REQUIRED field of *_emg.json in BIDS 1.11 (src/schema/rules/sidecars/emg.yaml,
// EMGRequired and EMGTaskInformation): name and whether its type is right.
bool required_field_ok(const std::string& key, const nlohmann::json& v) {
    if (key == "EMGPlacementScheme")
        return v.is_string() && (v == "ChannelSpecific" || v == "Measured" || v == "Other");
    if (key == "SamplingFrequency")
        return v.is_number() && v.get<double>() > 0.0;
    if (key == "PowerLineFrequency")
        return (v.is_number() && v.get<double>() > 0.0) || (v.is_string() && v == "n/a");
    if (key == "SoftwareFilters")
        return v.is_object() || (v.is_string() && v == "n/a");
    if (key == "RecordingType")
        return v.is_string() && (v == "continuous" || v == "epoched" || v == "discontinuous");
    return v.is_string(); // EMGReference, TaskName
}

const std::vector<std::string> kRequiredEmgFields{
    "EMGPlacementScheme", "EMGReference",    "SamplingFrequency", "PowerLineFrequency",
    "RecordingType",      "SoftwareFilters", "TaskName"};

EmgSidecar read_emg_object(const nlohmann::json& j, const std::string& where) {
    EmgSidecar out;
    for (const auto& key : kRequiredEmgFields) {
        if (!j.contains(key))
            out.warnings.push_back(where + ": REQUIRED field " + key + " is missing");
        else if (!required_field_ok(key, j[key]))
            out.warnings.push_back(where + ": " + key + " " + j[key].dump() +
                                   " is not a valid value (BIDS 1.11)");
    }
    if (j.contains("SamplingFrequency")) {
        const auto& v = j["SamplingFrequency"];
        if (!v.is_number() || !(v.get<double>() > 0.0) || !std::isfinite(v.get<double>()))
            throw std::invalid_argument(where + ": SamplingFrequency " + v.dump() +
                                        " is not a positive number of Hz");
        out.sampling_frequency_hz = v.get<double>();
    }
    if (j.contains("PowerLineFrequency")) {
        const auto& v = j["PowerLineFrequency"];
        if (v.is_string() && v == "n/a") {
        } else if (v.is_number() && v.get<double>() > 0.0 && std::isfinite(v.get<double>())) {
            out.power_line_hz = v.get<double>();
        } else {
            throw std::invalid_argument(where + ": PowerLineFrequency " + v.dump() +
                                        " is not a positive number of Hz or \"n/a\"");
        }
    }
    if (j.contains("TaskName") && j["TaskName"].is_string())
        out.task_name = j["TaskName"].get<std::string>();
    return out;
}

} // namespace

EmgSidecar parse_emg_json(std::string_view text, const std::string& where) {
    return read_emg_object(parse_json(text, where), where);
}

// ---- *_channels.tsv -----------------------------------------------------------------------------

std::vector<ChannelRow> parse_channels_tsv(std::string_view text, const std::string& where) {
    std::vector<std::vector<std::string>> lines;
    std::vector<std::uint32_t> numbers;
    std::uint32_t number = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++number;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (trim(line).empty())
            continue;
        std::vector<std::string> cells;
        for (std::size_t c = 0;;) {
            const auto tab = line.find('\t', c);
            cells.push_back(
                trim(line.substr(c, tab == std::string_view::npos ? line.npos : tab - c)));
            if (tab == std::string_view::npos)
                break;
            c = tab + 1;
        }
        lines.push_back(std::move(cells));
        numbers.push_back(number);
    }
    if (lines.empty())
        throw std::invalid_argument(where + ": empty (a header row is needed)");
    const auto& header = lines.front();
    std::map<std::string, std::size_t> column;
    for (std::size_t c = 0; c < header.size(); ++c) {
        if (header[c].empty())
            throw std::invalid_argument(where + ":" + std::to_string(numbers[0]) + ": column " +
                                        std::to_string(c + 1) + " has no name");
        if (!column.emplace(header[c], c).second)
            throw std::invalid_argument(where + ":" + std::to_string(numbers[0]) + ": column '" +
                                        header[c] + "' appears twice");
    }
    for (const char* required : {"name", "type", "units"})
        if (!column.contains(required))
            throw std::invalid_argument(where + ":" + std::to_string(numbers[0]) + ": no column '" +
                                        required +
                                        "' (BIDS requires name, type and units; tab-separated)");
    std::vector<ChannelRow> rows;
    std::set<std::string> names;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto& cells = lines[i];
        const std::string at = where + ":" + std::to_string(numbers[i]);
        if (cells.size() != header.size())
            throw std::invalid_argument(at + ": " + std::to_string(cells.size()) +
                                        " cells, the header has " + std::to_string(header.size()) +
                                        " (tab-separated)");
        auto cell = [&](const char* name) {
            const auto it = column.find(name);
            return it == column.end() ? std::string() : cells[it->second];
        };
        ChannelRow row;
        row.line = numbers[i];
        row.name = cell("name");
        row.type = cell("type");
        row.units = cell("units");
        row.status = cell("status");
        row.target_muscle = cell("target_muscle");
        row.level = cell("level");
        row.side = cell("side");
        if (row.name.empty() || row.name == "n/a")
            throw std::invalid_argument(at + ": a channel without a name");
        if (!names.insert(row.name).second)
            throw std::invalid_argument(at + ": channel '" + row.name + "' is listed twice");
        const std::string ied = cell("interelectrode_distance");
        if (!ied.empty() && ied != "n/a") {
            double mm = 0.0;
            const auto [p, ec] = std::from_chars(ied.data(), ied.data() + ied.size(), mm);
            if (ec != std::errc() || p != ied.data() + ied.size() || !(mm > 0.0) ||
                !std::isfinite(mm))
                throw std::invalid_argument(at + ": channel '" + row.name +
                                            "': interelectrode_distance '" + ied +
                                            "' is not a positive number of mm");
            row.interelectrode_distance_mm = mm;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// ---- Inheritance --------------------------------------------------------------------------------

Sidecars find_sidecars(const Recording& recording) {
    Sidecars out;
    std::vector<fs::path> folders{recording.root};
    for (const auto& part : recording.relative)
        folders.push_back(folders.back() / part);
    const auto applies = [&](const FileName& n) {
        if (n.entities.empty() && n.suffix.empty())
            return false;
        return std::all_of(n.entities.begin(), n.entities.end(), [&](const auto& kv) {
            return recording.name.entity(kv.first) == kv.second;
        });
    };
    for (const auto& folder : folders) {
        std::optional<fs::path> json, tsv;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(folder, ec)) {
            if (!entry.is_regular_file(ec))
                continue;
            const std::string file = entry.path().filename().string();
            // Top-level files may have no entity at all ("emg.json" is not a sidecar, but
            // "task-x_emg.json" is): parse_file_name needs a key-value before the suffix.
            const FileName n = parse_file_name(file);
            const bool is_json = n.suffix == "emg" && n.extension == ".json";
            const bool is_tsv = n.suffix == "channels" && n.extension == ".tsv";
            if ((!is_json && !is_tsv) || !applies(n))
                continue;
            auto& slot = is_json ? json : tsv;
            if (slot)
                throw std::invalid_argument("BIDS inheritance: both " + slot->string() + " and " +
                                            entry.path().string() + " apply to " +
                                            recording.path.filename().string() +
                                            " at the same level; keep one");
            slot = entry.path();
        }
        if (json)
            out.emg_json.push_back(*json);
        if (tsv)
            out.channels_tsv = *tsv;
    }
    return out;
}

RecordingSidecars read_sidecars(const Recording& recording) {
    RecordingSidecars out;
    out.files = find_sidecars(recording);
    nlohmann::json merged = nlohmann::json::object();
    for (const auto& file : out.files.emg_json) {
        const auto j = parse_json(read_text(file), file.string());
        for (const auto& [key, value] : j.items())
            merged[key] = value;
    }
    if (!out.files.emg_json.empty()) {
        out.emg = read_emg_object(merged, out.files.emg_json.back().string());
    } else {
        out.emg.warnings.push_back(recording.path.string() +
                                   ": no *_emg.json sidecar (BIDS requires one)");
    }
    if (out.files.channels_tsv)
        out.channels = parse_channels_tsv(read_text(*out.files.channels_tsv),
                                          out.files.channels_tsv->string());
    return out;
}

Montage montage_from_channels(const std::vector<ChannelRow>& rows, const fs::path& tsv,
                              const acquisition::SourceInfo& info,
                              std::vector<std::string>& notices) {
    std::map<std::string, const ChannelRow*> by_name;
    for (const auto& row : rows)
        by_name[row.name] = &row;
    std::set<std::string> in_file;
    for (const auto& ch : info.channels)
        in_file.insert(trim(ch.label));
    for (const auto& s : info.skipped)
        in_file.insert(trim(s.label));
    for (const auto& row : rows)
        if (!in_file.contains(row.name)) {
            std::string known;
            for (const auto& ch : info.channels)
                known += (known.empty() ? "'" : ", '") + ch.label + "'";
            throw std::invalid_argument(tsv.string() + ":" + std::to_string(row.line) +
                                        ": channel '" + row.name +
                                        "' is not in the recording (its channels: " + known + ")");
        }
    Montage montage;
    montage.source = tsv.string();
    for (const auto& ch : info.channels) {
        const auto it = by_name.find(trim(ch.label));
        if (it == by_name.end())
            throw std::invalid_argument(tsv.string() + ": no row for the recording's channel '" +
                                        ch.label + "' (BIDS: one row per channel)");
        const ChannelRow& row = *it->second;
        ChannelSite site =
            site_from_fields(ch.label, row.target_muscle, row.level, row.side, tsv, row.line);
        site.inter_electrode_distance_mm = row.interelectrode_distance_mm;
        site.is_emg = row.type == "EMG";
        if (site.is_emg && lower(row.status) == "bad") {
            site.is_emg = false;
            notices.push_back(tsv.string() + ":" + std::to_string(row.line) + ": channel '" +
                              row.name + "' has status bad: left out of the analysis");
        }
        if (site.is_emg && !is_voltage(row.units))
            notices.push_back(tsv.string() + ":" + std::to_string(row.line) + ": channel '" +
                              row.name + "' has units '" + row.units +
                              "', not a voltage; the recording's header gives its unit");
        montage.channels.push_back(std::move(site));
    }
    return montage;
}

void check_sampling_frequency(const EmgSidecar& sidecar, const fs::path& json,
                              const acquisition::SourceInfo& info, const fs::path& recording) {
    if (!sidecar.sampling_frequency_hz)
        return;
    const double a = *sidecar.sampling_frequency_hz, b = info.sample_rate_hz;
    if (std::abs(a - b) > 1e-6 * std::max(a, b))
        throw std::runtime_error(json.string() + ": SamplingFrequency " + number_text(a) +
                                 " Hz, but " + recording.string() + " is sampled at " +
                                 number_text(b) + " Hz");
}

// ---- Writing ------------------------------------------------------------------------------------

std::string emg_json_text(const CaptureSidecar& c) {
    nlohmann::ordered_json j;
    // REQUIRED (src/schema/rules/sidecars/emg.yaml: EMGRequired, EMGTaskInformation)
    j["TaskName"] = c.task;
    j["EMGPlacementScheme"] = "Other";
    j["EMGPlacementSchemeDescription"] = c.placement_description; // required with "Other"
    j["EMGReference"] = c.reference;
    j["SamplingFrequency"] = c.sampling_frequency_hz;
    if (c.power_line_hz)
        j["PowerLineFrequency"] = *c.power_line_hz;
    else
        j["PowerLineFrequency"] = "n/a";
    j["RecordingType"] = "continuous"; // gaps are filled with zeros and annotated, never cut
    j["SoftwareFilters"] = "n/a";      // the raw recording: no filter applied
    // RECOMMENDED that semg knows
    j["EMGChannelCount"] = c.emg_channel_count; // rows of type EMG in channels.tsv
    j["RecordingDuration"] = c.duration_s;
    j["HardwareFilters"] = "n/a";
    if (!c.manufacturer.empty())
        j["Manufacturer"] = c.manufacturer;
    j["SoftwareVersions"] = "semg " + c.software_version;
    j["TaskDescription"] = "recorded by semg capture from a " + c.device +
                           " serial stream; physical range " + number_text(c.range_uv.first) +
                           " to " + number_text(c.range_uv.second) + " uV";
    return j.dump(2) + "\n";
}

std::string channels_tsv_text(const CaptureSidecar& c, const Montage& montage) {
    std::string out = "name\ttype\tunits\tsampling_frequency\ttarget_muscle\tlevel\tside\t"
                      "low_cutoff\thigh_cutoff\tstatus\n";
    for (std::size_t i = 0; i < c.labels.size(); ++i) {
        const ChannelSite* site = i < montage.channels.size() ? &montage.channels[i] : nullptr;
        const bool emg = !site || site->is_emg;
        std::string muscle = site && !site->muscle.empty() ? site->muscle : "n/a";
        std::replace(muscle.begin(), muscle.end(), '_', ' ');
        const std::string level = site && !site->level.empty() ? site->level : "n/a";
        const std::string side = site && (site->side == Side::Left || site->side == Side::Right ||
                                          site->side == Side::Midline)
                                     ? std::string(to_string(site->side))
                                     : "n/a";
        out += c.labels[i] + "\t" + (emg ? "EMG" : "MISC") + "\tuV\t" +
               number_text(c.sampling_frequency_hz) + "\t" + muscle + "\t" + level + "\t" + side +
               "\tn/a\tn/a\tn/a\n";
    }
    return out;
}

std::string channels_json_text() {
    nlohmann::ordered_json j;
    j["level"] = {{"Description", "Vertebral level of the electrode site (T1-T12, L1-L5, S1, or a "
                                  "downward range such as L3-L4); read by semg analyze"}};
    j["side"] = {{"Description", "Side of the body the electrode is on; read by semg analyze to "
                                 "pair left and right channels"},
                 {"Levels",
                  {{"left", "left side"}, {"right", "right side"}, {"midline", "over the spine"}}}};
    return j.dump(2) + "\n";
}

std::string dataset_description_text(const std::string& name) {
    nlohmann::ordered_json j;
    j["Name"] = name;
    j["BIDSVersion"] = std::string(kBidsVersion);
    j["DatasetType"] = "raw";
    return j.dump(2) + "\n";
}

std::string derivative_description_text(const std::string& version,
                                        const std::optional<std::string>& source_url) {
    nlohmann::ordered_json j;
    j["Name"] = "semg: surface-EMG fatigue analysis";
    j["BIDSVersion"] = std::string(kBidsVersion);
    j["DatasetType"] = "derivative";
    j["GeneratedBy"] = nlohmann::ordered_json::array(
        {{{"Name", "semg"},
          {"Version", version},
          {"Description", "per-epoch MDF, MNF, RMS and fatigue fits, left/right asymmetry "
                          "(semg analyze)"}}});
    if (source_url)
        j["SourceDatasets"] = nlohmann::ordered_json::array({{{"URL", *source_url}}});
    return j.dump(2) + "\n";
}

std::string participants_with(std::string_view current, const std::string& subject,
                              const std::string& where) {
    const std::string id = "sub-" + subject;
    if (trim(current).empty())
        return "participant_id\n" + id + "\n";
    std::vector<std::string> lines;
    for (std::size_t pos = 0; pos < current.size();) {
        auto end = current.find('\n', pos);
        if (end == std::string_view::npos)
            end = current.size();
        lines.emplace_back(current.substr(pos, end - pos));
        pos = end + 1;
    }
    const std::string& header = lines.front();
    if (!header.starts_with("participant_id"))
        throw std::invalid_argument(where + ":1: the first column must be participant_id");
    const std::size_t columns =
        static_cast<std::size_t>(std::count(header.begin(), header.end(), '\t')) + 1;
    for (std::size_t i = 1; i < lines.size(); ++i)
        if (lines[i].substr(0, lines[i].find('\t')) == id)
            return std::string(current);
    std::string out(current);
    if (!out.empty() && out.back() != '\n')
        out += '\n';
    out += id;
    for (std::size_t c = 1; c < columns; ++c)
        out += "\tn/a";
    return out + "\n";
}

void check_label(const std::string& value, const std::string& option) {
    if (!is_label(value))
        throw std::invalid_argument(option + " '" + value +
                                    "' is not a BIDS label (letters and digits only)");
}

} // namespace semg::pipeline::bids
