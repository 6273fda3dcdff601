// The files report.html is made of, embedded at build time (report/CMakeLists.txt generates
// web_assets.cpp): the page template, its script and style from report/web, and the chart
// library uPlot with its licence from npm (pinned in report/web/package-lock.json).
#pragma once

#include <string_view>

namespace semg::report::assets {

std::string_view page_template();    // report/web/report.html
std::string_view report_js();        // report/web/report.js
std::string_view report_css();       // report/web/report.css
std::string_view uplot_js();         // uplot/dist/uPlot.iife.min.js
std::string_view uplot_css();        // uplot/dist/uPlot.min.css
std::string_view uplot_license();    // uplot/LICENSE (MIT)
std::string_view history_template(); // report/web/history.html (`semg history`)
std::string_view history_js();       // report/web/history.js
std::string_view history_css();      // report/web/history.css

} // namespace semg::report::assets
