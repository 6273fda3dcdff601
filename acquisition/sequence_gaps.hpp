// Lost samples from a wrapping sample counter (OpenBCI GUI "Sample Index", PLUX "nSeq"), and the
// warnings that report them. The counter steps by 1 and wraps to 0 after its highest value; the
// files do not say where it wraps (Cyton 255, Ganglion 200, PLUX 15 or more), so the highest value
// seen so far is taken as the wrap point. A step that is not +1 and not that wrap is a loss of
// (value - previous - 1) samples, or across a wrap (highest - previous) + value.
// Limitation: a loss straddling the first wrap, before the counter has shown its highest value,
// is counted short by the values never seen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace semg::acquisition {

class SequenceGaps {
public:
    // The samples lost just before this one (0 when in step; 0 for the first).
    std::uint64_t step(std::uint64_t value) {
        std::uint64_t lost = 0;
        if (started_) {
            if (value > previous_)
                lost = value - previous_ - 1;
            else
                lost = (highest_ - previous_) + value; // a wrap (a restart when not from the top)
        }
        started_ = true;
        previous_ = value;
        if (value > highest_)
            highest_ = value;
        return lost;
    }
    std::uint64_t highest() const noexcept { return highest_; }
    std::uint64_t previous() const noexcept { return previous_; }

private:
    bool started_ = false;
    std::uint64_t previous_ = 0, highest_ = 0;
};

// Collects places where samples were lost, paused or resumed: the first `max_listed` are
// reported one by one, the rest summed up in one line, so a file with thousands of gaps gives a
// readable list.
class GapWarnings {
public:
    static constexpr std::size_t max_listed = 5;
    void add(std::string where_and_what, std::uint64_t lost) {
        ++places_;
        lost_ += lost;
        if (listed_.size() < max_listed)
            listed_.push_back(std::move(where_and_what));
    }
    // Appends the warnings to `out`; `tail` says how the reader goes on (e.g. "read as
    // continuous").
    void report(std::vector<std::string>& out, const std::string& counter,
                const std::string& tail) const {
        if (places_ == 0)
            return;
        for (const auto& w : listed_)
            out.push_back(w);
        out.push_back(std::to_string(places_) + (places_ == 1 ? " place" : " places") +
                      " where the " + counter + " skips: " + std::to_string(lost_) +
                      " samples lost in all by the counter; " + tail +
                      (places_ > listed_.size()
                           ? " (the first " + std::to_string(listed_.size()) + " are listed above)"
                           : ""));
    }
    std::size_t places() const noexcept { return places_; }
    std::uint64_t lost() const noexcept { return lost_; }

private:
    std::vector<std::string> listed_;
    std::size_t places_ = 0;
    std::uint64_t lost_ = 0;
};

} // namespace semg::acquisition
