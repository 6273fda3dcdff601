// `semg history SUBJECT`: one subject's visits from the session log (pipeline/session_db.hpp),
// per site and side visit by visit: initial MDF (IMF, Hz), MDF slope (%/s) with its 95 % CI, hold
// time (s); per bilateral pair the amplitude asymmetry index (AI, %) with its 95 % CI; and for
// each change between consecutive visits whether it exceeds the minimal detectable change
//   MDC95 = 1.96 · √2 · SEM,  SEM = SD · √(1 − ICC),
// SD a between-subject SD and ICC a test-retest reliability, from the literature by default or as
// the user gives them (docs/history.md states the sources). Values are those of each visit's first
// contraction (summary.json's top level). Read time only: allocates, throws SessionDbError or
// std::invalid_argument (a bad --icc/--sd).
#pragma once

#include "pipeline/session_db.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace semg::pipeline::history {

// The measures whose changes are judged, in this order everywhere.
enum class Measure { Imf, Slope, Hold, Ai };
inline constexpr std::array<Measure, 4> kMeasures = {Measure::Imf, Measure::Slope, Measure::Hold,
                                                     Measure::Ai};
const char* name_of(Measure m); // "imf", "slope", "hold", "ai"
const char* unit_of(Measure m); // "Hz", "%/s", "s", "%"

// SD and ICC of one measure and where each came from; NaN where unknown (then no MDC).
struct Reliability {
    double sd = std::numeric_limits<double>::quiet_NaN();
    double icc = std::numeric_limits<double>::quiet_NaN();
    std::string sd_source, icc_source;
    double sem() const;   // SD·√(1−ICC), NaN when either is unknown
    double mdc95() const; // 1.96·√2·SEM
};

// The user's choices: `--icc [MEASURE=]X` (0 <= X < 1) and `--sd [MEASURE=]X|db` (X > 0 in the
// measure's unit; db: the pooled between-subject SD of the log's subjects); a bare value is the
// MDF slope's. Throws std::invalid_argument naming the option and the value.
struct Choices {
    std::map<Measure, double> icc;
    std::map<Measure, std::optional<double>> sd; // nullopt: "db"
};
Choices parse_choices(const std::vector<std::string>& icc, const std::vector<std::string>& sd);

// A value of one visit with its 95 % CI (NaN where none), and the change from the visit before.
struct Point {
    double value = std::numeric_limits<double>::quiet_NaN();
    double ci_low = std::numeric_limits<double>::quiet_NaN();
    double ci_high = std::numeric_limits<double>::quiet_NaN();
    double change = std::numeric_limits<double>::quiet_NaN(); // value − previous visit's value
    std::optional<bool> exceeds_mdc;                          // |change| > MDC95; none without both
};

struct Visit {
    std::int64_t id = 0;
    std::string session, task, protocol, note, recorded_at, logged_at, input, command;
    Point hold_s;
};

// One site and side (a channel) over the visits.
struct SiteSeries {
    std::string muscle, level, side, channel;
    std::vector<Point> imf_hz, slope_pct_per_s; // one per visit
};
// One bilateral pair over the visits.
struct PairSeries {
    std::string muscle, level, left, right;
    std::vector<Point> ai_pct;
};

struct History {
    std::string subject;
    std::string database;
    std::vector<Visit> visits; // oldest first
    std::vector<SiteSeries> sites;
    std::vector<PairSeries> pairs;
    std::map<Measure, Reliability> reliability;
};

// The subject's visits: the latest record of each session label (every record for an empty
// label), ordered by the recording's date, then the session label (numbers by value), then the
// order they were logged. With `task`, only the sessions of that task (a visit with a Sørensen
// hold and MVC trials is two records). Throws std::invalid_argument when none is in the log.
History build(const sessions::SessionDb& db, const std::string& subject, const Choices& choices,
              const std::string& task = {});

// Least-squares slope of the values over the visit number (change per visit); NaN with fewer
// than two values.
double trend_per_visit(const std::vector<Point>& points);

nlohmann::ordered_json to_json(const History& h); // history.html's data (docs/history.md)
std::string to_csv(const History& h);             // history.csv: one row per visit, site and side
std::string to_text(const History& h);            // the terminal table

// The CSV header (docs/history.md), for tests and docs.
extern const std::vector<std::string> kCsvColumns;

} // namespace semg::pipeline::history
