// Writes the seed corpora in tests/fuzz/corpus/<harness>/ (committed; regenerate with
// `build-fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus`). Small valid inputs of every
// format and variant the readers support, so that fuzzing starts deep inside the parsers:
// libFuzzer mutates them, it does not have to discover a header layout from nothing.
#include "acquisition/edf.hpp"
#include "acquisition/protocols/encoders.hpp"

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
    std::ofstream(file, std::ios::binary).write(static_cast<const char*>(data),
                                                static_cast<std::streamsize>(size));
}
void write(const fs::path& file, const std::string& text) { write(file, text.data(), text.size()); }
void write(const fs::path& file, const std::vector<std::uint8_t>& b) { write(file, b.data(), b.size()); }

std::vector<float> ramp(std::size_t n, float step) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = step * static_cast<float>(i) - 50.0f;
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
        for (const auto& s : signals) h += field(f(s), width);
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
    write(out / "csv/no_time_mv.csv", "\"left (mV)\",\"right [mV]\"\r\n0.1,0.2\r\n\r\n0.3,-0.4\r\n");
    write(out / "csv/tab.tsv", "t\tEMG1\tEMG2 V\n0\t1\t1e-6\n0.5\t2\t2e-6\n1.0\t3\t3e-6\n");
    write(out / "csv/semicolon.csv", "seconds;a_uv;b_uv\n0;1;2\n0.25;3;4\n0.5;5;6\n");

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
    // BIDS-EMG sidecars (fuzz_bids): an emg.json and channels.tsv tables.
    write(out / "bids/emg.json",
          R"({"TaskName":"hold","EMGPlacementScheme":"Other","EMGPlacementSchemeDescription":"SENIAM",)"
          R"("EMGReference":"bipolar","SamplingFrequency":2048,"PowerLineFrequency":50,)"
          R"("RecordingType":"continuous","SoftwareFilters":"n/a","EMGChannelCount":2})");
    write(out / "bids/channels.tsv",
          "name\ttype\tunits\ttarget_muscle\tlevel\tside\tinterelectrode_distance\tstatus\n"
          "ES L3 L\tEMG\tuV\terector spinae\tL3\tleft\t20\tgood\n"
          "emg2\tEMG\tmV\tleft gluteus medius\tL5\tn/a\tn/a\tbad\n"
          "ECG\tECG\tV\tn/a\tn/a\tn/a\tn/a\tn/a\n");
    write(out / "bids/channels_minimal.tsv", "name\ttype\tunits\r\nGLUT L5 R\tEMG\tuV\r\n");

    // Serial protocols
    std::vector<std::uint8_t> cyton;
    for (const int n : {0, 1, 2, 4}) {
        const auto p = encode_cyton_packet(static_cast<std::uint8_t>(n), ramp(8, 10.0f * static_cast<float>(n)));
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

    write(out / "ascii/header.txt", "ready\r\n" + encode_ascii_header(std::vector<std::string>{"L", "R"}) +
                                        encode_ascii_line(ramp(2, 1.0f)) +
                                        encode_ascii_line(ramp(2, 3.0f)) + "1,2,3\r\n");
    AsciiLineFormat plotter{.separator = ' ', .labels = {"L1", "R1", "L2"}, .decimals = 2};
    write(out / "ascii/plotter.txt",
          encode_ascii_line(ramp(3, 1.5f), plotter) + encode_ascii_line(ramp(3, 2.5f), plotter));

    std::vector<std::uint8_t> semg;
    SemgPacketHeader h{.format = SemgSampleFormat::Int16, .channels = 2, .frames = 3,
                       .sample_rate_mhz = 1'000'000, .scale_uv_per_count = 0.5f, .first_frame = 0};
    append_semg_packet(semg, h, ramp(6, 1.0f));
    h.format = SemgSampleFormat::Int24;
    h.first_frame = 5; // a gap of 2 frames
    append_semg_packet(semg, h, ramp(6, 2.0f));
    h.format = SemgSampleFormat::Float32;
    h.first_frame = 1; // the device restarted
    append_semg_packet(semg, h, ramp(6, 3.0f));
    write(out / "semg/packets.bin", semg);
    return 0;
}
