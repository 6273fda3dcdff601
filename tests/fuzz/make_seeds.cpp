// Writes the seed corpora in tests/fuzz/corpus/<harness>/ (committed; regenerate with
// `build-fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus`). Small valid inputs of every
// format and variant the readers support, so that fuzzing starts deep inside the parsers:
// libFuzzer mutates them, it does not have to discover a header layout from nothing.
#include "acquisition/edf.hpp"
#include "acquisition/protocols/encoders.hpp"
#include "tests/acquisition/opensignals_h5_writer.hpp"

#include <matio.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace semg::acquisition;

namespace {

void write(const fs::path& file, const void* data, std::size_t size) {
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary)
        .write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}
void write(const fs::path& file, const std::string& text) { write(file, text.data(), text.size()); }
void write(const fs::path& file, const std::vector<std::uint8_t>& b) {
    write(file, b.data(), b.size());
}

std::vector<float> ramp(std::size_t n, float step) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = step * static_cast<float>(i) - 50.0f;
    return v;
}

// Through the project's writer (EDFlib): EDF+/BDF+, 2 channels at 8 Hz, 2 s, one annotation.
void edf_written(const fs::path& file, EdfFormat format) {
    EdfWriterConfig config{.format = format, .sample_rate_hz = 8, .labels = {"ES L3 L", "ES L3 R"}};
    config.start = std::array<int, 6>{2000, 1, 1, 0, 0, 0};
    EdfWriter writer(file, config);
    const auto samples = ramp(2 * 16, 3.0f);
    writer.write({samples.data(), 16, 2, 16});
    writer.annotate({0.5, 1.0, "hold"});
    writer.close();
}

// By hand, for what EDFlib's writer cannot make: plain EDF, signals at other rates and units,
// and an EDF+ whose annotation signal is not the last one.
struct Signal {
    std::string label, dimension;
    int samples_per_record;
    double physical_min, physical_max;
    int digital_min, digital_max;
};
std::string field(std::string s, std::size_t width) {
    s.resize(width, ' ');
    return s;
}
void edf_by_hand(const fs::path& file, bool plus, const std::vector<Signal>& signals, int records) {
    std::string h;
    h += field("0", 8);
    h += field(plus ? "X X X X" : "fuzz seed", 80);
    h += field(plus ? "Startdate 01-JAN-2000 X X X" : "plain EDF", 80);
    h += "01.01.0000.00.00";
    h += field(std::to_string(256 * (signals.size() + 1)), 8);
    h += field(plus ? "EDF+C" : "", 44);
    h += field(std::to_string(records), 8);
    h += field("1", 8);
    h += field(std::to_string(signals.size()), 4);
    auto each = [&](auto&& f, std::size_t width) {
        for (const auto& s : signals)
            h += field(f(s), width);
    };
    each([](const Signal& s) { return s.label; }, 16);
    each([](const Signal&) { return std::string(); }, 80);
    each([](const Signal& s) { return s.dimension; }, 8);
    each([](const Signal& s) { return std::to_string(static_cast<int>(s.physical_min)); }, 8);
    each([](const Signal& s) { return std::to_string(static_cast<int>(s.physical_max)); }, 8);
    each([](const Signal& s) { return std::to_string(s.digital_min); }, 8);
    each([](const Signal& s) { return std::to_string(s.digital_max); }, 8);
    each([](const Signal&) { return std::string(); }, 80);
    each([](const Signal& s) { return std::to_string(s.samples_per_record); }, 8);
    each([](const Signal&) { return std::string(); }, 32);
    for (int r = 0; r < records; ++r) {
        for (const auto& s : signals) {
            std::string bytes(2 * static_cast<std::size_t>(s.samples_per_record), '\0');
            if (s.label == "EDF Annotations") {
                const std::string tal = "+" + std::to_string(r) + "\x14\x14";
                bytes.replace(0, tal.size(), tal);
            } else {
                for (std::size_t i = 0; i < bytes.size(); ++i)
                    bytes[i] = static_cast<char>(i * 37 + static_cast<std::size_t>(r));
            }
            h += bytes;
        }
    }
    write(file, h);
}

// WFDB: header text, a NUL, then the r.dat bytes (fuzz_wfdb.cpp's input layout).
std::string wfdb(const std::string& header, std::size_t bytes) {
    std::string out = header + std::string(1, '\0');
    for (std::size_t i = 0; i < bytes; ++i)
        out += static_cast<char>((i * 37 + 11) & 0xFF);
    return out;
}

// MATLAB files through libmatio: a Delsys-like layout (Data channels x samples, Fs per channel,
// Channels as a char matrix, Time) or a generic one (emg samples x channels, fs, labels cell).
void mat_file(const fs::path& file, mat_ft version, matio_compression compression, bool delsys) {
    fs::create_directories(file.parent_path());
    mat_t* mat = Mat_CreateVer(file.c_str(), nullptr, version);
    if (!mat)
        return;
    auto put = [&](matvar_t* v) {
        Mat_VarWrite(mat, v, compression);
        Mat_VarFree(v);
    };
    const std::size_t n = 24;
    std::vector<double> x(3 * n);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = (i % 5 == 4) ? 0.0 : 1e-5 * static_cast<double>(i % 7);
    std::size_t dims[2] = {delsys ? std::size_t{3} : n, delsys ? n : std::size_t{3}};
    put(Mat_VarCreate(delsys ? "Data" : "emg", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, x.data(), 0));
    std::vector<double> rates = {1000.0, 1000.0, 100.0};
    std::size_t rdims[2] = {delsys ? std::size_t{3} : 1, 1};
    put(Mat_VarCreate(delsys ? "Fs" : "fs", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, rdims, rates.data(), 0));
    if (delsys) {
        char names[] = "ABC:::EEAMMCGGC"; // column-major 3 x 5: rows "A:EMG", "B:EMG", "C:ACC"
        std::size_t cdims[2] = {3, 5};
        put(Mat_VarCreate("Channels", MAT_C_CHAR, MAT_T_UINT8, 2, cdims, names, 0));
        std::vector<double> t(3 * n);
        for (std::size_t i = 0; i < t.size(); ++i)
            t[i] = static_cast<double>(i / 3) / rates[i % 3];
        put(Mat_VarCreate("Time", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, t.data(), 0));
    } else {
        std::size_t cells[2] = {1, 3};
        matvar_t* labels = Mat_VarCreate("labels", MAT_C_CELL, MAT_T_CELL, 2, cells, nullptr, 0);
        static char l0[] = "MF L5 L", l1[] = "MF L5 R", l2[] = "EMG";
        char* ls[] = {l0, l1, l2};
        for (int i = 0; i < 3; ++i) {
            std::size_t len[2] = {1, std::strlen(ls[i])};
            Mat_VarSetCell(labels, i,
                           Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UTF8, 2, len, ls[i], 0));
        }
        put(labels);
        static char mv[] = "mV";
        std::size_t len[2] = {1, 2};
        put(Mat_VarCreate("units", MAT_C_CHAR, MAT_T_UTF8, 2, len, mv, 0));
    }
    Mat_Close(mat);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    const fs::path out = argv[1];

    // EDF/BDF
    fs::create_directories(out / "edf");
    edf_written(out / "edf/edfplus_2ch.edf", EdfFormat::EdfPlus);
    edf_written(out / "edf/bdfplus_2ch.bdf", EdfFormat::BdfPlus);
    edf_by_hand(out / "edf/edf_rates_units.edf", false,
                {{"EMG1", "uV", 8, -3200, 3200, -32768, 32767},
                 {"ACC", "g", 2, -8, 8, -2048, 2047},
                 {"EMG2", "mV", 8, -5, 5, -32768, 32767},
                 {"EMG3", "", 8, -100, 100, -32768, 32767}},
                2);
    edf_by_hand(out / "edf/edfplus_annotations_first.edf", true,
                {{"EDF Annotations", "", 16, -1, 1, -32768, 32767},
                 {"EMG1", "uV", 8, -3200, 3200, -32768, 32767},
                 {"EMG2", "uV", 8, -3200, 3200, -32768, 32767}},
                2);

    // CSV/TSV
    write(out / "csv/time_uv.csv", "time_s,ES L3 L_uV,ES L3 R_uV\n0,1.5,-2\n0.001,3,4e1\n"
                                   "0.002,-5,+6\n0.003,7,8\n");
    write(out / "csv/no_time_mv.csv",
          "\"left (mV)\",\"right [mV]\"\r\n0.1,0.2\r\n\r\n0.3,-0.4\r\n");
    write(out / "csv/tab.tsv", "t\tEMG1\tEMG2 V\n0\t1\t1e-6\n0.5\t2\t2e-6\n1.0\t3\t3e-6\n");
    write(out / "csv/semicolon.csv", "seconds;a_uv;b_uv\n0;1;2\n0.25;3;4\n0.5;5;6\n");

    // OpenBCI GUI text: v3/v4 Ganglion (CRLF, time of day, an index skip) and a v5/v6 Cyton
    write(out / "openbci/v3_ganglion.txt",
          "%OpenBCI Raw EEG Data\r\n%\r\n%Sample Rate = 200.0 Hz\r\n%First Column = SampleIndex\r\n"
          "%Last Column = Timestamp \r\n"
          "0, -40.62, 13.04, 0.00, 0.00, 0.000, 0.000, 0.000, 11:02:46.251\r\n"
          "1, -37.45, 29.40, 0.00, 0.00, 0.000, 0.000, 0.000, 11:02:46.269\r\n"
          "4, -39.13, 18.96, 0.00, 0.00, 0.000, 0.000, 0.000, 11:02:46.279\r\n"
          "200, -40.28, 27.36, 0.00, 0.00, 0.000, 0.000, 0.000, 11:02:48.279\r\n"
          "0, -42.05, 40.60, 0.00, 0.00, 0.000, 0.000, 0.000, 11:02:48.280\r\n");
    write(
        out / "openbci/v6_cyton.txt",
        "%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = 250 Hz\n"
        "%Board = OpenBCI_GUI$BoardCytonSerial\n"
        "Sample Index, EXG Channel 0, EXG Channel 1, Accel Channel 0, Other, Analog Channel 0, Timestamp, "
        "Marker Channel, Timestamp (Formatted)\n"
        "255.0, 1.5, -2.25, 0.0, 192.0, 0.0, 1.615912345123E9, 0.0, 2021-03-16 12:34:56.789\n"
        "0.0, 3.0, 4.0E1, 0.0, 192.0, 0.0, 1.615912345127E9, 0.0, 2021-03-16 12:34:56.793\n"
        "1.0, -5.0, 6.0, 0.0, 192.0, 0.0, 1.615912345131E9, 0.0, 2021-03-16 12:34:56.797\n");

    // OpenSignals text: two devices, EMG at 16 and 10 bits, an ECG channel, digital columns
    write(
        out / "opensignals_txt/two_devices.txt",
        "# OpenSignals Text File Format. Version 1\n"
        "# {\"00:07:80:0F:30:8C\": {\"position\": 0, \"device\": \"biosignalsplux\", \"sampling rate\": 1000, "
        "\"resolution\": [16, 16], \"label\": [\"CH1\", \"CH2\"], \"sensor\": [\"EMG\", \"ECG\"], "
        "\"column\": [\"nSeq\", \"DI\", \"CH1\", \"CH2\"]}, \"20:16:07:18:14:79\": {\"position\": 1, "
        "\"device\": \"bitalino_rev\", \"sampling rate\": 1000, \"resolution\": [10], \"label\": [\"A1\"], "
        "\"sensor\": [\"EMG\"], \"column\": [\"nSeq\", \"I1\", \"A1\"]}}\n"
        "# EndOfHeader\n"
        "0\t0\t32768\t30000\t0\t0\t512\t\n1\t0\t32868\t30000\t1\t0\t513\t\n"
        "5\t0\t65535\t30000\t5\t0\t1023\t\n6\t0\t0\t30000\t6\t0\t0\t\n");
    write(
        out / "opensignals_txt/bioplux_12bit.txt",
        "# OpenSignals Text File Format\n"
        "# {\"00:07:80:4C:01:B1\": {\"sensor\": [\"EMG\"], \"column\": [\"nSeq\", \"DI\", \"CH2\"], "
        "\"device\": \"bioplux\", \"sampling rate\": 1000, \"label\": [\"CH2\"], \"resolution\": [12]}}\n"
        "# EndOfHeader\n0\t0\t2068\t\n1\t0\t2073\t\n2\t0\t4095\t\n");

    // Montage: labels line, then the TOML file
    write(out / "montage/file.txt",
          "EMG 1|EMG 2|EMG 3|EMG 4|ECG\n"
          "description = \"seed\"\n[defaults]\nelectrode_size_mm = 10\n"
          "inter_electrode_distance_mm = 20\n"
          "[channels.\"EMG 1\"]\nmuscle = \"erector_spinae\"\nlevel = \"L3\"\nside = \"left\"\n"
          "[channels.\"EMG 2\"]\nmuscle = \"erector_spinae\"\nlevel = \"L3\"\nside = \"right\"\n"
          "[channels.\"EMG 3\"]\nmuscle = \"multifidus\"\nlevel = \"L5\"\nside = \"left\"\n"
          "electrode_size_mm = 8\n"
          "[channels.\"EMG 4\"]\nmuscle = \"multifidus\"\nlevel = \"L5-S1\"\nside = \"right\"\n"
          "[channels.ECG]\ntype = \"ecg\"\n");
    write(out / "montage/labels.txt",
          "ES L3 L|ES_L3_R|Rt LT T10|LG-L1-R|mf.l5.l|ESL4R|erector spinae L3/L4 right|Status\n");
    write(out / "montage/generic.txt", "EMG1|EMG2|ch3\n[channels.EMG1]\nside = \"midline\"\n");
    // Simulator scenarios (fuzz_scenario): every table, defaults, the two ways to give pairs.
    write(
        out / "scenario/every_table.toml",
        "seed = 3\nsample_rate_hz = 1000.0\n[protocol]\nrest_s = 2.0\nhold_s = 20.0\n"
        "contractions = 2\nramp_s = 0.25\nfatigue_carryover = 0.5\n[model]\nfh_over_fl = 2.5\n"
        "segment_s = 0.2\nband_low_hz = 20.0\nband_high_hz = 400.0\n"
        "[[pair]]\nmuscle = \"ES\"\nlevel = \"L4\"\nmdf0_hz = [72.0, 70.0]\n"
        "mdf_slope_pct_per_s = -0.3\nrms0_uv = 100.0\nlr_ratio = 1.2\nrms_slope_pct_per_s = [0.1, 0.2]\n"
        "[[pair]]\nmuscle = \"MF\"\nlevel = \"L5-S1\"\n"
        "[noise]\nbaseline_uv = 2.0\nsnr_db = 30.0\n[ecg]\nratio = 0.5\nshape = \"qrs\"\n"
        "[mains]\nfrequency_hz = 50.0\nharmonics = [1.0, 0.0, 0.3]\n"
        "[wander]\namplitude_uv = 10.0\ncomponents = 2\n"
        "[[motion]]\ntime_s = 5.0\nchannel = \"ES L4 L\"\n"
        "[[flatline]]\nchannel = 1\nstart_s = 8.0\n[[clip]]\nchannel = \"MF L5-S1 R\"\nstart_s = 4.0\n");
    write(out / "scenario/pairs.toml", "pairs = 3\n[protocol]\nhold_s = 30.0\n");
    write(out / "scenario/empty.toml", "");
    // BIDS-EMG sidecars (fuzz_bids): an emg.json and channels.tsv tables.
    write(
        out / "bids/emg.json",
        R"({"TaskName":"hold","EMGPlacementScheme":"Other","EMGPlacementSchemeDescription":"SENIAM",)"
        R"("EMGReference":"bipolar","SamplingFrequency":2048,"PowerLineFrequency":50,)"
        R"("RecordingType":"continuous","SoftwareFilters":"n/a","EMGChannelCount":2})");
    write(out / "bids/channels.tsv",
          "name\ttype\tunits\ttarget_muscle\tlevel\tside\tinterelectrode_distance\tstatus\n"
          "ES L3 L\tEMG\tuV\terector spinae\tL3\tleft\t20\tgood\n"
          "emg2\tEMG\tmV\tleft gluteus medius\tL5\tn/a\tn/a\tbad\n"
          "ECG\tECG\tV\tn/a\tn/a\tn/a\tn/a\tn/a\n");
    write(out / "bids/channels_minimal.tsv", "name\ttype\tunits\r\nGLUT L5 R\tEMG\tuV\r\n");
    // Cohorts (fuzz_cohort): a --pattern or --shard line, then a manifest; a cohort marker.
    write(
        out / "cohort/manifest.tsv",
        "{subject}/{session}/{task}.bdf\npath\tsubject\tsession\ttask\tcondition\n"
        "sub-01/ses-1/hold.bdf\tS1\tpre\thold\tcontrol\nsub-02/ses-1/hold.bdf\tS2\tn/a\thold\tpain\n");
    write(out / "cohort/shard_crlf.tsv",
          "2/8\n# comment\r\nPath\tSubject\r\n/d/b/x.bdf\tS2\r\n../a/x.edf\tn/a\r\n");
    write(
        out / "cohort/marker.json",
        R"({"relative":"sub-01/ses-1/hold.bdf","results":"sub-01/ses-1/hold.semg","subject":"sub-01",)"
        R"("session":"ses-1","task":"hold","condition":"","sha256":"00","settings":{"band":"20:450"},)"
        R"("status":"failed","error":"x: not a valid EDF/BDF file"})"
        "\n");

    // Serial protocols
    std::vector<std::uint8_t> cyton;
    for (const int n : {0, 1, 2, 4}) {
        const auto p = encode_cyton_packet(static_cast<std::uint8_t>(n),
                                           ramp(8, 10.0f * static_cast<float>(n)));
        cyton.insert(cyton.end(), p.begin(), p.end());
    }
    write(out / "cyton/board.bin", cyton);
    std::vector<std::uint8_t> daisy;
    for (const int n : {0, 2, 6}) {
        const auto p = encode_cyton_daisy_frame(static_cast<std::uint8_t>(n), ramp(16, 2.0f));
        daisy.insert(daisy.end(), p.begin(), p.end());
    }
    write(out / "cyton/daisy.bin", daisy);

    std::vector<std::uint8_t> openeeg;
    for (const int n : {0, 1, 3, 4}) {
        const auto p = encode_openeeg_packet(static_cast<std::uint8_t>(n), ramp(6, 20.0f));
        openeeg.insert(openeeg.end(), p.begin(), p.end());
    }
    write(out / "openeeg/p2.bin", openeeg);

    write(out / "ascii/header.txt",
          "ready\r\n" + encode_ascii_header(std::vector<std::string>{"L", "R"}) +
              encode_ascii_line(ramp(2, 1.0f)) + encode_ascii_line(ramp(2, 3.0f)) + "1,2,3\r\n");
    AsciiLineFormat plotter{.separator = ' ', .labels = {"L1", "R1", "L2"}, .decimals = 2};
    write(out / "ascii/plotter.txt",
          encode_ascii_line(ramp(3, 1.5f), plotter) + encode_ascii_line(ramp(3, 2.5f), plotter));

    std::vector<std::uint8_t> semg;
    SemgPacketHeader h{.format = SemgSampleFormat::Int16,
                       .channels = 2,
                       .frames = 3,
                       .sample_rate_mhz = 1'000'000,
                       .scale_uv_per_count = 0.5f,
                       .first_frame = 0};
    append_semg_packet(semg, h, ramp(6, 1.0f));
    h.format = SemgSampleFormat::Int24;
    h.first_frame = 5; // a gap of 2 frames
    append_semg_packet(semg, h, ramp(6, 2.0f));
    h.format = SemgSampleFormat::Float32;
    h.first_frame = 1; // the device restarted
    append_semg_packet(semg, h, ramp(6, 3.0f));
    write(out / "semg/packets.bin", semg);

    write(out / "wfdb/f16.bin",
          wfdb("# comment\nr 2 1000 8 12:00:00 01/01/2000\nr.dat 16 200(3)/mV 16 0 0 0 0 ES L3 L\n"
               "r.dat 16 1000/uV 16 0 0 0 0 ES L3 R\n",
               32));
    write(out / "wfdb/f212.bin",
          wfdb("r 3 360 7\nr.dat 212 200(1024)/mV 11 1024 0 0 0 A\nr.dat 212 0/mv 12 0 0 0 0 B\n"
               "r.dat 212 400/MV 12 0 0 0 0 C\n",
               32));
    write(out / "wfdb/f24.bin", wfdb("r 1 2048/1(0) 10\nr.dat 24 8388.608/mV 24 0 0 0 0 x\n", 30));
    write(out / "wfdb/f32.bin", wfdb("r 2 500\nr.dat 32+8 1e6/V 32 5\nr.dat 32+8 1/uV\n", 48));
    write(out / "wfdb/f61.bin", wfdb("r 1 100 4\nr.dat 61 50/mV\n", 8));
    write(out / "wfdb/f80.bin", wfdb("r 2 100\nr.dat 80 2/uV\nr.dat 80 3/mV 8 -2 0 0 0 b\n", 9));
    write(out / "wfdb/skip.bin",
          wfdb("r 3 250\nr.dat 16 1/mmHg 16 0 0 0 0 p\nr.dat 16 1/uV\nn.dat 0\n", 12));
    mat_file(out / "mat/delsys_v5.mat", MAT_FT_MAT5, MAT_COMPRESSION_NONE, true);
    mat_file(out / "mat/delsys_v5z.mat", MAT_FT_MAT5, MAT_COMPRESSION_ZLIB, true);
    mat_file(out / "mat/generic_v5.mat", MAT_FT_MAT5, MAT_COMPRESSION_NONE, false);
    mat_file(out / "mat/generic_v73.mat", MAT_FT_MAT73, MAT_COMPRESSION_NONE, false);
    mat_file(out / "mat/generic_v4.mat", MAT_FT_MAT4, MAT_COMPRESSION_NONE, false);

    // OpenSignals .h5: one EMG and one ECG channel, with nSeq.
    fs::create_directories(out / "opensignals_h5");
    semg::test::H5Spec h5;
    for (std::uint32_t i = 0; i < 64; ++i) {
        h5.emg.push_back(30000 + 300 * (i % 7));
        h5.ecg.push_back(100 + i);
        h5.nseq.push_back(i % 16);
    }
    semg::test::write_h5(out / "opensignals_h5/emg_ecg.h5", h5);
    return 0;
}
