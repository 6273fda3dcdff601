#include "report/report.hpp"

#include "pipeline/output_dir.hpp"
#include "pipeline/version.hpp"
#include "report/assets.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

extern char** environ;

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
    if (!fs::exists(path, ec))
        fail(path, "missing" + missing_hint);
    if (fs::is_directory(path, ec))
        fail(path, "is a folder, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(path, "cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        fail(path, "cannot read");
    return std::move(text).str();
}

// ---- numbers -------------------------------------------------------------------------------

double round_decimals(double v, int decimals) {
    if (!std::isfinite(v))
        return v;
    const double scale = std::pow(10.0, decimals);
    return std::round(v * scale) / scale;
}

double round_significant(double v, int digits) {
    if (!std::isfinite(v) || v == 0.0)
        return v;
    const int decimals = digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(v))));
    if (decimals >= 0)
        return round_decimals(v, decimals);
    const double scale = std::pow(10.0, -decimals);
    return std::round(v / scale) * scale;
}

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Every floating-point number in the summary to 6 significant digits: the page shows at most 4.
void round_summary(json& j) {
    if (j.is_number_float()) {
        j = number(round_significant(j.get<double>(), 6));
    } else if (j.is_structured()) {
        for (auto& item : j)
            round_summary(item);
    }
}

// ---- CSV -----------------------------------------------------------------------------------

// A CSV file read row by row, so that memory does not grow with the file: RFC 4180 fields
// (quotes optional), LF or CRLF line ends; every row as wide as the header.
struct CsvRow {
    const fs::path& path;
    const std::vector<std::string>& header;
    const std::vector<std::string>& fields;
    std::size_t line;

    const std::string& operator[](std::size_t col) const { return fields[col]; }
    // A number, or NaN for an empty field, "nan" or "-" (how semg writes a missing value).
    double value(std::size_t col) const {
        std::string_view text = fields[col];
        while (!text.empty() && text.front() == ' ')
            text.remove_prefix(1);
        while (!text.empty() && text.back() == ' ')
            text.remove_suffix(1);
        if (text.empty() || text == "-")
            return std::nan("");
        if (text.front() == '+')
            text.remove_prefix(1);
        double v = 0.0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size())
            fail_at(path, line,
                    "column '" + header[col] + "': '" + fields[col] + "' is not a number");
        return v;
    }
};

// Calls on_header once with the header, then on_row for each data row; returns the row count.
std::size_t read_csv(const fs::path& path,
                     const std::function<void(const std::vector<std::string>&)>& on_header,
                     const std::function<void(const CsvRow&)>& on_row) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(path, "missing or unreadable");
    std::vector<std::string> header, fields;
    std::string field;
    std::size_t line = 1, row_line = 1, rows = 0;
    bool quoted = false, row_has_content = false;
    auto end_row = [&] {
        fields.push_back(std::move(field));
        field.clear();
        if (row_has_content || fields.size() > 1) {
            if (header.empty()) {
                header = std::move(fields);
                on_header(header);
            } else {
                if (fields.size() != header.size())
                    fail_at(path, row_line,
                            std::to_string(fields.size()) + " fields, the header has " +
                                std::to_string(header.size()));
                on_row(CsvRow{path, header, fields, row_line});
                ++rows;
            }
        }
        fields.clear();
        row_has_content = false;
        row_line = line;
    };
    std::array<char, 1 << 16> buffer{};
    bool pending_cr = false;     // a CR was seen: an LF right after it is the same line end
    bool quote_in_quote = false; // a quote inside a quoted field: doubled, or the field's end
    while (in) {
        in.read(buffer.data(), buffer.size());
        const auto n = static_cast<std::size_t>(in.gcount());
        for (std::size_t i = 0; i < n; ++i) {
            const char c = buffer[i];
            if (pending_cr) {
                pending_cr = false;
                if (c == '\n')
                    continue;
            }
            if (quote_in_quote) {
                quote_in_quote = false;
                if (c == '"') {
                    field += '"';
                    continue;
                }
                quoted = false; // and c is read as outside the quotes
            }
            if (quoted) {
                if (c == '"') {
                    quote_in_quote = true;
                } else {
                    if (c == '\n')
                        ++line;
                    field += c;
                }
            } else if (c == '"') {
                quoted = true;
                row_has_content = true;
            } else if (c == ',') {
                fields.push_back(std::move(field));
                field.clear();
            } else if (c == '\n' || c == '\r') {
                pending_cr = c == '\r';
                ++line;
                end_row();
            } else {
                field += c;
                row_has_content = true;
            }
        }
    }
    if (quote_in_quote)
        quoted = false;
    if (quoted)
        fail_at(path, row_line, "unterminated quoted field");
    end_row();
    if (header.empty())
        fail(path, "empty file (no header line)");
    return rows;
}

std::size_t column(const fs::path& path, const std::vector<std::string>& header,
                   const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
        std::string names;
        for (const auto& h : header)
            names += (names.empty() ? "" : ",") + h;
        fail(path, "no column '" + name + "' (the header is: " + names + ")");
    }
    return static_cast<std::size_t>(it - header.begin());
}

std::optional<std::size_t> optional_column(const std::vector<std::string>& header,
                                           const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end())
        return std::nullopt;
    return static_cast<std::size_t>(it - header.begin());
}

// Charts keep at most this many points per series: a longer recording is shown every k-th
// epoch (the page says so), which keeps the page light and this process's memory flat.
constexpr std::size_t kMaxPointsPerSeries = 1200;

std::size_t stride_for(const json& summary) {
    const auto epochs = summary.contains("epochs") && summary["epochs"].is_number_unsigned()
                            ? summary["epochs"].get<std::size_t>()
                            : 0;
    return std::max<std::size_t>(1, (epochs + kMaxPointsPerSeries - 1) / kMaxPointsPerSeries);
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
    if (!summary.is_object())
        fail(path, "not a semg summary (expected a JSON object)");
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
    std::size_t epochs = 0;                   // rows in the file
    std::size_t flagged = 0;                  // of those, not ok
    std::map<std::string, std::size_t> flags; // epochs carrying each flag, over every row
};

json read_epochs(const fs::path& dir, const json& summary) {
    const auto path = dir / "epochs.csv";
    const std::size_t stride = stride_for(summary);
    std::size_t c_start = 0, c_end = 0, c_channel = 0, c_mdf = 0, c_mnf = 0, c_rms = 0,
                c_quality = 0;
    std::optional<std::size_t> c_mvc;

    // Channels in the summary's order, then any only the table knows.
    std::vector<ChannelColumns> channels;
    std::map<std::string, std::size_t> index;
    auto channel = [&](const std::string& label) -> ChannelColumns& {
        auto [it, added] = index.emplace(label, channels.size());
        if (added) {
            channels.emplace_back();
            channels.back().label = label;
        }
        return channels[it->second];
    };
    for (const auto& ch : summary["channels"])
        channel(ch["label"].get<std::string>());

    std::vector<std::string> quality_names{"ok"};
    std::map<std::string, std::size_t> quality_index{{"ok", 0}};
    const std::size_t rows = read_csv(
        path,
        [&](const std::vector<std::string>& header) {
            c_start = column(path, header, "t_start_s");
            c_end = column(path, header, "t_end_s");
            c_channel = column(path, header, "channel");
            c_mdf = column(path, header, "mdf_hz");
            c_mnf = column(path, header, "mnf_hz");
            c_rms = column(path, header, "rms_uv");
            c_quality = column(path, header, "quality");
            c_mvc = optional_column(header, "rms_pct_mvc");
        },
        [&](const CsvRow& row) {
            const auto& label = row[c_channel];
            if (label.empty())
                fail_at(path, row.line, "empty channel label");
            auto& ch = channel(label);
            const double start = row.value(c_start);
            const double end = row.value(c_end);
            if (!std::isfinite(start) || !std::isfinite(end))
                fail_at(path, row.line, "epoch without a start or end time");
            std::string quality = row[c_quality];
            if (quality.empty())
                quality = "ok";
            if (quality != "ok") {
                ++ch.flagged;
                std::size_t from = 0;
                while (from <= quality.size()) {
                    const auto bar = std::min(quality.find('|', from), quality.size());
                    if (bar > from)
                        ++ch.flags[quality.substr(from, bar - from)];
                    from = bar + 1;
                }
            }
            if (ch.epochs++ % stride != 0)
                return;
            ch.t.push_back(round_decimals(0.5 * (start + end), 3));
            ch.mdf.push_back(number(round_decimals(row.value(c_mdf), 2)));
            ch.mnf.push_back(number(round_decimals(row.value(c_mnf), 2)));
            ch.rms.push_back(number(round_significant(row.value(c_rms), 4)));
            if (c_mvc) {
                const double pct = row.value(*c_mvc);
                ch.has_mvc = ch.has_mvc || std::isfinite(pct);
                ch.rms_pct_mvc.push_back(number(round_significant(pct, 4)));
            }
            auto [it, added] = quality_index.emplace(quality, quality_names.size());
            if (added)
                quality_names.push_back(quality);
            ch.q.push_back(it->second);
        });
    if (rows == 0)
        fail(path, "no epochs (only a header)");

    json out_channels = json::array();
    for (auto& ch : channels) {
        json j{{"label", ch.label},        {"t", std::move(ch.t)},     {"mdf", std::move(ch.mdf)},
               {"mnf", std::move(ch.mnf)}, {"rms", std::move(ch.rms)}, {"q", std::move(ch.q)},
               {"epochs", ch.epochs},      {"flagged", ch.flagged},    {"flag_counts", ch.flags}};
        if (ch.has_mvc)
            j["rms_pct_mvc"] = std::move(ch.rms_pct_mvc);
        out_channels.push_back(std::move(j));
    }
    return {{"rows", rows},
            {"stride", stride},
            {"quality_names", quality_names},
            {"channels", std::move(out_channels)}};
}

json read_pairs(const fs::path& dir, const json& summary) {
    const auto path = dir / "pairs.csv";
    const std::size_t listed = summary.contains("pairs") ? summary["pairs"].size() : 0;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        if (listed == 0)
            return json::array();
        fail(path, "missing (summary.json lists " + std::to_string(listed) + " bilateral pairs)");
    }
    const std::size_t stride = stride_for(summary);
    std::size_t c_start = 0, c_end = 0, c_left = 0, c_right = 0, c_ai = 0;
    std::optional<std::size_t> c_lr, c_muscle, c_level;

    std::vector<json> pairs;
    std::vector<std::size_t> seen;
    std::map<std::pair<std::string, std::string>, std::size_t> index;
    auto pair = [&](const std::string& left, const std::string& right) -> std::size_t {
        auto [it, added] = index.emplace(std::pair{left, right}, pairs.size());
        if (added) {
            pairs.push_back({{"left", left},
                             {"right", right},
                             {"muscle", ""},
                             {"level", ""},
                             {"t", json::array()},
                             {"ai", json::array()},
                             {"lr", json::array()}});
            seen.push_back(0);
        }
        return it->second;
    };
    if (summary.contains("pairs"))
        for (const auto& p : summary["pairs"]) {
            if (!p.is_object() || !p.contains("left") || !p.contains("right") ||
                !p["left"].is_string() || !p["right"].is_string())
                fail(dir / "summary.json", R"(a pair without "left" and "right" labels)");
            auto& j = pairs[pair(p["left"].get<std::string>(), p["right"].get<std::string>())];
            j["muscle"] = p.value("muscle", "");
            j["level"] = p.value("level", "");
        }
    const std::size_t rows = read_csv(
        path,
        [&](const std::vector<std::string>& header) {
            c_start = column(path, header, "t_start_s");
            c_end = column(path, header, "t_end_s");
            c_left = column(path, header, "left");
            c_right = column(path, header, "right");
            c_ai = column(path, header, "ai_pct");
            c_lr = optional_column(header, "lr_ratio");
            c_muscle = optional_column(header, "muscle");
            c_level = optional_column(header, "level");
        },
        [&](const CsvRow& row) {
            const std::size_t p = pair(row[c_left], row[c_right]);
            auto& j = pairs[p];
            const double start = row.value(c_start);
            const double end = row.value(c_end);
            if (!std::isfinite(start) || !std::isfinite(end))
                fail_at(path, row.line, "epoch without a start or end time");
            if (c_muscle && j["muscle"] == "")
                j["muscle"] = row[*c_muscle];
            if (c_level && j["level"] == "")
                j["level"] = row[*c_level];
            if (seen[p]++ % stride != 0)
                return;
            j["t"].push_back(round_decimals(0.5 * (start + end), 3));
            j["ai"].push_back(number(round_decimals(row.value(c_ai), 2)));
            j["lr"].push_back(c_lr ? number(round_significant(row.value(*c_lr), 4))
                                   : json(nullptr));
        });
    if (rows == 0 && listed > 0)
        fail(path, "no epochs (only a header)");
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
            const bool match =
                word.size() == tag.size() &&
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
        if (c == '<')
            out += "\\u003c";
        else
            out += c;
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
    const std::string what = data.contains("live") ? "semg capture (live)" : "semg report";
    return name.empty() ? what : what + ": " + name;
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

namespace {

// Replaces each {{name}} of a page template by parts[name], in one pass: replaced text is never
// searched again. An unclosed or unknown placeholder is a bug of the template.
std::string fill_template(std::string_view page,
                          const std::map<std::string_view, std::string>& parts,
                          std::string_view what) {
    std::string out;
    std::size_t size = page.size();
    for (const auto& [name, text] : parts)
        size += text.size();
    out.reserve(size);
    std::size_t at = 0;
    while (true) {
        const auto open = page.find("{{", at);
        if (open == std::string_view::npos)
            break;
        const auto close = page.find("}}", open);
        if (close == std::string_view::npos)
            throw std::logic_error(std::string(what) + " template: unclosed {{");
        const auto name = page.substr(open + 2, close - open - 2);
        const auto part = parts.find(name);
        if (part == parts.end())
            throw std::logic_error(std::string(what) + " template: unknown {{" + std::string(name) +
                                   "}}");
        out.append(page.substr(at, open - at));
        out.append(part->second);
        at = close + 2;
    }
    out.append(page.substr(at));
    return out;
}

} // namespace

std::string render_report_html(const json& data) {
    const std::map<std::string_view, std::string> parts{
        {"title", html_escape(page_title(data))},
        // Only the dashboard's page connects, and only to where it came from.
        {"connect_src", data.contains("live") ? "connect-src 'self'" : "connect-src 'none'"},
        {"uplot_css", inline_safe(assets::uplot_css(), "style")},
        {"report_css", inline_safe(assets::report_css(), "style")},
        {"data", json_for_script(data)},
        {"uplot_js", inline_safe(assets::uplot_js(), "script")},
        {"report_js", inline_safe(assets::report_js(), "script")},
        {"uplot_license", html_comment(assets::uplot_license())},
    };
    return fill_template(assets::page_template(), parts, "report");
}

std::string render_live_html(const json& header) {
    json summary = header;
    round_summary(summary);
    return render_report_html(
        {{"format", data_format},
         {"generator", {{"name", "semg capture"}, {"version", SEMG_VERSION}}},
         {"summary", std::move(summary)},
         {"epochs",
          {{"rows", 0}, {"stride", 1}, {"quality_names", {"ok"}}, {"channels", json::array()}}},
         {"pairs", json::array()},
         {"live", {{"socket", "/ws"}, {"max_points", kMaxPointsPerSeries}}}});
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

std::optional<fs::path> find_chromium() {
    std::vector<std::string> names;
    if (const char* env = std::getenv("CHROMIUM"); env && *env)
        names.emplace_back(env);
    for (const char* n : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"})
        names.emplace_back(n);
    const char* path_env = std::getenv("PATH");
    const std::string path = path_env ? path_env : "/usr/bin:/bin";
    for (const auto& name : names) {
        if (name.find('/') != std::string::npos) {
            if (::access(name.c_str(), X_OK) == 0)
                return fs::path(name);
            continue;
        }
        std::size_t start = 0;
        while (start <= path.size()) {
            const std::size_t end = std::min(path.find(':', start), path.size());
            const fs::path candidate = fs::path(path.substr(start, end - start)) / name;
            if (end > start && ::access(candidate.c_str(), X_OK) == 0)
                return candidate;
            start = end + 1;
        }
    }
    return std::nullopt;
}

fs::path require_chromium() {
    if (auto chromium = find_chromium())
        return *chromium;
    throw std::runtime_error(
        "--pdf needs Chromium to print report.html, and none was found (looked for "
        "$CHROMIUM, chromium, chromium-browser, google-chrome on PATH; Debian: apt-get "
        "install chromium)");
}

namespace {

// Removes a folder tree on scope exit (Chromium's temporary profile).
struct RemoveTree {
    fs::path dir;
    ~RemoveTree() {
        std::error_code ec;
        if (!dir.empty())
            fs::remove_all(dir, ec);
    }
};

} // namespace

fs::path print_report_pdf(const fs::path& result_dir, double timeout_s) {
    const fs::path html = fs::absolute(result_dir / "report.html");
    std::error_code ec;
    if (!fs::is_regular_file(html, ec))
        fail(html, "missing: nothing to print (run `semg report` first)");
    const auto chromium = require_chromium();
    std::string profile_template = (fs::temp_directory_path() / "semg-pdf-XXXXXX").string();
    if (!::mkdtemp(profile_template.data()))
        throw std::runtime_error("--pdf: cannot make a temporary folder");
    RemoveTree profile{profile_template};
    const fs::path pdf = fs::absolute(result_dir / "report.pdf");
    const fs::path temp = pdf.parent_path() / (".report.pdf.tmp-" + std::to_string(::getpid()));
    const fs::path log = profile.dir / "chromium.log";
    std::vector<std::string> args = {chromium.string(),
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-dev-shm-usage",
                                     "--no-first-run",
                                     "--no-default-browser-check",
                                     "--disable-extensions",
                                     "--disable-background-networking",
                                     "--user-data-dir=" + (profile.dir / "profile").string(),
                                     "--no-pdf-header-footer",
                                     "--run-all-compositor-stages-before-draw",
                                     "--virtual-time-budget=10000",
                                     "--print-to-pdf=" + temp.string(),
                                     "file://" + html.string()};
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int spawned = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0)
        throw std::runtime_error("--pdf: cannot start " + chromium.string());
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    int status = 0;
    bool timed_out = false;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto cleanup = [&] { fs::remove(temp, ec); };
    std::string head;
    {
        std::ifstream in(temp, std::ios::binary);
        head.resize(4);
        if (!in.read(head.data(), 4))
            head.clear();
    }
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || head != "%PDF") {
        std::string said;
        {
            std::ifstream in(log);
            std::ostringstream text;
            text << in.rdbuf();
            said = text.str();
            if (said.size() > 600)
                said = "..." + said.substr(said.size() - 600);
        }
        cleanup();
        throw std::runtime_error(pdf.string() + ": " + chromium.string() +
                                 (timed_out ? " did not finish within " +
                                                  std::to_string(static_cast<int>(timeout_s)) + " s"
                                            : " wrote no PDF") +
                                 (said.empty() ? std::string() : " (it said: " + said + ")"));
    }
    fs::rename(temp, pdf, ec);
    if (ec) {
        cleanup();
        throw std::runtime_error(pdf.string() + ": cannot rename into place: " + ec.message());
    }
    return pdf;
}

std::string render_history_html(const json& data) {
    const std::map<std::string_view, std::string> parts{
        {"title", html_escape("semg history: " + data.value("subject", std::string()))},
        {"uplot_css", inline_safe(assets::uplot_css(), "style")},
        {"history_css", inline_safe(assets::history_css(), "style")},
        {"data", json_for_script(data)},
        {"uplot_js", inline_safe(assets::uplot_js(), "script")},
        {"history_js", inline_safe(assets::history_js(), "script")},
        {"uplot_license", html_comment(assets::uplot_license())},
    };
    return fill_template(assets::history_template(), parts, "history");
}

} // namespace semg::report
