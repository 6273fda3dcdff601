#include "report/report.hpp"

#include "pipeline/output_dir.hpp"
#include "report/assets.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace semg::report {
namespace {

namespace fs = std::filesystem;
// Ordered: the page lists settings in the order summary.json has them.
using json = nlohmann::ordered_json;

constexpr int data_format = 1;

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
    throw std::runtime_error(path.string() + ": " + what);
}

[[noreturn]] void fail_at(const fs::path& path, std::size_t line, const std::string& what) {
    throw std::runtime_error(path.string() + ":" + std::to_string(line) + ": " + what);
}

std::string read_text(const fs::path& path, const std::string& missing_hint) {
    std::error_code ec;
    if (!fs::exists(path, ec)) fail(path, "missing" + missing_hint);
    if (fs::is_directory(path, ec)) fail(path, "is a folder, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) fail(path, "cannot read");
    return std::move(text).str();
}

// ---- numbers -------------------------------------------------------------------------------

double round_decimals(double v, int decimals) {
    if (!std::isfinite(v)) return v;
    const double scale = std::pow(10.0, decimals);
    return std::round(v * scale) / scale;
}

double round_significant(double v, int digits) {
    if (!std::isfinite(v) || v == 0.0) return v;
    const int decimals = digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(v))));
    if (decimals >= 0) return round_decimals(v, decimals);
    const double scale = std::pow(10.0, -decimals);
    return std::round(v / scale) * scale;
}

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Every floating-point number in the summary to 6 significant digits: the page shows at most 4.
void round_summary(json& j) {
    if (j.is_number_float()) {
        j = number(round_significant(j.get<double>(), 6));
    } else if (j.is_structured()) {
        for (auto& item : j) round_summary(item);
    }
}

// ---- CSV -----------------------------------------------------------------------------------

struct Csv {
    fs::path path;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::size_t> lines; // file line of each row, for messages
};

// RFC 4180 fields (quotes optional), LF or CRLF line ends; every row as wide as the header.
Csv parse_csv(const fs::path& path, const std::string& text) {
    Csv csv{path, {}, {}, {}};
    std::vector<std::string> fields;
    std::string field;
    std::size_t line = 1;
    std::size_t row_line = 1;
    bool quoted = false;
    bool row_has_content = false;
    auto end_row = [&] {
        fields.push_back(std::move(field));
        field.clear();
        if (row_has_content || fields.size() > 1) {
            if (csv.header.empty()) {
                csv.header = std::move(fields);
            } else {
                if (fields.size() != csv.header.size())
                    fail_at(path, row_line, std::to_string(fields.size()) + " fields, the header has " +
                                                std::to_string(csv.header.size()));
                csv.rows.push_back(std::move(fields));
                csv.lines.push_back(row_line);
            }
        }
        fields.clear();
        row_has_content = false;
        row_line = line;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                if (c == '\n') ++line;
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
            row_has_content = true;
        } else if (c == ',') {
            fields.push_back(std::move(field));
            field.clear();
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            ++line;
            end_row();
        } else {
            field += c;
            row_has_content = true;
        }
    }
    if (quoted) fail_at(path, row_line, "unterminated quoted field");
    end_row();
    if (csv.header.empty()) fail(path, "empty file (no header line)");
    return csv;
}

std::size_t column(const Csv& csv, const std::string& name) {
    const auto it = std::find(csv.header.begin(), csv.header.end(), name);
    if (it == csv.header.end()) {
        std::string names;
        for (const auto& h : csv.header) names += (names.empty() ? "" : ",") + h;
        fail(csv.path, "no column '" + name + "' (the header is: " + names + ")");
    }
    return static_cast<std::size_t>(it - csv.header.begin());
}

std::optional<std::size_t> optional_column(const Csv& csv, const std::string& name) {
    const auto it = std::find(csv.header.begin(), csv.header.end(), name);
    if (it == csv.header.end()) return std::nullopt;
    return static_cast<std::size_t>(it - csv.header.begin());
}

// A number, or NaN for an empty field, "nan" or "-" (how semg writes a missing value).
double value(const Csv& csv, std::size_t row, std::size_t col) {
    std::string_view text = csv.rows[row][col];
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (text.empty() || text == "-") return std::nan("");
    if (text.front() == '+') text.remove_prefix(1);
    double v = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        fail_at(csv.path, csv.lines[row],
                "column '" + csv.header[col] + "': '" + csv.rows[row][col] + "' is not a number");
    return v;
}

// ---- the data ------------------------------------------------------------------------------

json read_summary(const fs::path& dir) {
    const auto path = dir / "summary.json";
    const auto text = read_text(path, " (not a result folder of `semg analyze`?)");
    json summary;
    try {
        summary = json::parse(text);
    } catch (const json::parse_error& e) {
        fail(path, std::string("not valid JSON (") + e.what() + ")");
    }
    if (!summary.is_object()) fail(path, "not a semg summary (expected a JSON object)");
    if (!summary.contains("channels") || !summary["channels"].is_array())
        fail(path, "not a semg summary (no \"channels\" list)");
    for (const auto& ch : summary["channels"])
        if (!ch.is_object() || !ch.contains("label") || !ch["label"].is_string())
            fail(path, "a channel without a \"label\"");
    if (summary.contains("pairs") && !summary["pairs"].is_array())
        fail(path, "\"pairs\" is not a list");
    round_summary(summary);
    return summary;
}

struct ChannelColumns {
    std::string label;
    json t = json::array(), mdf = json::array(), mnf = json::array(), rms = json::array(),
         rms_pct_mvc = json::array(), q = json::array();
    bool has_mvc = false;
};

json read_epochs(const fs::path& dir, const json& summary) {
    const auto path = dir / "epochs.csv";
    const Csv csv = parse_csv(path, read_text(path, ""));
    if (csv.rows.empty()) fail(path, "no epochs (only a header)");
    const auto c_start = column(csv, "t_start_s");
    const auto c_end = column(csv, "t_end_s");
    const auto c_channel = column(csv, "channel");
    const auto c_mdf = column(csv, "mdf_hz");
    const auto c_mnf = column(csv, "mnf_hz");
    const auto c_rms = column(csv, "rms_uv");
    const auto c_quality = column(csv, "quality");
    const auto c_mvc = optional_column(csv, "rms_pct_mvc");

    // Channels in the summary's order, then any only the table knows.
    std::vector<ChannelColumns> channels;
    std::map<std::string, std::size_t> index;
    auto channel = [&](const std::string& label) -> ChannelColumns& {
        auto [it, added] = index.emplace(label, channels.size());
        if (added) channels.push_back({label});
        return channels[it->second];
    };
    for (const auto& ch : summary["channels"]) channel(ch["label"].get<std::string>());

    std::vector<std::string> quality_names{"ok"};
    std::map<std::string, std::size_t> quality_index{{"ok", 0}};
    for (std::size_t r = 0; r < csv.rows.size(); ++r) {
        const auto& label = csv.rows[r][c_channel];
        if (label.empty()) fail_at(path, csv.lines[r], "empty channel label");
        auto& ch = channel(label);
        const double start = value(csv, r, c_start);
        const double end = value(csv, r, c_end);
        if (!std::isfinite(start) || !std::isfinite(end))
            fail_at(path, csv.lines[r], "epoch without a start or end time");
        ch.t.push_back(round_decimals(0.5 * (start + end), 3));
        ch.mdf.push_back(number(round_decimals(value(csv, r, c_mdf), 2)));
        ch.mnf.push_back(number(round_decimals(value(csv, r, c_mnf), 2)));
        ch.rms.push_back(number(round_significant(value(csv, r, c_rms), 4)));
        if (c_mvc) {
            const double pct = value(csv, r, *c_mvc);
            ch.has_mvc = ch.has_mvc || std::isfinite(pct);
            ch.rms_pct_mvc.push_back(number(round_significant(pct, 4)));
        }
        std::string quality = csv.rows[r][c_quality];
        if (quality.empty()) quality = "ok";
        auto [it, added] = quality_index.emplace(quality, quality_names.size());
        if (added) quality_names.push_back(quality);
        ch.q.push_back(it->second);
    }

    json out_channels = json::array();
    for (auto& ch : channels) {
        json j{{"label", ch.label}, {"t", std::move(ch.t)}, {"mdf", std::move(ch.mdf)},
               {"mnf", std::move(ch.mnf)}, {"rms", std::move(ch.rms)}, {"q", std::move(ch.q)}};
        if (ch.has_mvc) j["rms_pct_mvc"] = std::move(ch.rms_pct_mvc);
        out_channels.push_back(std::move(j));
    }
    return {{"rows", csv.rows.size()},
            {"quality_names", quality_names},
            {"channels", std::move(out_channels)}};
}

json read_pairs(const fs::path& dir, const json& summary) {
    const auto path = dir / "pairs.csv";
    const std::size_t listed = summary.contains("pairs") ? summary["pairs"].size() : 0;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        if (listed == 0) return json::array();
        fail(path, "missing (summary.json lists " + std::to_string(listed) + " bilateral pairs)");
    }
    const Csv csv = parse_csv(path, read_text(path, ""));
    const auto c_start = column(csv, "t_start_s");
    const auto c_end = column(csv, "t_end_s");
    const auto c_left = column(csv, "left");
    const auto c_right = column(csv, "right");
    const auto c_ai = column(csv, "ai_pct");
    const auto c_lr = optional_column(csv, "lr_ratio");
    const auto c_muscle = optional_column(csv, "muscle");
    const auto c_level = optional_column(csv, "level");

    std::vector<json> pairs;
    std::map<std::pair<std::string, std::string>, std::size_t> index;
    auto pair = [&](const std::string& left, const std::string& right) -> json& {
        auto [it, added] = index.emplace(std::pair{left, right}, pairs.size());
        if (added)
            pairs.push_back({{"left", left}, {"right", right}, {"muscle", ""}, {"level", ""},
                             {"t", json::array()}, {"ai", json::array()}, {"lr", json::array()}});
        return pairs[it->second];
    };
    if (summary.contains("pairs"))
        for (const auto& p : summary["pairs"]) {
            if (!p.is_object() || !p.contains("left") || !p.contains("right") || !p["left"].is_string() ||
                !p["right"].is_string())
                fail(dir / "summary.json", R"(a pair without "left" and "right" labels)");
            auto& j = pair(p["left"].get<std::string>(), p["right"].get<std::string>());
            j["muscle"] = p.value("muscle", "");
            j["level"] = p.value("level", "");
        }
    for (std::size_t r = 0; r < csv.rows.size(); ++r) {
        auto& j = pair(csv.rows[r][c_left], csv.rows[r][c_right]);
        const double start = value(csv, r, c_start);
        const double end = value(csv, r, c_end);
        if (!std::isfinite(start) || !std::isfinite(end))
            fail_at(path, csv.lines[r], "epoch without a start or end time");
        j["t"].push_back(round_decimals(0.5 * (start + end), 3));
        j["ai"].push_back(number(round_decimals(value(csv, r, c_ai), 2)));
        j["lr"].push_back(c_lr ? number(round_significant(value(csv, r, *c_lr), 4)) : json(nullptr));
        if (c_muscle && j["muscle"] == "") j["muscle"] = csv.rows[r][*c_muscle];
        if (c_level && j["level"] == "") j["level"] = csv.rows[r][*c_level];
    }
    if (csv.rows.empty() && listed > 0) fail(path, "no epochs (only a header)");
    return pairs;
}

// ---- the page ------------------------------------------------------------------------------

std::string html_escape(std::string_view text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

// Text inside <script> or <style> must not close the element early: "</script" becomes
// "<\/script" (the same string to JavaScript, the same token to CSS).
std::string inline_safe(std::string_view text, std::string_view tag) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
            const auto word = text.substr(i + 2, tag.size());
            const bool match = word.size() == tag.size() &&
                std::equal(word.begin(), word.end(), tag.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == b;
                });
            if (match) {
                out += "<\\/";
                ++i;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// JSON inside <script type="application/json">: '<' only occurs within strings, where \u003c
// is the same character, so no "</script>" or "<!--" can appear.
std::string json_for_script(const json& data) {
    const std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '<') out += "\\u003c";
        else out += c;
    }
    return out;
}

std::string html_comment(std::string_view text) {
    std::string out(text);
    for (std::size_t at = out.find("--"); at != std::string::npos; at = out.find("--", at))
        out.replace(at, 2, "- ");
    return out;
}

std::string page_title(const json& data) {
    std::string name;
    if (data.contains("summary") && data["summary"].contains("input")) {
        const auto& input = data["summary"]["input"];
        if (input.is_object() && input.contains("path") && input["path"].is_string())
            name = fs::path(input["path"].get<std::string>()).filename().string();
    }
    return name.empty() ? "semg report" : "semg report: " + name;
}

} // namespace

json load_report_data(const fs::path& result_dir) {
    std::error_code ec;
    if (!fs::is_directory(result_dir, ec))
        fail(result_dir, fs::exists(result_dir, ec) ? "not a folder" : "no such folder");
    json summary = read_summary(result_dir);
    json epochs = read_epochs(result_dir, summary);
    json pairs = read_pairs(result_dir, summary);
    return {{"format", data_format},
            {"generator", {{"name", "semg report"}, {"version", SEMG_VERSION}}},
            {"summary", std::move(summary)},
            {"epochs", std::move(epochs)},
            {"pairs", std::move(pairs)}};
}

std::string render_report_html(const json& data) {
    const std::map<std::string_view, std::string> parts{
        {"title", html_escape(page_title(data))},
        {"uplot_css", inline_safe(assets::uplot_css(), "style")},
        {"report_css", inline_safe(assets::report_css(), "style")},
        {"data", json_for_script(data)},
        {"uplot_js", inline_safe(assets::uplot_js(), "script")},
        {"report_js", inline_safe(assets::report_js(), "script")},
        {"uplot_license", html_comment(assets::uplot_license())},
    };
    // One pass over the template: replaced text is never searched again.
    const std::string_view page = assets::page_template();
    std::string out;
    std::size_t size = page.size();
    for (const auto& [name, text] : parts) size += text.size();
    out.reserve(size);
    std::size_t at = 0;
    while (true) {
        const auto open = page.find("{{", at);
        if (open == std::string_view::npos) break;
        const auto close = page.find("}}", open);
        if (close == std::string_view::npos) throw std::logic_error("report template: unclosed {{");
        const auto name = page.substr(open + 2, close - open - 2);
        const auto part = parts.find(name);
        if (part == parts.end())
            throw std::logic_error("report template: unknown {{" + std::string(name) + "}}");
        out.append(page.substr(at, open - at));
        out.append(part->second);
        at = close + 2;
    }
    out.append(page.substr(at));
    return out;
}

std::string render_report(const fs::path& result_dir) {
    return render_report_html(load_report_data(result_dir));
}

fs::path write_report(const fs::path& result_dir) {
    const std::string page = render_report(result_dir);
    auto path = result_dir / "report.html";
    pipeline::write_file_atomically(path, page);
    return path;
}

} // namespace semg::report
