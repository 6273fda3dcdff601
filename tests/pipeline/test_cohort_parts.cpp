// The cohort parsers (pipeline/cohort.hpp) on their own: --pattern, manifests, --shard, markers.
// End to end (dataset tables, --jobs, resume, shards, Snakemake): tests/tools/test_cohort.cpp.
#include "pipeline/cohort.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace cohort = semg::pipeline::cohort;

TEST(CohortParts, PatternManifestShardAndMarker) {
    const cohort::PathPattern p("{subject}/{session}/{task}.bdf");
    const auto ids = p.match("sub-01/ses-2/sorensen.bdf");
    ASSERT_TRUE(ids);
    EXPECT_EQ(ids->subject, "sub-01");
    EXPECT_EQ(ids->session, "ses-2");
    EXPECT_EQ(ids->task, "sorensen");
    EXPECT_FALSE(p.match("sub-01/sorensen.bdf"));
    EXPECT_FALSE(p.match("sub-01/ses-2/sorensen.edf"));
    EXPECT_FALSE(p.match("x/sub-01/ses-2/sorensen.bdf"));
    const cohort::PathPattern q("*/{subject}_{condition}.edf");
    ASSERT_TRUE(q.match("site-a/P7_pre.edf"));
    EXPECT_EQ(q.match("site-a/P7_pre.edf")->condition, "pre");
    EXPECT_THROW(cohort::PathPattern("{patient}/x.bdf"), std::invalid_argument);
    EXPECT_THROW(cohort::PathPattern("{subject/x.bdf"), std::invalid_argument);
    EXPECT_THROW(cohort::PathPattern("x.bdf"), std::invalid_argument);

    const auto entries = cohort::parse_manifest(
        "# comment\nPath\tSubject\r\n/d/b/x.bdf\tS2\n/d/a/x.bdf\tn/a\n\n", "m.tsv", "/");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].relative, "a/x.bdf");
    EXPECT_EQ(entries[0].ids.subject, "");
    EXPECT_EQ(entries[1].ids.subject, "S2");
    const auto error = [](const std::string& text) {
        try {
            cohort::parse_manifest(text, "m.tsv", "/");
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(error("subject\nS1\n"),
              "m.tsv:1: no 'path' column in the header (tab-separated: path, subject, "
              "session, task, condition)");
    EXPECT_EQ(error("path\n/a.bdf\n/b/../a.bdf\n"),
              "m.tsv:3: path: /b/../a.bdf is listed already on line 2");
    EXPECT_EQ(error("path\tpath\n"), "m.tsv:1: column 'path' is given twice");
    EXPECT_EQ(error("path\n"), "m.tsv: no recordings listed");

    std::vector<int> seen(10, 0);
    for (std::size_t k = 1; k <= 3; ++k)
        for (std::size_t i = 0; i < seen.size(); ++i)
            seen[i] += cohort::parse_shard(std::to_string(k) + "/3").holds(i);
    EXPECT_EQ(seen, std::vector<int>(10, 1));
    for (const char* bad : {"0/2", "3/2", "1/0", "1", "a/b", "1/2x"})
        EXPECT_THROW(cohort::parse_shard(bad), std::invalid_argument) << bad;

    cohort::Marker m{"a/x.bdf", "a/x.semg", {"S1", "", "t", ""}, "ab", {{"band", "20:450"}},
                     "failed",  "x: bad"};
    const auto back =
        cohort::parse_marker(nlohmann::json::parse(cohort::marker_json(m).dump()), "m.json");
    EXPECT_EQ(back.relative, m.relative);
    EXPECT_EQ(back.results, m.results);
    EXPECT_EQ(back.ids.subject, "S1");
    EXPECT_EQ(back.error, "x: bad");
    auto j = nlohmann::json::parse(cohort::marker_json(m).dump());
    j["results"] = "../../etc";
    EXPECT_THROW(cohort::parse_marker(j, "m.json"), std::invalid_argument);
    j["results"] = "a";
    j["status"] = "done";
    EXPECT_THROW(cohort::parse_marker(j, "m.json"), std::invalid_argument);
}
