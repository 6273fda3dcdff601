// PLUX OpenSignals .txt and .h5: files written here (the .h5 through the HDF5 C API, in
// OpenSignals' layout), the EMG transfer function to µV, labels, rates, skipped channels, nSeq
// gaps, malformed files; the .txt reader against the .h5 reader on the same samples; and the three
// shared biceps recordings against the CSV route (issue 13, criterion 1).
#include "acquisition/file_source.hpp"
#include "acquisition/opensignals_source.hpp"
#include "tests/acquisition/epoch_compare.hpp"
#include "tests/acquisition/opensignals_h5_writer.hpp"
#include "tests/acquisition/reader_test_util.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

using namespace semg;
using acquisition::OpenSignalsH5Source;
using acquisition::OpenSignalsTextSource;
using acquisition::SourceError;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() { return test::scratch_dir("semg_opensignals_"); }

fs::path write(const std::string& name, const std::string& text) {
    return test::write_file(temp_dir(), name, text);
}

std::vector<std::vector<float>> read_all(acquisition::Source& source) {
    return test::read_all(source, 7);
}

using test::error_of;

// The transfer function written out independently: EMG_mV = (ADC/2^n - 0.5) * VCC/G, in µV.
double emg_uv(double adc, int bits, double vcc_v, double gain) {
    return (adc / std::pow(2.0, bits) - 0.5) * vcc_v / gain * 1e6;
}

// Two devices in one file, as OpenSignals writes them: a biosignalsplux (nSeq, DI, EMG on CH1 at
// 16 bits, ECG on CH2) and a BITalino (r)evolution (nSeq, I1, I2, O1, O2, EMG on A1 at 10 bits).
const std::string kTwoDevices =
    "# OpenSignals Text File Format. Version 1\n"
    "# {\"00:07:80:0F:30:8C\": {\"position\": 0, \"device\": \"biosignalsplux\", \"sampling rate\": 1000, "
    "\"resolution\": [16, 16], \"label\": [\"CH1\", \"CH2\"], \"sensor\": [\"EMG\", \"ECG\"], "
    "\"column\": [\"nSeq\", \"DI\", \"CH1\", \"CH2\"], \"channels\": [1, 2], \"time\": \"10:00:00.000\"}, "
    "\"20:16:07:18:14:79\": {\"position\": 1, \"device\": \"bitalino_rev\", \"sampling rate\": 1000, "
    "\"resolution\": [10], \"label\": [\"A1\"], \"sensor\": [\"EMG\"], "
    "\"column\": [\"nSeq\", \"I1\", \"I2\", \"O1\", \"O2\", \"A1\"]}}\n"
    "# EndOfHeader\n";

std::string two_device_rows(int n, int skip_at = -1) {
    std::ostringstream s;
    for (int i = 0, seq = 0; i < n; ++i, ++seq) {
        if (i == skip_at)
            seq += 3;
        s << seq % 16 << "\t0\t" << 32768 + 100 * i << "\t30000\t" << seq % 16 << "\t0\t0\t0\t0\t"
          << 512 + i << "\t\n";
    }
    return s.str();
}

fs::path temp_h5(const std::string& name, const test::H5Spec& spec) {
    const auto path = temp_dir() / name;
    test::write_h5(path, spec);
    return path;
}

test::H5Spec ramp_spec(std::uint32_t n) {
    test::H5Spec s;
    for (std::uint32_t i = 0; i < n; ++i) {
        s.emg.push_back(30000 + 30 * i);
        s.ecg.push_back(100);
        s.nseq.push_back(i % 16);
    }
    return s;
}

} // namespace

TEST(OpenSignals, TransferFunctionPerDevice) {
    // PLUX EMG datasheet / biosignalsnotebooks: VCC 3 V, G 1000 (biosignalsplux family);
    // BITalino 3.3 V / 1008, (r)evolution and R-IoT 3.3 V / 1009.
    for (const char* d : {"biosignalsplux", "bioplux", "channeller", "BioSignalsPlux"}) {
        const auto t = acquisition::plux_emg_transfer(d);
        EXPECT_TRUE(t.known) << d;
        EXPECT_EQ(t.vcc_mv, 3000.0);
        EXPECT_EQ(t.gain, 1000.0);
    }
    EXPECT_EQ(acquisition::plux_emg_transfer("bitalino").gain, 1008.0);
    EXPECT_EQ(acquisition::plux_emg_transfer("bitalino_rev").gain, 1009.0);
    EXPECT_EQ(acquisition::plux_emg_transfer("bitalino_rev").vcc_mv, 3300.0);
    EXPECT_FALSE(acquisition::plux_emg_transfer("muscleban").known);
    const auto s =
        acquisition::PluxScale::make(acquisition::plux_emg_transfer("biosignalsplux"), 16);
    EXPECT_DOUBLE_EQ(32768 * s.scale_uv + s.offset_uv, 0.0);
    EXPECT_DOUBLE_EQ(0 * s.scale_uv + s.offset_uv, -1500.0); // ±1.5 mV range
    const auto ch = s.channel("x");
    EXPECT_DOUBLE_EQ(*ch.physical_min_uv, -1500.0);
    EXPECT_NEAR(*ch.physical_max_uv, 1500.0, 0.05);
    EXPECT_NEAR(*ch.resolution_uv, 3000.0 / 65536.0, 1e-12);
}

// The device's "date" and "time" (OpenSignals writes them without leading zeros) give the
// recording's start, which the session log keeps as the visit's date.
TEST(OpenSignals, StartTimeFromTheDevicesDateAndTime) {
    using acquisition::plux_start_time;
    EXPECT_EQ(plux_start_time("2017-5-30", "16:5:52.345"), "2017-05-30T16:05:52.345");
    EXPECT_EQ(plux_start_time("2020-12-01", "09:00:00"), "2020-12-01T09:00:00");
    for (const auto& [date, time] :
         std::vector<std::pair<const char*, const char*>>{{"2017-13-30", "16:5:52"},
                                                          {"2017-5-30", "24:0:0"},
                                                          {"30/5/2017", "16:5:52"},
                                                          {"2017-5-30", "16:5"},
                                                          {"2017-5-30", "16:5:52.x"},
                                                          {"2017-5-30x", "16:5:52"},
                                                          {"", ""}})
        EXPECT_EQ(plux_start_time(date, time), std::nullopt) << date << " " << time;
}

TEST(OpenSignals, TextTwoDevicesLabelsUnitsAndSkippedChannels) {
    OpenSignalsTextSource source(write("two.txt", kTwoDevices + two_device_rows(20)));
    const auto& info = source.info();
    EXPECT_EQ(info.format, "opensignals-txt");
    EXPECT_EQ(info.sample_rate_hz, 1000.0);
    ASSERT_EQ(info.channels.size(), 2u);
    EXPECT_EQ(info.channels[0].label, "CH1");
    EXPECT_EQ(info.channels[1].label, "A1");
    std::vector<std::string> skipped;
    for (const auto& s : info.skipped)
        skipped.push_back(s.label);
    EXPECT_EQ(skipped, (std::vector<std::string>{"DI", "CH2", "I1", "I2", "O1", "O2"}));
    EXPECT_TRUE(info.warnings.empty()) << info.warnings.front();
    EXPECT_EQ(*info.total_frames, 20u);
    const auto x = read_all(source);
    for (int i : {0, 7, 19}) {
        EXPECT_NEAR(x[0][i], emg_uv(32768 + 100 * i, 16, 3.0, 1000.0), 1e-3) << i;
        EXPECT_NEAR(x[1][i], emg_uv(512 + i, 10, 3.3, 1009.0), 1e-3) << i;
    }
    EXPECT_FLOAT_EQ(x[0][0], 0.0f);
}

TEST(OpenSignals, TextNSeqGapIsAWarning) {
    OpenSignalsTextSource source(write("gap.txt", kTwoDevices + two_device_rows(40, 10)));
    const auto& w = source.info().warnings;
    ASSERT_EQ(w.size(), 3u); // one place per device, and the summary
    EXPECT_NE(w[0].find("line 14: nSeq of device 00:07:80:0F:30:8C 9 then 13 (3 samples lost"),
              std::string::npos)
        << w[0];
    EXPECT_NE(w[2].find("6 samples lost in all"), std::string::npos) << w[2];
}

TEST(OpenSignals, TextMalformedFilesGiveOneMessageNamingFileAndLine) {
    const std::string header = kTwoDevices;
    struct Case {
        const char* name;
        std::string text;
        std::string expected;
    };
    const std::vector<Case> cases{
        {"bad_json.txt", "# OpenSignals Text File Format\n# {\"a\": \n# EndOfHeader\n1\t2\n",
         "line 2: header JSON: not valid JSON"},
        {"no_end.txt", "# OpenSignals Text File Format\n# {}\n",
         "line 2: header JSON: not an object of devices"},
        {"no_end2.txt", header.substr(0, header.find("# EndOfHeader")), "no '# EndOfHeader' line"},
        {"no_json.txt", "# OpenSignals Text File Format\n# EndOfHeader\n1\t2\n",
         "no header JSON line"},
        {"row_in_header.txt", "# OpenSignals Text File Format\n1\t2\n",
         "line 2: a data row before '# EndOfHeader'"},
        {"no_rows.txt", header, "no data rows"},
        {"short_row.txt", header + two_device_rows(2) + "2\t0\t1\n",
         "line 6: 3 fields, the header's columns are 10"},
        {"beyond.txt", header + two_device_rows(2) + "2\t0\t70000\t0\t2\t0\t0\t0\t0\t1\n",
         "line 6: channel 'CH1': count 70000 is outside 0..65535"},
        {"bitalino_beyond.txt", header + "0\t0\t1\t0\t0\t0\t0\t0\t0\t1024\n",
         "line 4: channel 'A1': count 1024 is outside 0..1023"},
        {"not_count.txt", header + "0\t0\t1.5\t0\t0\t0\t0\t0\t0\t1\n",
         "line 4: channel 'CH1': '1.5' is not an ADC count"},
        {"bad_seq.txt", header + "x\t0\t1\t0\t0\t0\t0\t0\t0\t1\n",
         "line 4: nSeq of device 00:07:80:0F:30:8C: 'x'"},
        {"no_emg.txt",
         "# OpenSignals Text File Format\n# {\"AA\": {\"sampling rate\": 100, \"resolution\": [16], \"label\": [\"CH1\"], "
         "\"sensor\": [\"ECG\"], \"column\": [\"nSeq\", \"CH1\"]}}\n# EndOfHeader\n0\t1\n",
         "line 2: header JSON: no channel with an EMG sensor (CH1 (sensor ECG))"},
        {"no_rate.txt",
         "# OpenSignals Text File Format\n# {\"AA\": {\"resolution\": [16], \"label\": [\"CH1\"], \"sensor\": [\"EMG\"], "
         "\"column\": [\"CH1\"]}}\n# EndOfHeader\n1\n",
         "line 2: header JSON: device 'AA': \"sampling rate\" is missing"},
        {"resolutions.txt",
         "# OpenSignals Text File Format\n# {\"AA\": {\"sampling rate\": 100, \"resolution\": [16, 16], \"label\": [\"CH1\"], "
         "\"sensor\": [\"EMG\"], \"column\": [\"CH1\"]}}\n# EndOfHeader\n1\n",
         "\"resolution\" must give one bit count per label (1)"},
    };
    for (const auto& c : cases) {
        const auto path = write(c.name, c.text);
        const std::string message = error_of<OpenSignalsTextSource>(path);
        EXPECT_NE(message.find(path.string() + ": "), std::string::npos)
            << c.name << ": " << message;
        EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": " << message;
    }
}

TEST(OpenSignals, H5LayoutUnitsLabelsAndSkippedChannels) {
    const auto path = temp_h5("ramp.h5", ramp_spec(1000));
    OpenSignalsH5Source source(path);
    const auto& info = source.info();
    EXPECT_EQ(info.format, "opensignals-h5");
    EXPECT_EQ(info.sample_rate_hz, 2000.0);
    ASSERT_EQ(info.channels.size(), 1u);
    EXPECT_EQ(info.channels[0].label, "PORT1_CHN1");
    ASSERT_EQ(info.skipped.size(), 1u);
    EXPECT_EQ(info.skipped[0].label, "ECG chest");
    EXPECT_EQ(*info.total_frames, 1000u);
    EXPECT_TRUE(info.warnings.empty()) << info.warnings.front();
    const auto x = read_all(source);
    ASSERT_EQ(x[0].size(), 1000u);
    for (int i : {0, 500, 999})
        EXPECT_NEAR(x[0][i], emg_uv(30000 + 30 * i, 16, 3.0, 1000.0), 1e-3);
    // Chosen by its signature, whatever the name.
    fs::copy_file(path, temp_dir() / "ramp.dat", fs::copy_options::overwrite_existing);
    EXPECT_EQ(acquisition::open_file_source(temp_dir() / "ramp.dat")->info().format,
              "opensignals-h5");
}

TEST(OpenSignals, H5MalformedFiles) {
    auto spec = ramp_spec(100);
    spec.with_rate = false;
    auto path = temp_h5("no_rate.h5", spec);
    EXPECT_NE(error_of<OpenSignalsH5Source>(path).find(
                  path.string() + ": device group '/00:07:80:0F:30:8C': attribute "
                                  "'sampling rate' is missing"),
              std::string::npos)
        << error_of<OpenSignalsH5Source>(path);

    spec = ramp_spec(100);
    spec.resolution = {12}; // counts from 30000 do not fit 12 bits
    path = temp_h5("resolution.h5", spec);
    EXPECT_NE(error_of<OpenSignalsH5Source>(path).find(
                  "/00:07:80:0F:30:8C/raw/channel_1[0]: count 30000 is outside 0..4095"),
              std::string::npos)
        << error_of<OpenSignalsH5Source>(path);

    spec = ramp_spec(100);
    spec.resolution = {16, 16, 16}; // three entries for two channels
    path = temp_h5("resolutions.h5", spec);
    EXPECT_NE(
        error_of<OpenSignalsH5Source>(path).find("'channels' does not say which is channel 1"),
        std::string::npos)
        << error_of<OpenSignalsH5Source>(path);

    spec = ramp_spec(100);
    for (std::size_t i = 40; i < spec.nseq.size(); ++i)
        spec.nseq[i] = (i + 4) % 16; // 4 lost before sample 40
    path = temp_h5("gap.h5", spec);
    OpenSignalsH5Source gap(path);
    ASSERT_EQ(gap.info().warnings.size(), 2u) << gap.info().warnings.back();
    EXPECT_NE(gap.info().warnings[0].find("nSeq[40]: 7 then 12 (4 samples lost"), std::string::npos)
        << gap.info().warnings[0];
    EXPECT_NE(gap.info().warnings[1].find("4 samples lost in all"), std::string::npos)
        << gap.info().warnings[1];

    // An HDF5 file that is not an OpenSignals recording.
    const auto other = temp_dir() / "other.h5";
    H5Fclose(H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    EXPECT_NE(error_of<OpenSignalsH5Source>(other).find("not an OpenSignals HDF5 file"),
              std::string::npos);
    // Not HDF5 at all, named .h5.
    const auto text = write("text.h5", "hello");
    EXPECT_NE(error_of<OpenSignalsH5Source>(text).find("not a readable HDF5 file"),
              std::string::npos);
}

namespace {

// Counts and nSeq of the shared recording's one EMG channel, through the C API.
struct RawColumn {
    std::string mac, label;
    int channel = 0, resolution = 0, rate_hz = 0;
    std::vector<std::uint32_t> counts, nseq;
};

RawColumn read_raw(const fs::path& h5) {
    RawColumn r;
    const hid_t file = H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    char name[64] = {};
    H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, 0, name, sizeof name, H5P_DEFAULT);
    r.mac = name;
    const hid_t device = H5Gopen2(file, name, H5P_DEFAULT);
    for (const auto& [attr, out] :
         {std::pair{"resolution", &r.resolution}, std::pair{"sampling rate", &r.rate_hz}}) {
        const hid_t a = H5Aopen(device, attr, H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_INT, out);
        H5Aclose(a);
    }
    const hid_t raw = H5Gopen2(device, "raw", H5P_DEFAULT);
    H5G_info_t gi{};
    H5Gget_info(raw, &gi);
    for (hsize_t i = 0; i < gi.nlinks; ++i) {
        char link[64] = {};
        H5Lget_name_by_idx(raw, ".", H5_INDEX_NAME, H5_ITER_INC, i, link, sizeof link, H5P_DEFAULT);
        const std::string l = link;
        auto& target = l == "nSeq" ? r.nseq : r.counts;
        if (l.starts_with("channel_"))
            r.channel = std::stoi(l.substr(8));
        const hid_t d = H5Dopen2(raw, link, H5P_DEFAULT);
        const hid_t space = H5Dget_space(d);
        hsize_t dims[2] = {};
        H5Sget_simple_extent_dims(space, dims, nullptr);
        target.resize(dims[0]);
        H5Dread(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, target.data());
        H5Sclose(space);
        H5Dclose(d);
    }
    H5Gclose(raw);
    H5Gclose(device);
    H5Fclose(file);
    r.label = "CH" + std::to_string(r.channel);
    return r;
}

const char* const kBsnb[] = {"emg_fatigue", "emg_1000_hz_16_bits_solo", "emg_bursts"};

} // namespace

// The .txt reader against the .h5 reader: the shared recording's counts written out as the
// OpenSignals text export of the same acquisition (header JSON from the .h5 attributes) must give
// the very same float samples.
TEST(OpenSignalsRealData, TextExportOfTheH5GivesTheSameSamples) {
    const auto folder = test::shared_datasets() / "bsnb-biceps-fatigue";
    if (!fs::exists(folder))
        GTEST_SKIP() << folder << " not found";
    for (const char* name : kBsnb) {
        const auto h5 = folder / (std::string(name) + ".h5");
        RawColumn raw = read_raw(h5);
        raw.label = OpenSignalsH5Source(h5).info().channels.at(0).label; // the 'label' attribute
        ASSERT_EQ(raw.counts.size(), raw.nseq.size()) << name;
        std::ostringstream txt;
        txt << "# OpenSignals Text File Format\n# {\"" << raw.mac
            << "\": {\"sensor\": [\"EMG\"], \"device name\": \"" << raw.mac
            << "\", \"column\": [\"nSeq\", \"DI\", \"" << raw.label << "\"], \"sync interval\": 2, "
            << "\"device\": \"bioplux\", \"position\": 0, \"sampling rate\": " << raw.rate_hz
            << ", \"label\": [\"" << raw.label << "\"], \"resolution\": [" << raw.resolution
            << "], \"channels\": [" << raw.channel << "], \"special\": [{}]}}\n# EndOfHeader\n";
        // OpenSignals' text nSeq wraps at 16 bits instead of sticking at 65535.
        for (std::size_t i = 0; i < raw.counts.size(); ++i)
            txt << i % 65536 << "\t0\t" << raw.counts[i] << "\t\n";
        const auto path = write(std::string(name) + ".txt", txt.str());
        auto from_txt = acquisition::open_file_source(path);
        auto from_h5 = acquisition::open_file_source(h5);
        ASSERT_EQ(from_txt->info().format, "opensignals-txt");
        ASSERT_EQ(from_h5->info().format, "opensignals-h5");
        ASSERT_TRUE(from_h5->info().start_time) << name << ": the device's date and time";
        EXPECT_TRUE(std::regex_match(*from_h5->info().start_time,
                                     std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?)")))
            << *from_h5->info().start_time;
        EXPECT_TRUE(from_txt->info().warnings.empty()) << from_txt->info().warnings.front();
        EXPECT_EQ(from_txt->info().sample_rate_hz, from_h5->info().sample_rate_hz);
        EXPECT_EQ(from_txt->info().channels[0].label, from_h5->info().channels[0].label);
        const auto a = read_all(*from_txt), b = read_all(*from_h5);
        ASSERT_EQ(a[0].size(), raw.counts.size());
        EXPECT_EQ(a, b) << name;
    }
}

// Issue 13, criterion 1: each shared .h5 read natively gives the per-epoch MDF and RMS of the CSV
// route used so far (the derived .csv next to it, column emg_mV: the same transfer function,
// written in mV with 6 decimals, i.e. each sample rounded by up to 0.0005 µV).
// Tolerances, from that rounding:
//   RMS: the rounding error signal e has |e| <= 0.0005 µV, and the band-pass and notches have gain
//   <= 1, so |RMS(x + e) - RMS(x)| <= RMS(e) <= 0.0005 µV (triangle inequality); both routes also
//   round to float (half an ulp at 1500 µV: 6e-5 µV). Bound 0.001 µV. Measured: 3.8e-5 µV at most.
//   MDF: measured 0.0048 Hz at most (emg_1000_hz_16_bits_solo, a quiet epoch; 0.0013 and 0.0016 Hz
//   on the others). Bound 0.02 Hz, four times that, 0.5 % of a 4 Hz Welch bin: a real change of
//   the samples (scale, offset, a lost sample) moves MDF by far more.
TEST(OpenSignalsRealData, NativeEqualsCsvRoutePerEpoch) {
    const auto folder = test::shared_datasets() / "bsnb-biceps-fatigue";
    if (!fs::exists(folder))
        GTEST_SKIP() << folder << " not found";
    for (const char* name : kBsnb) {
        auto native = acquisition::open_file_source(folder / (std::string(name) + ".h5"));
        auto via_csv = acquisition::open_file_source(folder / (std::string(name) + ".csv"));
        ASSERT_EQ(native->info().total_frames, via_csv->info().total_frames) << name;
        pipeline::AnalysisSettings csv_settings;
        csv_settings.channels = {"emg_mV"};
        const auto a = test::epoch_series(*native), b = test::epoch_series(*via_csv, csv_settings);
        const auto d = test::compare(a, b);
        std::printf(
            "%s: %zu epochs, max difference MDF %.3g Hz (%.3g relative), RMS %.3g uV (%.3g relative)\n",
            name, d.epochs, d.mdf_hz, d.mdf_rel, d.rms_uv, d.rms_rel);
        EXPECT_GT(d.epochs, 20u) << name;
        EXPECT_LE(d.mdf_hz, 0.02) << name;
        EXPECT_LE(d.rms_uv, 0.001) << name;
    }
}
