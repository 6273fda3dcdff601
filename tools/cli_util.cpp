#include "tools/cli_util.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace semg::tools {
namespace {

double parse_number(const std::string& text, const std::string& option) {
    double v = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        throw std::invalid_argument(option + ": '" + text + "' is not a number");
    return v;
}

spdlog::logger& logger() {
    static auto log = [] {
        auto l = spdlog::stderr_color_st("semg");
        l->set_pattern("semg: %^%l%$: %v");
        return l;
    }();
    return *log;
}

} // namespace

std::pair<double, double> parse_range(const std::string& text, const std::string& option) {
    const auto colon = text.find(':');
    if (colon == std::string::npos)
        throw std::invalid_argument(option + " must be START:END, got '" + text + "'");
    const double a = parse_number(text.substr(0, colon), option);
    const double b = parse_number(text.substr(colon + 1), option);
    if (!(b > a)) throw std::invalid_argument(option + " must have START < END, got '" + text + "'");
    return {a, b};
}

double parse_mains(const std::string& text) {
    if (text == "off" || text == "none") return 0.0;
    if (text == "50") return 50.0;
    if (text == "60") return 60.0;
    throw std::invalid_argument("--mains must be 50, 60 or off, got '" + text + "'");
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        const auto comma = text.find(',', start);
        items.push_back(text.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

void log_notice(const std::string& message) { logger().info(message); }
void log_warning(const std::string& message) { logger().warn(message); }

Progress::Progress(std::string name, std::uint64_t total)
    : name_(std::move(name)), total_(total), enabled_(total > 0 && ::isatty(STDERR_FILENO) == 1) {}

void Progress::update(std::uint64_t done) {
    if (!enabled_) return;
    const int pct = static_cast<int>(100 * done / total_);
    if (pct == shown_) return;
    shown_ = pct;
    const int bar = pct / 4;
    std::fprintf(stderr, "\r%s [%s%s] %3d%%", name_.c_str(), std::string(static_cast<std::size_t>(bar), '#').c_str(),
                 std::string(static_cast<std::size_t>(25 - bar), ' ').c_str(), pct);
    std::fflush(stderr);
}

void Progress::done() {
    if (enabled_) std::fputs("\r\033[K", stderr);
}

} // namespace semg::tools
