// EDF/BDF writer and reader round trip: samples within one digital step, labels, annotations,
// rate, and the layout with an annotation signal (EDF+/BDF+) and without (EDF/BDF).
// Files a writer did not finish (record count -1 or lagging, partial last record).
#include "acquisition/edf.hpp"
#include "acquisition/units.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>

using namespace semg;
namespace fs = std::filesystem;

namespace {

fs::path test_dir() {
    const auto dir = fs::path(SEMG_BINARY_DIR) / "test_edf" /
                     ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Overwrites `text` (padded with spaces to `width`) at `offset` of the file.
void patch(const fs::path& path, std::size_t offset, std::string text, std::size_t width) {
    text.resize(width, ' ');
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// A BDF+ of `seconds` whole data records from the project's writer, two channels at 1 kHz,
// with an annotation at 1.5 s. Returns the header and data record sizes in bytes.
struct Written {
    std::size_t header_bytes, record_bytes;
};
Written write_bdf(const fs::path& path, std::size_t seconds) {
    acquisition::EdfWriterConfig cfg;
    cfg.sample_rate_hz = 1000;
    cfg.labels = {"ES L3 L", "ES L3 R"};
    {
        acquisition::EdfWriter writer(path, cfg);
        const auto n = seconds * 1000;
        auto block =
            test::make_block({test::white_noise(n, 50.0, 1), test::white_noise(n, 50.0, 2)});
        writer.write(block.cref());
        writer.annotate({1.5, 2.0, "contraction"});
        writer.close();
    }
    const std::size_t header_bytes =
        256 * (2 + 1 + 1); // two signals and EDFlib's annotation signal
    return {header_bytes, (fs::file_size(path) - header_bytes) / seconds};
}

std::size_t frames_read(acquisition::EdfSource& source) {
    dsp::Block block(source.info().channels.size(), 999);
    std::size_t frames = 0;
    while (const std::size_t n = source.read(block.capacity_ref()))
        frames += n;
    return frames;
}

// An EDF/BDF written byte by byte, so that a test can write what no writer would. Sample i of
// record r of data signal s is (s + 1) * 1000 + r * 100 + i % 100, in µV (physical range =
// digital range), so a channel read from another signal's place shows at once. Annotation
// signals (`tal`) hold the record's timekeeping TAL followed by `tals[r]`.
struct RawSignal {
    RawSignal(std::string label_, int samples_ = 100, bool tal_ = false)
        : label(std::move(label_)), samples(samples_), tal(tal_) {}
    std::string label;
    int samples; // per data record
    bool tal;
    std::string samples_field, phys_min, phys_max, dig_min, dig_max; // empty: consistent values
};

struct RawFile {
    bool bdf = true;
    std::string reserved; // "BDF+C", "EDF+C" or empty (plain)
    int records = 3;
    std::vector<RawSignal> signals;
    std::vector<std::string> tals;
    // Header fields to overwrite, empty: consistent values.
    std::string version, patient, start_date, header_bytes, records_field, duration = "1",
                                                                           signals_field;
};

std::string field(std::string text, std::size_t width) {
    text.resize(width, ' ');
    return text;
}

std::string build(const RawFile& f) {
    const bool plus = !f.reserved.empty();
    const std::size_t n = f.signals.size();
    std::string h;
    h += f.version.empty() ? (f.bdf ? std::string("\xFF") + "BIOSEMI" : field("0", 8))
                           : field(f.version, 8);
    h += field(f.patient.empty() ? (plus ? "X X X X" : "test") : f.patient, 80);
    h += field(plus ? "Startdate 01-JAN-2000 X X X" : "test", 80);
    h += field(f.start_date.empty() ? "01.01.00" : f.start_date, 8) + "00.00.00";
    h += field(f.header_bytes.empty() ? std::to_string(256 * (n + 1)) : f.header_bytes, 8);
    h += field(f.reserved, 44);
    h += field(f.records_field.empty() ? std::to_string(f.records) : f.records_field, 8);
    h += field(f.duration, 8);
    h += field(f.signals_field.empty() ? std::to_string(n) : f.signals_field, 4);
    const std::string low = f.bdf ? "-8388608" : "-32768", high = f.bdf ? "8388607" : "32767";
    auto each = [&](std::size_t width, auto value) {
        for (const auto& s : f.signals)
            h += field(value(s), width);
    };
    auto or_default = [](const std::string& given, const std::string& fallback) {
        return given.empty() ? fallback : given;
    };
    each(16, [](const RawSignal& s) { return s.label; });
    each(80, [](const RawSignal&) { return std::string(); });
    each(8, [](const RawSignal& s) { return s.tal ? std::string() : std::string("uV"); });
    each(8, [&](const RawSignal& s) { return or_default(s.phys_min, s.tal ? "-1" : low); });
    each(8, [&](const RawSignal& s) { return or_default(s.phys_max, s.tal ? "1" : high); });
    each(8, [&](const RawSignal& s) { return or_default(s.dig_min, low); });
    each(8, [&](const RawSignal& s) { return or_default(s.dig_max, high); });
    each(80, [](const RawSignal&) { return std::string(); });
    each(8, [&](const RawSignal& s) {
        return or_default(s.samples_field, std::to_string(s.samples));
    });
    each(32, [](const RawSignal&) { return std::string(); });
    const std::size_t bytes = f.bdf ? 3 : 2;
    for (int r = 0; r < f.records; ++r)
        for (std::size_t s = 0; s < n; ++s) {
            const auto& sig = f.signals[s];
            std::string data;
            if (sig.tal) {
                data = "+" + std::to_string(r) + "\x14\x14" + std::string(1, '\0');
                if (static_cast<std::size_t>(r) < f.tals.size())
                    data += f.tals[static_cast<std::size_t>(r)];
                data.resize(static_cast<std::size_t>(sig.samples) * bytes, '\0');
            } else {
                for (int i = 0; i < sig.samples; ++i) {
                    const int v = static_cast<int>(s + 1) * 1000 + r * 100 + i % 100;
                    for (std::size_t b = 0; b < bytes; ++b)
                        data += static_cast<char>((v >> (8 * b)) & 0xFF);
                }
            }
            h += data;
        }
    return h;
}

fs::path write_raw(const fs::path& dir, const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
}

// Every data channel read from `path` holds its own signal's values (see RawFile).
void expect_own_samples(const fs::path& path,
                        const std::vector<std::pair<std::string, int>>& channels) {
    acquisition::EdfSource source(path);
    const auto& info = source.info();
    ASSERT_EQ(info.channels.size(), channels.size());
    dsp::Block block(channels.size(), 1000);
    const std::size_t frames = source.read(block.capacity_ref());
    ASSERT_EQ(frames, 300u);
    for (std::size_t c = 0; c < channels.size(); ++c) {
        EXPECT_EQ(info.channels[c].label, channels[c].first);
        for (std::size_t i = 0; i < frames; ++i)
            ASSERT_EQ(block.channel(c)[i],
                      static_cast<float>(channels[c].second * 1000 + (i / 100) * 100 + i % 100))
                << channels[c].first << " sample " << i;
    }
}

} // namespace

// One table of voltage units for the EDF, WFDB and .mat readers (they had three, which
// disagreed on case, Greek mu and "microV").
TEST(Units, VoltagesInAnyCaseAndBothMicroSigns) {
    using acquisition::microvolts_per;
    for (const char* u : {"uV", "UV", "\xc2\xb5V", "\xce\xbcV", "microV", "microvolts"})
        EXPECT_EQ(microvolts_per(u), 1.0) << u;
    for (const char* u : {"mV", "MV", "millivolt"})
        EXPECT_EQ(microvolts_per(u), 1e3) << u;
    for (const char* u : {"V", "v", "Volts"})
        EXPECT_EQ(microvolts_per(u), 1e6) << u;
    EXPECT_EQ(microvolts_per("nV"), 1e-3);
    for (const char* u : {"", "degC", "g", "mV/s", " uV"})
        EXPECT_EQ(microvolts_per(u), std::nullopt) << u;
}

TEST(Edf, RoundTripEveryFormat) {
    const auto dir = fs::path(SEMG_BINARY_DIR) / "test_edf";
    fs::create_directories(dir);
    const std::vector<std::pair<acquisition::EdfFormat, std::string>> formats = {
        {acquisition::EdfFormat::EdfPlus, "b.edf"}, {acquisition::EdfFormat::BdfPlus, "d.bdf"}};
    const auto x = test::white_noise(5 * 500 + 123, 300.0, 1),
               y = test::sine(40.0, 900.0, 500, x.size());
    for (const auto& [format, name] : formats) {
        acquisition::EdfWriterConfig cfg;
        cfg.format = format;
        cfg.sample_rate_hz = 500;
        cfg.labels = {"ES L3 L", "ES L3 R"};
        cfg.physical_min_uv = -2000.0;
        cfg.physical_max_uv = 2000.0;
        {
            acquisition::EdfWriter writer(dir / name, cfg);
            auto block = test::make_block({x, y});
            writer.write(block.cref().slice(0, 1000));
            writer.write(block.cref().slice(1000, x.size() - 1000));
            writer.annotate({1.5, 2.0, "contraction"});
            writer.close();
        }
        acquisition::EdfSource source(dir / name);
        const auto& info = source.info();
        ASSERT_EQ(info.channels.size(), 2u) << name;
        EXPECT_EQ(info.channels[1].label, "ES L3 R");
        EXPECT_DOUBLE_EQ(info.sample_rate_hz, 500.0);
        const double step = *info.channels[0].resolution_uv;
        EXPECT_NEAR(step,
                    4000.0 / (format == acquisition::EdfFormat::EdfPlus ? 65535.0 : 16777215.0),
                    1e-9);
        dsp::Block block(2, 777);
        std::size_t at = 0;
        while (const std::size_t n = source.read(block.capacity_ref())) {
            for (std::size_t i = 0; i < n && at + i < x.size(); ++i) {
                ASSERT_NEAR(block.channel(0)[i], x[at + i], step) << name << " sample " << at + i;
                ASSERT_NEAR(block.channel(1)[i], y[at + i], step) << name << " sample " << at + i;
            }
            at += n;
        }
        EXPECT_EQ(at, 6u * 500u) << name; // the last record is padded to a whole second
        {
            ASSERT_GE(info.annotations.size(), 1u) << name;
            EXPECT_EQ(info.annotations[0].text, "contraction");
            EXPECT_DOUBLE_EQ(info.annotations[0].onset_s, 1.5);
            EXPECT_DOUBLE_EQ(info.annotations[0].duration_s, 2.0);
        }
    }
}

// A killed capture leaves -1 as the record count and a partial last record: the complete records
// are read, with one warning, and the file is not touched.
TEST(Edf, RecordCountMinusOneIsTakenFromTheFileLength) {
    const auto path = test_dir() / "killed.bdf";
    const auto w = write_bdf(path, 10);
    patch(path, 236, "-1", 8);
    fs::resize_file(path, w.header_bytes + 7 * w.record_bytes + w.record_bytes / 2);
    const auto before = file_bytes(path);
    acquisition::EdfSource source(path);
    const auto& info = source.info();
    ASSERT_EQ(info.warnings.size(), 1u);
    EXPECT_NE(info.warnings[0].find("number of data records is -1"), std::string::npos)
        << info.warnings[0];
    EXPECT_NE(info.warnings[0].find("reading the 7 complete"), std::string::npos)
        << info.warnings[0];
    EXPECT_NE(info.warnings[0].find("partial last record"), std::string::npos) << info.warnings[0];
    EXPECT_EQ(info.total_frames, 7000u);
    EXPECT_EQ(frames_read(source), 7000u);
    ASSERT_EQ(info.annotations.size(), 1u); // EDFlib read them from the corrected view
    EXPECT_EQ(info.annotations[0].text, "contraction");
    EXPECT_EQ(file_bytes(path), before) << "the input was modified";
}

// A writer that updates the count every few seconds leaves a count that lags the data.
TEST(Edf, LaggingRecordCountReadsEveryCompleteRecord) {
    const auto path = test_dir() / "lagging.bdf";
    const auto w = write_bdf(path, 10);
    patch(path, 236, "3", 8);
    fs::resize_file(path, w.header_bytes + 9 * w.record_bytes + 100);
    acquisition::EdfSource source(path);
    ASSERT_EQ(source.info().warnings.size(), 1u);
    EXPECT_NE(source.info().warnings[0].find("is 3 in the header but the file holds 9 complete"),
              std::string::npos)
        << source.info().warnings[0];
    EXPECT_EQ(frames_read(source), 9000u);
}

TEST(Edf, PartialLastRecordAloneIsIgnoredWithAWarning) {
    const auto path = test_dir() / "tail.bdf";
    const auto w = write_bdf(path, 4);
    fs::resize_file(path, w.header_bytes + 4 * w.record_bytes + 10);
    acquisition::EdfSource source(path);
    ASSERT_EQ(source.info().warnings.size(), 1u);
    EXPECT_NE(source.info().warnings[0].find("partial data record of 10 bytes"), std::string::npos);
    EXPECT_EQ(frames_read(source), 4000u);
}

TEST(Edf, WholeFileGivesNoWarning) {
    const auto path = test_dir() / "whole.bdf";
    write_bdf(path, 4);
    acquisition::EdfSource source(path);
    EXPECT_TRUE(source.info().warnings.empty());
    EXPECT_EQ(frames_read(source), 4000u);
}

// EDFlib hides an annotation signal only in an EDF+/BDF+ file and only under its own type's
// label; the reader used to decide from the label alone, shifting every later channel by one and
// reading the last past the record buffer.
TEST(Edf, AnnotationLabelInAPlainBdfIsAnOrdinarySignal) {
    const auto dir = test_dir();
    RawFile f;
    f.signals = {{"ES L3 L"}, {"BDF Annotations"}, {"ES L3 R"}};
    expect_own_samples(write_raw(dir, "plain.bdf", build(f)),
                       {{"ES L3 L", 1}, {"BDF Annotations", 2}, {"ES L3 R", 3}});
}

TEST(Edf, OtherTypesAnnotationLabelIsAnOrdinarySignal) {
    const auto dir = test_dir();
    RawFile bdf;
    bdf.reserved = "BDF+C";
    bdf.signals = {{"ES L3 L"}, {"EDF Annotations"}, {"ES L3 R"}, {"BDF Annotations", 40, true}};
    expect_own_samples(write_raw(dir, "plus.bdf", build(bdf)),
                       {{"ES L3 L", 1}, {"EDF Annotations", 2}, {"ES L3 R", 3}});
    RawFile edf;
    edf.bdf = false;
    edf.reserved = "EDF+C";
    edf.signals = {{"EDF Annotations", 40, true}, {"BDF Annotations"}, {"ES L3 L"}};
    expect_own_samples(write_raw(dir, "plus.edf", build(edf)),
                       {{"BDF Annotations", 2}, {"ES L3 L", 3}});
}

TEST(Edf, AnnotationSignalBetweenDataSignalsIsSkipped) {
    const auto dir = test_dir();
    RawFile f;
    f.reserved = "BDF+C";
    f.signals = {{"ES L3 L"}, {"BDF Annotations", 40, true}, {"ES L3 R"}};
    expect_own_samples(write_raw(dir, "middle.bdf", build(f)), {{"ES L3 L", 1}, {"ES L3 R", 3}});
}

// Each header fault is named: one line, the file, "not a valid EDF/BDF file", the field.
TEST(Edf, EachHeaderFaultNamesItsField) {
    const auto dir = test_dir();
    auto base = [] {
        RawFile f;
        f.signals = {{"ES L4 L"}, {"ES L4 R"}, {"ES L3 L"}};
        return f;
    };
    struct Case {
        std::string name;
        std::function<void(RawFile&)> change;
        std::string message;
        std::size_t cut_to = 0; // bytes to keep, 0: all
    };
    const std::vector<Case> cases = {
        {"records", [](RawFile& f) { f.records_field = "abc"; },
         "number of data records 'abc' is not a whole number"},
        {"records_negative", [](RawFile& f) { f.records_field = "-2"; },
         "number of data records '-2'"},
        {"duration_zero", [](RawFile& f) { f.duration = "0"; },
         "duration of a data record '0' is not a positive"},
        {"duration_text", [](RawFile& f) { f.duration = "1s"; }, "duration of a data record '1s'"},
        {"signals", [](RawFile& f) { f.signals_field = "0"; },
         "number of signals '0' is not a whole number from 1"},
        {"header_bytes", [](RawFile& f) { f.header_bytes = "768"; },
         "number of bytes in header '768' should be 1024 for 3 signals"},
        {"samples", [](RawFile& f) { f.signals[2].samples_field = "0"; },
         "samples per record of signal 3 'ES L3 L' '0' is not a whole number of at least 1"},
        {"physical_equal",
         [](RawFile& f) { f.signals[1].phys_min = f.signals[1].phys_max = "100"; },
         "physical minimum and maximum of signal 2 'ES L4 R' are both 100"},
        {"physical_text", [](RawFile& f) { f.signals[0].phys_max = "1mV"; },
         "physical maximum of signal 1 'ES L4 L' '1mV' is not a number"},
        {"digital_range", [](RawFile& f) { f.signals[0].dig_max = "9000000"; },
         "digital maximum of signal 1 'ES L4 L' '9000000' is not a whole number from -8388608 to "
         "8388607"},
        {"digital_order",
         [](RawFile& f) { f.signals[2].dig_min = "10", f.signals[2].dig_max = "10"; },
         "digital maximum of signal 3 'ES L3 L' (10) is not above its digital minimum (10)"},
        {"record_size", [](RawFile& f) { f.signals[0].samples_field = "6000000"; },
         "a data record of 18000600 bytes (the samples per record of all signals) is larger than "
         "EDFlib's limit of "
         "15728640 bytes"},
        {"version", [](RawFile& f) { f.version = "1"; }, "version field '1' is neither"},
        {"start_date", [](RawFile& f) { f.start_date = "32.01.00"; },
         "start date '32.01.00' is not dd.mm.yy"},
        {"patient", [](RawFile& f) { f.patient = "caf\xC3\xA9"; },
         "patient identification field 'caf\\xC3\\xA9' holds a byte"},
        {"plus_without_annotations", [](RawFile& f) { f.reserved = "BDF+C"; },
         "reserved field 'BDF+C' marks the file as BDF+, which needs a signal labelled 'BDF "
         "Annotations'"},
        {"cut_in_header", [](RawFile&) {},
         "the header of 3 signals needs 1024 bytes, the file has 700", 700},
        {"cut_in_records", [](RawFile&) {},
         "the file is shorter than its header says: number of data records 3", 3000},
        {"shorter_than_256", [](RawFile&) {}, "100 bytes, shorter than the 256-byte header", 100},
    };
    for (const auto& c : cases) {
        RawFile f = base();
        c.change(f);
        std::string bytes = build(f);
        if (c.cut_to)
            bytes.resize(c.cut_to);
        const auto path = write_raw(dir, c.name + ".bdf", bytes);
        try {
            acquisition::EdfSource source(path);
            ADD_FAILURE() << c.name << ": accepted";
        } catch (const acquisition::SourceError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(path.string() + ": not a valid EDF/BDF file: " + c.message),
                      std::string::npos)
                << c.name << ": " << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    }
}

// What EDFlib alone checks (the EDF+ subfields, the annotation lists) is named as such.
TEST(Edf, MalformedEdfPlusFieldsAreBlamedOnThem) {
    const auto dir = test_dir();
    RawFile f;
    f.reserved = "BDF+C";
    f.patient = "no-subfields";
    f.signals = {{"ES L3 L"}, {"BDF Annotations", 40, true}};
    const auto path = write_raw(dir, "patient.bdf", build(f));
    try {
        acquisition::EdfSource source(path);
        ADD_FAILURE() << "accepted";
    } catch (const acquisition::SourceError& e) {
        EXPECT_NE(std::string(e.what()).find("EDFlib rejects its BDF+ fields"), std::string::npos)
            << e.what();
    }
}

// Annotations whose onset lies outside the recording cannot mark anything in it: they are left
// out with one warning that names them; the others are kept.
TEST(Edf, AnnotationsOutsideTheRecordingAreDroppedWithAWarning) {
    const auto dir = test_dir();
    RawFile f;
    f.reserved = "BDF+C";
    f.signals = {{"ES L3 L"}, {"BDF Annotations", 40, true}};
    const std::string end(1, '\0');
    f.tals = {"-99999999\x15"
              "10\x14"
              "contraction\x14" +
                  end,
              "+1.5\x15"
              "1\x14"
              "contraction\x14" +
                  end,
              "+3.5\x14late\x14" + end};
    acquisition::EdfSource source(write_raw(dir, "onsets.bdf", build(f)));
    const auto& info = source.info();
    ASSERT_EQ(info.annotations.size(), 1u);
    EXPECT_EQ(info.annotations[0].onset_s, 1.5);
    EXPECT_EQ(info.annotations[0].duration_s, 1.0);
    ASSERT_EQ(info.warnings.size(), 1u);
    EXPECT_EQ(info.warnings[0],
              "ignoring 2 annotations with an onset outside the recording (0 to 3 s): "
              "'contraction' at -99999999 s, 'late' at 3.5 s");
}

// The corrected view works for every type: plain (no annotation signal to copy) and EDF+.
TEST(Edf, RecordCountMinusOneInPlainAndEdfPlusFiles) {
    const auto dir = test_dir();
    RawFile plain;
    plain.records_field = "-1";
    plain.signals = {{"ES L3 L"}, {"ES L3 R"}};
    expect_own_samples(write_raw(dir, "plain.bdf", build(plain)), {{"ES L3 L", 1}, {"ES L3 R", 2}});
    RawFile edf;
    edf.bdf = false;
    edf.reserved = "EDF+C";
    edf.records_field = "-1";
    edf.signals = {{"ES L3 L"}, {"EDF Annotations", 40, true}};
    edf.tals = {"", "+1.25\x14mark\x14" + std::string(1, '\0')};
    const auto path = write_raw(dir, "plus.edf", build(edf));
    expect_own_samples(path, {{"ES L3 L", 1}});
    acquisition::EdfSource source(path);
    EXPECT_EQ(source.info().format, "edf+");
    EXPECT_EQ(source.info().warnings.size(), 1u);
    ASSERT_EQ(source.info().annotations.size(), 1u);
    EXPECT_EQ(source.info().annotations[0].text, "mark");
    EXPECT_EQ(source.info().annotations[0].onset_s, 1.25);
}
