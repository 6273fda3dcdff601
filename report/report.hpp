// report.html: one self-contained page that shows a result folder as pictures. Per channel MDF
// and MNF over time with their regression lines, RMS over time, flagged epochs marked; per
// bilateral pair left and right MDF on one chart and the asymmetry index with its threshold
// band; a JASA chart; tables of fits, imbalance, channel quality and every setting (ISEK).
//
// The page embeds its data as JSON, its script and style, and the chart library (uPlot, pinned
// in report/web/package-lock.json): it loads nothing and opens offline in any browser. Its
// script is report/web/report.js; the layout of the embedded data is in docs/report.md.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace semg::report {

// What the page draws, read from a result folder: summary.json, epochs.csv and, when the summary
// lists bilateral pairs, pairs.csv. CSV columns are found by name; extra columns are ignored.
// Numbers are rounded to what a chart or table shows (times to 1 ms, frequencies to 0.01 Hz,
// amplitudes to 4 significant digits), NaN becomes null; summary.json keeps its key order.
// Throws std::runtime_error naming the file (and line) for a missing or malformed file.
nlohmann::ordered_json load_report_data(const std::filesystem::path& result_dir);

// The complete page for data from load_report_data().
std::string render_report_html(const nlohmann::ordered_json& data);

// The page of `semg capture --dashboard`: the same template, script, style and chart library,
// drawn from `header` (the capture's summary before any epoch: input, settings, channels,
// pairs) with no epochs; in the browser it opens the dashboard's WebSocket (/ws) and adds each
// epoch as it comes (docs/report.md, "Live use").
std::string render_live_html(const nlohmann::ordered_json& header);

// load_report_data() and render_report_html().
std::string render_report(const std::filesystem::path& result_dir);

// Writes result_dir/report.html atomically (temporary file in the folder, then rename): an
// existing report survives any failure. Returns the path written.
std::filesystem::path write_report(const std::filesystem::path& result_dir);

// The Chromium that --pdf uses: $CHROMIUM, else chromium, chromium-browser, google-chrome or
// google-chrome-stable on PATH. require_chromium() throws std::runtime_error saying what to
// install when there is none (commands call it before any work, not after).
std::optional<std::filesystem::path> find_chromium();
std::filesystem::path require_chromium();

// Prints result_dir/report.html to result_dir/report.pdf through headless Chromium
// (`chromium --headless --print-to-pdf`, its own temporary profile, network requests refused by
// the page's policy). The executable is $CHROMIUM, else chromium, chromium-browser,
// google-chrome or google-chrome-stable on PATH. Written under a temporary name and renamed
// once it is a PDF (starts with %PDF). Throws std::runtime_error naming what is missing (no
// report.html, no Chromium) or what Chromium said, and after `timeout_s`. Returns the path.
std::filesystem::path print_report_pdf(const std::filesystem::path& result_dir,
                                       double timeout_s = 120.0);

// history.html of `semg history` (docs/history.md): the same chart library, its own template,
// script and style (report/web/history.*), the data of pipeline::history::to_json embedded.
std::string render_history_html(const nlohmann::ordered_json& data);

} // namespace semg::report
