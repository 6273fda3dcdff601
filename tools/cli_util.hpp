// Small helpers shared by the subcommands: option parsing, messages, progress.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace semg::tools {

// "A:B" -> {A, B}; throws std::invalid_argument naming the option.
std::pair<double, double> parse_range(const std::string& text, const std::string& option);
// "50", "60" -> Hz; "off" -> 0.
double parse_mains(const std::string& text);
// "a,b,c" -> {"a","b","c"}; empty text -> {}.
std::vector<std::string> split_list(const std::string& text);

void log_notice(const std::string& message);
void log_warning(const std::string& message);

// A progress bar on stderr, only when stderr is a terminal.
class Progress {
public:
    Progress(std::string name, std::uint64_t total);
    void update(std::uint64_t done);
    void done();

private:
    std::string name_;
    std::uint64_t total_;
    bool enabled_;
    int shown_ = -1;
};

} // namespace semg::tools
