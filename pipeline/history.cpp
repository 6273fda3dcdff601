#include "pipeline/history.hpp"

#include "pipeline/results.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <stdexcept>
#include <tuple>

namespace semg::pipeline::history {
namespace {

using Json = nlohmann::ordered_json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double num(const Json& v) { return v.is_number() ? v.get<double>() : kNaN; }
std::string text(const Json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

// "v10" after "v9": runs of digits compared by value.
bool natural_less(const std::string& a, const std::string& b) {
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        const bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
        const bool db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
        if (da && db) {
            std::size_t ie = i, je = j;
            while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie])) != 0)
                ++ie;
            while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je])) != 0)
                ++je;
            const std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
            const auto strip = [](const std::string& s) {
                return s.substr(std::min(s.find_first_not_of('0'), s.size()));
            };
            const std::string sa = strip(na), sb = strip(nb);
            if (sa.size() != sb.size())
                return sa.size() < sb.size();
            if (sa != sb)
                return sa < sb;
            i = ie;
            j = je;
        } else {
            if (a[i] != b[j])
                return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

// Literature defaults (docs/history.md; /work/shared guides: domain.md "Reference values").
Reliability default_reliability(Measure m) {
    Reliability r;
    switch (m) {
    case Measure::Imf:
        r.sd = 7.5;
        r.sd_source =
            "Elfving et al. 2000 (J Rehabil Med), 55 healthy adults at 80 % MVC: between-subject SD of "
            "the initial MDF";
        r.icc = 0.72;
        r.icc_source =
            "between-week Sorensen test-retest studies, initial MDF ICC 0.72-0.75 (lower end)";
        break;
    case Measure::Slope:
        r.sd = 0.25;
        r.sd_source =
            "Elfving et al. 2000: between-subject SD of the L5 MDF slope (-0.44 +/- 0.25 %/s)";
        r.icc = 0.46;
        r.icc_source =
            "between-week Sorensen test-retest studies, MDF slope ICC 0.46-0.67 (lower end; Coorevits "
            "2008: 0.27-0.73)";
        break;
    case Measure::Hold:
        r.icc = 0.95;
        r.icc_source = "between-week Sorensen test-retest studies, endurance time ICC about 0.95";
        break;
    case Measure::Ai:
        r.icc_source =
            "none: no published test-retest reliability of the asymmetry index (give --icc ai=X)";
        break;
    }
    return r;
}

// Pooled between-subject SD of the log: per key (site and side, pair, or the whole hold), the
// SD across subjects of each subject's mean; the variances pooled over keys by their degrees of
// freedom. Needs 3 subjects or more in all. `rows`: subject, key, value.
struct Pooled {
    double sd = kNaN;
    std::size_t subjects = 0;
};
Pooled pooled_sd(const std::vector<std::tuple<std::string, std::string, double>>& rows) {
    std::map<std::string, std::map<std::string, std::pair<double, std::size_t>>>
        sums; // key -> subject -> sum, n
    std::set<std::string> subjects;
    for (const auto& [subject, key, value] : rows) {
        if (!std::isfinite(value) || subject.empty())
            continue;
        auto& s = sums[key][subject];
        s.first += value;
        ++s.second;
        subjects.insert(subject);
    }
    double ss = 0.0;
    std::size_t df = 0;
    for (const auto& [key, by_subject] : sums) {
        if (by_subject.size() < 2)
            continue;
        double mean = 0.0;
        for (const auto& [s, sn] : by_subject)
            mean += sn.first / static_cast<double>(sn.second);
        mean /= static_cast<double>(by_subject.size());
        for (const auto& [s, sn] : by_subject)
            ss += std::pow(sn.first / static_cast<double>(sn.second) - mean, 2);
        df += by_subject.size() - 1;
    }
    Pooled p;
    p.subjects = subjects.size();
    if (subjects.size() >= 3 && df > 0)
        p.sd = std::sqrt(ss / static_cast<double>(df));
    return p;
}

std::string site_key(const Json& row) {
    const std::string muscle = text(row["muscle"]);
    return muscle.empty() ? "channel " + text(row["channel"])
                          : muscle + "|" + text(row["level"]) + "|" + text(row["side"]);
}

void judge(std::vector<Point>& points, const Reliability& r) {
    const double mdc = r.mdc95();
    for (std::size_t i = 1; i < points.size(); ++i) {
        auto& p = points[i];
        p.change = p.value - points[i - 1].value;
        if (std::isfinite(p.change) && std::isfinite(mdc))
            p.exceeds_mdc = std::abs(p.change) > mdc;
    }
}

std::string number(double v, int decimals) {
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : std::string("-");
}
std::string signed_number(double v, int decimals) {
    return std::isfinite(v) ? fmt::format("{:+.{}f}", v, decimals) : std::string("");
}
// A trend per visit with its unit, or why there is none.
std::string trend_text(double v, int decimals, const char* unit) {
    return std::isfinite(v) ? fmt::format("{:+.{}f} {}", v, decimals, unit)
                            : std::string("n/a (fewer than 2 visits with a value)");
}
std::string csv_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }
std::string csv_bool(const std::optional<bool>& b) { return b ? (*b ? "1" : "0") : ""; }
Json json_number(double v) { return std::isfinite(v) ? Json(v) : Json(); }
Json point_json(const Point& p) {
    return {{"value", json_number(p.value)},
            {"ci95", {json_number(p.ci_low), json_number(p.ci_high)}},
            {"change", json_number(p.change)},
            {"exceeds_mdc95", p.exceeds_mdc ? Json(*p.exceeds_mdc) : Json()}};
}
std::string mark(const Point& p) { return p.exceeds_mdc ? (*p.exceeds_mdc ? " *" : "  ") : "  "; }

} // namespace

const char* name_of(Measure m) {
    switch (m) {
    case Measure::Imf: return "imf";
    case Measure::Slope: return "slope";
    case Measure::Hold: return "hold";
    case Measure::Ai: return "ai";
    }
    return "";
}
const char* unit_of(Measure m) {
    switch (m) {
    case Measure::Imf: return "Hz";
    case Measure::Slope: return "%/s";
    case Measure::Hold: return "s";
    case Measure::Ai: return "%";
    }
    return "";
}

double Reliability::sem() const { return sd * std::sqrt(1.0 - icc); }
double Reliability::mdc95() const { return 1.96 * std::sqrt(2.0) * sem(); }

Choices parse_choices(const std::vector<std::string>& icc, const std::vector<std::string>& sd) {
    Choices c;
    const auto split = [](const std::string& option, const std::string& item) {
        const auto eq = item.find('=');
        std::string value = eq == std::string::npos ? item : item.substr(eq + 1);
        Measure m = Measure::Slope;
        if (eq != std::string::npos) {
            const std::string name = item.substr(0, eq);
            bool found = false;
            for (const auto k : kMeasures)
                if (name == name_of(k)) {
                    m = k;
                    found = true;
                }
            if (!found)
                throw std::invalid_argument(option + " '" + item + "': unknown measure '" + name +
                                            "' (imf, slope, hold or ai)");
        }
        return std::pair{m, value};
    };
    const auto parse = [](const std::string& option, const std::string& item,
                          const std::string& value) {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(v))
            throw std::invalid_argument(option + " '" + item + "': '" + value +
                                        "' is not a number");
        return v;
    };
    for (const auto& item : icc) {
        const auto [m, value] = split("--icc", item);
        const double v = parse("--icc", item, value);
        if (!(v >= 0.0 && v < 1.0))
            throw std::invalid_argument("--icc '" + item + "': an ICC is at least 0 and below 1");
        c.icc[m] = v;
    }
    for (const auto& item : sd) {
        const auto [m, value] = split("--sd", item);
        if (value == "db") {
            c.sd[m] = std::nullopt;
            continue;
        }
        const double v = parse("--sd", item, value);
        if (!(v > 0.0))
            throw std::invalid_argument("--sd '" + item + "': an SD is above 0");
        c.sd[m] = v;
    }
    return c;
}

double trend_per_visit(const std::vector<Point>& points) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < points.size(); ++i) {
        if (!std::isfinite(points[i].value))
            continue;
        const double x = static_cast<double>(i + 1), y = points[i].value;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        ++n;
    }
    if (n < 2)
        return kNaN;
    const double dn = static_cast<double>(n);
    return (dn * sxy - sx * sy) / (dn * sxx - sx * sx);
}

History build(const sessions::SessionDb& db, const std::string& subject, const Choices& choices,
              const std::string& task) {
    History h;
    h.subject = subject;
    h.database = db.file().string();
    const auto records =
        db.query("SELECT id, session, task, protocol, note, recorded_at, logged_at, input_path, "
                 "command FROM sessions WHERE subject = ? AND (? = '' OR task = ?) ORDER BY id;",
                 {subject, task, task});
    if (records.empty() && !task.empty())
        throw std::invalid_argument("subject '" + subject + "' has no session of task '" + task +
                                    "' in " + db.file().string());
    if (records.empty()) {
        std::string known;
        const auto subjects =
            db.query("SELECT DISTINCT subject FROM sessions WHERE subject <> '' ORDER BY subject;");
        for (std::size_t i = 0; i < subjects.size() && i < 20; ++i)
            known += (i ? ", " : "") + text(subjects[i]["subject"]);
        throw std::invalid_argument(
            "subject '" + subject + "' has no session in " + db.file().string() +
            (known.empty() ? std::string(" (it holds no subject yet)")
                           : " (subjects: " + known + (subjects.size() > 20 ? ", ..." : "") + ")"));
    }
    std::map<std::string, std::size_t> latest; // session label -> index into visits
    for (const auto& r : records) {
        Visit v{r["id"].get<std::int64_t>(),
                text(r["session"]),
                text(r["task"]),
                text(r["protocol"]),
                text(r["note"]),
                text(r["recorded_at"]),
                text(r["logged_at"]),
                text(r["input_path"]),
                text(r["command"]),
                {}};
        if (!v.session.empty()) {
            const auto it = latest.find(v.session);
            if (it != latest.end()) {
                h.visits[it->second] = std::move(v);
                continue;
            }
            latest[v.session] = h.visits.size();
        }
        h.visits.push_back(std::move(v));
    }
    std::stable_sort(h.visits.begin(), h.visits.end(), [](const Visit& a, const Visit& b) {
        if (!a.recorded_at.empty() && !b.recorded_at.empty() && a.recorded_at != b.recorded_at)
            return a.recorded_at < b.recorded_at;
        if (a.session != b.session)
            return natural_less(a.session, b.session);
        return a.id < b.id;
    });

    std::map<std::string, std::size_t> site_index, pair_index;
    const std::size_t n = h.visits.size();
    for (std::size_t v = 0; v < n; ++v) {
        const std::string id = std::to_string(h.visits[v].id);
        const auto fits =
            db.query("SELECT channel, muscle, level, side, hold_s, imf_hz, mdf_slope_pct_per_s, "
                     "mdf_slope_ci95_low_pct_per_s, mdf_slope_ci95_high_pct_per_s FROM fits WHERE "
                     "session_id = ? AND contraction = 1 ORDER BY rowid;",
                     {id});
        for (const auto& f : fits) {
            h.visits[v].hold_s.value = num(f["hold_s"]);
            const std::string key = site_key(f);
            auto [it, fresh] = site_index.emplace(key, h.sites.size());
            if (fresh) {
                SiteSeries s{text(f["muscle"]),  text(f["level"]),      text(f["side"]),
                             text(f["channel"]), std::vector<Point>(n), std::vector<Point>(n)};
                h.sites.push_back(std::move(s));
            }
            auto& s = h.sites[it->second];
            s.imf_hz[v].value = num(f["imf_hz"]);
            s.slope_pct_per_s[v] = {num(f["mdf_slope_pct_per_s"]),
                                    num(f["mdf_slope_ci95_low_pct_per_s"]),
                                    num(f["mdf_slope_ci95_high_pct_per_s"]), kNaN, std::nullopt};
        }
        const auto pairs = db.query(
            "SELECT muscle, level, \"left\", \"right\", ai_mean_pct, ai_ci95_low_pct, "
            "ai_ci95_high_pct FROM pairs WHERE session_id = ? AND contraction = 1 ORDER BY "
            "rowid;",
            {id});
        for (const auto& p : pairs) {
            const std::string muscle = text(p["muscle"]);
            const std::string key = muscle.empty() ? text(p["left"]) + "|" + text(p["right"])
                                                   : muscle + "|" + text(p["level"]);
            auto [it, fresh] = pair_index.emplace(key, h.pairs.size());
            if (fresh)
                h.pairs.push_back({muscle, text(p["level"]), text(p["left"]), text(p["right"]),
                                   std::vector<Point>(n)});
            h.pairs[it->second].ai_pct[v] = {num(p["ai_mean_pct"]), num(p["ai_ci95_low_pct"]),
                                             num(p["ai_ci95_high_pct"]), kNaN, std::nullopt};
        }
    }

    // Reliability: the literature's, replaced by the user's; "db" SDs pooled from the log.
    const auto pooled_for = [&](Measure m) {
        std::vector<std::tuple<std::string, std::string, double>> rows;
        if (m == Measure::Imf || m == Measure::Slope) {
            for (const auto& r : db.query(
                     "SELECT s.subject, f.channel, f.muscle, f.level, f.side, f.imf_hz, "
                     "f.mdf_slope_pct_per_s FROM fits f JOIN sessions s ON s.id = f.session_id "
                     "WHERE f.contraction = 1;"))
                rows.emplace_back(text(r["subject"]), site_key(r),
                                  num(m == Measure::Imf ? r["imf_hz"] : r["mdf_slope_pct_per_s"]));
        } else if (m == Measure::Hold) {
            for (const auto& r : db.query(
                     "SELECT s.subject, MAX(f.hold_s) AS hold_s FROM fits f JOIN sessions s ON "
                     "s.id = f.session_id WHERE f.contraction = 1 GROUP BY s.id;"))
                rows.emplace_back(text(r["subject"]), "hold", num(r["hold_s"]));
        } else {
            for (const auto& r :
                 db.query("SELECT s.subject, p.muscle, p.level, p.\"left\" AS l, p.\"right\" AS r, "
                          "p.ai_mean_pct FROM pairs p JOIN sessions s ON s.id = p.session_id WHERE "
                          "p.contraction = 1;"))
                rows.emplace_back(text(r["subject"]),
                                  text(r["muscle"]).empty()
                                      ? text(r["l"]) + "|" + text(r["r"])
                                      : text(r["muscle"]) + "|" + text(r["level"]),
                                  num(r["ai_mean_pct"]));
        }
        return pooled_sd(rows);
    };
    for (const auto m : kMeasures) {
        Reliability r = default_reliability(m);
        const bool default_db = m == Measure::Hold || m == Measure::Ai;
        const auto sd = choices.sd.find(m);
        if (sd != choices.sd.end() && sd->second) {
            r.sd = *sd->second;
            r.sd_source = "given with --sd";
        } else if (sd != choices.sd.end() || default_db) {
            const Pooled p = pooled_for(m);
            r.sd = p.sd;
            r.sd_source =
                std::isfinite(p.sd)
                    ? fmt::format("pooled between-subject SD of the {} subjects in the session log",
                                  p.subjects)
                    : fmt::format(
                          "none: the session log holds {} subject{} with this measure, the pooled "
                          "SD needs 3 (give --sd {}=X)",
                          p.subjects, p.subjects == 1 ? "" : "s", name_of(m));
        }
        if (const auto icc = choices.icc.find(m); icc != choices.icc.end()) {
            r.icc = icc->second;
            r.icc_source = "given with --icc";
        }
        h.reliability[m] = r;
    }
    std::vector<Point> holds;
    for (const auto& v : h.visits)
        holds.push_back(v.hold_s);
    judge(holds, h.reliability[Measure::Hold]);
    for (std::size_t v = 0; v < n; ++v)
        h.visits[v].hold_s = holds[v];
    for (auto& s : h.sites) {
        judge(s.imf_hz, h.reliability[Measure::Imf]);
        judge(s.slope_pct_per_s, h.reliability[Measure::Slope]);
    }
    for (auto& p : h.pairs)
        judge(p.ai_pct, h.reliability[Measure::Ai]);
    return h;
}

const std::vector<std::string> kCsvColumns = {"subject",
                                              "visit",
                                              "session",
                                              "recorded_at",
                                              "muscle",
                                              "level",
                                              "side",
                                              "channel",
                                              "hold_s",
                                              "hold_change_s",
                                              "hold_exceeds_mdc95",
                                              "imf_hz",
                                              "imf_change_hz",
                                              "imf_exceeds_mdc95",
                                              "mdf_slope_pct_per_s",
                                              "mdf_slope_ci95_low_pct_per_s",
                                              "mdf_slope_ci95_high_pct_per_s",
                                              "mdf_slope_change_pct_per_s",
                                              "mdf_slope_exceeds_mdc95",
                                              "ai_pct",
                                              "ai_ci95_low_pct",
                                              "ai_ci95_high_pct",
                                              "ai_change_pct",
                                              "ai_exceeds_mdc95",
                                              "mdc95_imf_hz",
                                              "mdc95_mdf_slope_pct_per_s",
                                              "mdc95_hold_s",
                                              "mdc95_ai_pct"};

std::string to_csv(const History& h) {
    std::string out;
    for (std::size_t c = 0; c < kCsvColumns.size(); ++c)
        out += (c ? "," : "") + kCsvColumns[c];
    out += '\n';
    const auto mdc = [&](Measure m) { return csv_number(h.reliability.at(m).mdc95()); };
    const std::string mdcs = mdc(Measure::Imf) + "," + mdc(Measure::Slope) + "," +
                             mdc(Measure::Hold) + "," + mdc(Measure::Ai);
    for (std::size_t v = 0; v < h.visits.size(); ++v) {
        const auto& visit = h.visits[v];
        const auto& hold = visit.hold_s;
        const std::string head = csv_field(h.subject) + "," + std::to_string(v + 1) + "," +
                                 csv_field(visit.session) + "," + csv_field(visit.recorded_at) +
                                 ",";
        const std::string hold_cells = csv_number(hold.value) + "," + csv_number(hold.change) +
                                       "," + csv_bool(hold.exceeds_mdc) + ",";
        for (const auto& s : h.sites) {
            const auto& i = s.imf_hz[v];
            const auto& sl = s.slope_pct_per_s[v];
            out += head + csv_field(s.muscle) + "," + csv_field(s.level) + "," + csv_field(s.side) +
                   "," + csv_field(s.channel) + "," + hold_cells + csv_number(i.value) + "," +
                   csv_number(i.change) + "," + csv_bool(i.exceeds_mdc) + "," +
                   csv_number(sl.value) + "," + csv_number(sl.ci_low) + "," +
                   csv_number(sl.ci_high) + "," + csv_number(sl.change) + "," +
                   csv_bool(sl.exceeds_mdc) + ",,,,,," + mdcs + "\n";
        }
        for (const auto& p : h.pairs) {
            const auto& a = p.ai_pct[v];
            out += head + csv_field(p.muscle) + "," + csv_field(p.level) + ",left-right," +
                   csv_field(p.left + "/" + p.right) + "," + hold_cells + ",,,,,,,," +
                   csv_number(a.value) + "," + csv_number(a.ci_low) + "," + csv_number(a.ci_high) +
                   "," + csv_number(a.change) + "," + csv_bool(a.exceeds_mdc) + "," + mdcs + "\n";
        }
    }
    return out;
}

Json to_json(const History& h) {
    Json j{{"format", 1},
           {"subject", h.subject},
           {"database", h.database},
           {"software", software_version()}};
    Json visits = Json::array();
    for (const auto& v : h.visits)
        visits.push_back({{"session", v.session},
                          {"task", v.task},
                          {"protocol", v.protocol},
                          {"note", v.note},
                          {"recorded_at", v.recorded_at},
                          {"logged_at", v.logged_at},
                          {"input", v.input},
                          {"command", v.command},
                          {"hold_s", point_json(v.hold_s)}});
    j["visits"] = visits;
    Json rel = Json::object();
    for (const auto& [m, r] : h.reliability)
        rel[name_of(m)] = {{"unit", unit_of(m)},
                           {"sd", json_number(r.sd)},
                           {"sd_source", r.sd_source},
                           {"icc", json_number(r.icc)},
                           {"icc_source", r.icc_source},
                           {"sem", json_number(r.sem())},
                           {"mdc95", json_number(r.mdc95())}};
    j["reliability"] = rel;
    const auto points = [](const std::vector<Point>& ps) {
        Json a = Json::array();
        for (const auto& p : ps)
            a.push_back(point_json(p));
        return a;
    };
    Json sites = Json::array();
    for (const auto& s : h.sites)
        sites.push_back({{"muscle", s.muscle},
                         {"level", s.level},
                         {"side", s.side},
                         {"channel", s.channel},
                         {"imf_hz", points(s.imf_hz)},
                         {"slope_pct_per_s", points(s.slope_pct_per_s)},
                         {"trend_per_visit",
                          {{"imf_hz", json_number(trend_per_visit(s.imf_hz))},
                           {"slope_pct_per_s", json_number(trend_per_visit(s.slope_pct_per_s))}}}});
    j["sites"] = sites;
    Json pairs = Json::array();
    for (const auto& p : h.pairs)
        pairs.push_back(
            {{"muscle", p.muscle},
             {"level", p.level},
             {"left", p.left},
             {"right", p.right},
             {"ai_pct", points(p.ai_pct)},
             {"trend_per_visit", {{"ai_pct", json_number(trend_per_visit(p.ai_pct))}}}});
    j["pairs"] = pairs;
    return j;
}

std::string to_text(const History& h) {
    std::string out = fmt::format("subject {}: {} visit{} in {}\n", h.subject, h.visits.size(),
                                  h.visits.size() == 1 ? "" : "s", h.database);
    out += fmt::format("{:<6}{:<12}{:<22}{:>9}{:>9}  {}\n", "visit", "session", "recorded",
                       "hold s", "change", "note");
    for (std::size_t v = 0; v < h.visits.size(); ++v) {
        const auto& x = h.visits[v];
        out += fmt::format("{:<6}{:<12}{:<22}{:>9}{:>9}{}{}\n", v + 1,
                           x.session.empty() ? "-" : x.session,
                           x.recorded_at.empty() ? "-" : x.recorded_at, number(x.hold_s.value, 1),
                           signed_number(x.hold_s.change, 1), mark(x.hold_s), x.note);
    }
    out += "\nMDC95 = 1.96 x sqrt(2) x SD x sqrt(1 - ICC); a change beyond it is marked *:\n";
    for (const auto& [m, r] : h.reliability) {
        const double mdc = r.mdc95();
        out += fmt::format(
            "  {:<6}{:>12}  SD {} ({}); ICC {} ({})\n", name_of(m),
            std::isfinite(mdc) ? fmt::format("{:.3g} {}", mdc, unit_of(m)) : std::string("n/a"),
            std::isfinite(r.sd) ? fmt::format("{:.3g} {}", r.sd, unit_of(m)) : std::string("n/a"),
            r.sd_source, std::isfinite(r.icc) ? fmt::format("{:.2f}", r.icc) : std::string("n/a"),
            r.icc_source);
    }
    for (const auto& s : h.sites) {
        const std::string name =
            s.muscle.empty() ? s.channel
                             : fmt::format("{} {} {} ({})", s.muscle, s.level, s.side, s.channel);
        out += fmt::format("\n{}\n{:<6}{:>9}{:>9}  {:>10}  {:<20}{:>9}\n", name, "visit", "IMF Hz",
                           "change", "slope %/s", "95 % CI", "change");
        for (std::size_t v = 0; v < h.visits.size(); ++v) {
            const auto& i = s.imf_hz[v];
            const auto& sl = s.slope_pct_per_s[v];
            out += fmt::format(
                "{:<6}{:>9}{:>9}{}{:>10}  {:<20}{:>9}{}\n", v + 1, number(i.value, 1),
                signed_number(i.change, 1), mark(i), number(sl.value, 3),
                std::isfinite(sl.ci_low) ? fmt::format("[{:.3f}, {:.3f}]", sl.ci_low, sl.ci_high)
                                         : "",
                signed_number(sl.change, 3), mark(sl));
        }
        out += fmt::format("trend per visit: IMF {}, slope {}\n",
                           trend_text(trend_per_visit(s.imf_hz), 2, "Hz"),
                           trend_text(trend_per_visit(s.slope_pct_per_s), 3, "%/s"));
    }
    for (const auto& p : h.pairs) {
        const std::string name =
            fmt::format("{} {} left/right ({} / {})", p.muscle, p.level, p.left, p.right);
        out += fmt::format("\n{}\n{:<6}{:>9}  {:<20}{:>9}\n", name, "visit", "AI %", "95 % CI",
                           "change");
        for (std::size_t v = 0; v < h.visits.size(); ++v) {
            const auto& a = p.ai_pct[v];
            out += fmt::format(
                "{:<6}{:>9}  {:<20}{:>9}{}\n", v + 1, number(a.value, 1),
                std::isfinite(a.ci_low) ? fmt::format("[{:.1f}, {:.1f}]", a.ci_low, a.ci_high) : "",
                signed_number(a.change, 1), mark(a));
        }
        out +=
            fmt::format("trend per visit: AI {}\n", trend_text(trend_per_visit(p.ai_pct), 2, "%"));
    }
    return out;
}

} // namespace semg::pipeline::history
