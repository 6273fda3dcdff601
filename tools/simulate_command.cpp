// `semg simulate OUTPUT`: a simulated bilateral paraspinal recording with its ground truth.
// Writes BDF+ (.bdf or no extension), EDF+ (.edf) or CSV (.csv) and OUTPUT.truth.json, both
// under temporary names in the output folder and renamed into place only when complete.
#include "acquisition/edf.hpp"
#include "acquisition/serial_stream.hpp"
#include "acquisition/simulator.hpp"
#include "pipeline/output_dir.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace semg::tools {
namespace {

struct SimulateOptions {
    std::filesystem::path output;
    std::filesystem::path scenario;
    std::optional<double> hold_s;
    std::optional<double> rest_s;
    std::optional<double> fs_hz;
    std::optional<std::size_t> pairs;
    std::optional<double> fatigue_pct_per_s;
    std::optional<double> imbalance;
    std::optional<int> contractions;
    std::optional<double> ecg_ratio;
    std::optional<int> mains_hz;
    std::optional<double> mains_uv;
    std::optional<double> snr_db;
    std::optional<double> wander_uv;
    std::vector<std::string> flatlines;
    std::vector<std::string> clips;
    std::optional<std::uint64_t> seed;
    bool quiet = false;
    // --serial: stream instead of writing a file (acquisition/serial_stream.hpp).
    std::string serial;
    std::string protocol = "semg";
    std::optional<unsigned> baud;
    double corrupt_rate = 0.0;
    double drop_rate = 0.0;
    std::uint64_t fault_seed = 1;
    double speed = 1.0;
    bool no_wait = false;
    bool print_labels = false;
};

enum class OutputFormat { BdfPlus, EdfPlus, Csv };

OutputFormat format_for(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (ext == ".bdf" || ext.empty())
        return OutputFormat::BdfPlus;
    if (ext == ".edf")
        return OutputFormat::EdfPlus;
    if (ext == ".csv")
        return OutputFormat::Csv;
    throw std::invalid_argument(path.string() + ": unknown output type '" + ext +
                                "' (use .bdf, .edf or .csv)");
}

double parse_number(const std::string& text, const std::string& what) {
    double v = 0.0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v))
        throw std::invalid_argument(what + ": '" + text + "' is not a number");
    return v;
}

// "CH:T" or "CH:T:X" -> {CH, T, X?}; CH is a label or a 0-based index.
std::tuple<std::string, double, std::optional<double>>
parse_fault(const std::string& text, const std::string& option, bool allow_level) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t pos; (pos = text.find(':', start)) != std::string::npos; start = pos + 1)
        parts.push_back(text.substr(start, pos - start));
    parts.push_back(text.substr(start));
    const std::string form = allow_level ? "CH:T[:LEVEL_UV]" : "CH:T";
    if (parts.size() < 2 || parts.size() > (allow_level ? 3u : 2u) || parts[0].empty())
        throw std::invalid_argument(option + ": expected " + form +
                                    " (channel label or 0-based "
                                    "index, time in s), got '" +
                                    text + "'");
    std::optional<double> level;
    if (parts.size() == 3)
        level = parse_number(parts[2], option + " level");
    return {parts[0], parse_number(parts[1], option + " time"), level};
}

acquisition::Scenario build_scenario(const SimulateOptions& o) {
    acquisition::Scenario s =
        o.scenario.empty() ? acquisition::Scenario{} : acquisition::load_scenario(o.scenario);
    const bool default_pairs = o.scenario.empty();
    if (o.seed)
        s.seed = *o.seed;
    if (o.fs_hz)
        s.sample_rate_hz = *o.fs_hz;
    if (o.hold_s)
        s.protocol.hold_s = *o.hold_s;
    if (o.rest_s)
        s.protocol.rest_before_s = s.protocol.rest_between_s = s.protocol.rest_after_s = *o.rest_s;
    if (o.contractions)
        s.protocol.contractions = *o.contractions;
    if (o.pairs) {
        if (*o.pairs < 1 || *o.pairs > acquisition::max_default_pairs)
            throw std::invalid_argument("--pairs must be 1 to " +
                                        std::to_string(acquisition::max_default_pairs));
        // Keep the scenario's first pairs; fill up from the default list.
        const auto defaults = acquisition::default_pairs(acquisition::max_default_pairs);
        while (s.pairs.size() < *o.pairs)
            s.pairs.push_back(defaults[s.pairs.size()]);
        s.pairs.resize(*o.pairs);
    }
    if (o.fatigue_pct_per_s) {
        if (!(*o.fatigue_pct_per_s >= 0.0))
            throw std::invalid_argument("--fatigue-pct-per-s is the rate of MDF decline and must "
                                        "be >= 0");
        for (auto& p : s.pairs)
            p.mdf_slope_pct_per_s = {-*o.fatigue_pct_per_s, -*o.fatigue_pct_per_s};
    }
    // Below 1 kHz the band ends at 0.45 fs: the default pairs (MDF 70-80 Hz in 20-450 Hz) are
    // seen as a slower board sees the same muscles. A scenario file's pairs are taken as given.
    const double high_hz = 0.45 * s.sample_rate_hz;
    if (default_pairs && s.sample_rate_hz > 0.0 && high_hz < s.model.band_high_hz)
        for (auto& p : s.pairs)
            p = acquisition::pair_in_band(p, s.model, high_hz);
    if (o.imbalance) {
        if (!(*o.imbalance > 0.0))
            throw std::invalid_argument("--imbalance (L/R ratio) must be > 0");
        for (auto& p : s.pairs)
            p.lr_ratio = *o.imbalance;
    }
    if (o.ecg_ratio) {
        s.ecg.enabled = *o.ecg_ratio > 0.0;
        s.ecg.ratio = *o.ecg_ratio;
    }
    if (o.mains_hz) {
        if (*o.mains_hz != 50 && *o.mains_hz != 60)
            throw std::invalid_argument("--mains must be 50 or 60");
        s.mains.frequency_hz = *o.mains_hz;
    }
    if (o.mains_uv)
        s.mains.amplitude_uv = *o.mains_uv;
    if (o.snr_db)
        s.noise.snr_db = *o.snr_db;
    if (o.wander_uv)
        s.wander.amplitude_uv = *o.wander_uv;
    for (const auto& f : o.flatlines) {
        const auto [ch, t, unused] = parse_fault(f, "--flatline", false);
        s.flatlines.push_back({ch, t, 0.0});
    }
    for (const auto& c : o.clips) {
        const auto [ch, t, level] = parse_fault(c, "--clip", true);
        s.clips.push_back({ch, t, level});
    }
    acquisition::validate(s);
    return s;
}

// EDFlib stamps the header with the wall-clock time; a simulation has no real date, so the
// start is set to a nominal 01.01.2000 00:00:00 and equal seeds give byte-identical files.
// (EdfWriterConfig has no start-time setting yet; the fields are fixed-width ASCII.)
void write_edf(acquisition::Simulator& sim, const std::filesystem::path& temp,
               OutputFormat format) {
    const auto& info = sim.info();
    const double fs = info.sample_rate_hz;
    if (fs != std::round(fs))
        throw std::invalid_argument("EDF/BDF files need a whole-number sample rate, not " +
                                    human(fs) + " Hz (write .csv instead)");
    acquisition::EdfWriterConfig cfg;
    cfg.format = format == OutputFormat::EdfPlus ? acquisition::EdfFormat::EdfPlus
                                                 : acquisition::EdfFormat::BdfPlus;
    cfg.sample_rate_hz = static_cast<int>(fs);
    cfg.start = std::array<int, 6>{2000, 1, 1, 0, 0, 0}; // same seed, same bytes
    for (const auto& ch : info.channels)
        cfg.labels.push_back(ch.label);
    const double bound = sim.peak_bound_uv();
    cfg.physical_min_uv = -bound;
    cfg.physical_max_uv = bound;
    cfg.equipment = "semg simulate seed " + std::to_string(sim.scenario().seed);
    cfg.prefilter = "none (simulated)";
    acquisition::EdfWriter writer(temp, cfg);
    dsp::Block block(info.channels.size(), 4096);
    while (const std::size_t n = sim.read(block.capacity_ref())) {
        block.set_frames(n);
        writer.write(block.cref());
    }
    for (const auto& a : info.annotations)
        writer.annotate(a);
    writer.close();
}

// Shortest text that reads back as the same value.
template <class T> void put_number(std::string& line, T value) {
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    line.append(buf.data(), end);
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos)
        return text;
    std::string quoted = "\"";
    for (char ch : text)
        quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return quoted + "\"";
}

void write_csv(acquisition::Simulator& sim, std::ofstream& out) {
    const auto& info = sim.info();
    std::string line = "time_s";
    for (const auto& ch : info.channels)
        line += "," + csv_field(ch.label + "_uV");
    out << line << '\n';
    dsp::Block block(info.channels.size(), 4096);
    std::uint64_t frame = 0;
    while (const std::size_t n = sim.read(block.capacity_ref())) {
        block.set_frames(n);
        for (std::size_t i = 0; i < n; ++i, ++frame) {
            line.clear();
            put_number(line, static_cast<double>(frame) / info.sample_rate_hz);
            for (std::size_t c = 0; c < info.channels.size(); ++c) {
                line += ',';
                put_number(line, block.channel(c)[i]);
            }
            line += '\n';
            out << line;
        }
        if (!out)
            throw std::runtime_error("write failed (disk full?)");
    }
}

// The rate a device of this protocol streams at, when --fs does not say otherwise.
std::optional<double> protocol_rate_hz(acquisition::Protocol protocol) {
    const double rate_hz = acquisition::traits(protocol).device_rate_hz;
    return rate_hz > 0.0 ? std::optional<double>(rate_hz) : std::nullopt;
}

// `semg simulate --serial PATH`: a fake device on a serial port or pty, paced by the sample
// clock, with seeded faults. Ends with the source, at Ctrl-C/SIGTERM, at the Cyton 's'
// command, or when the port goes away.
void stream(SimulateOptions o, acquisition::Protocol protocol) {
    const auto& device = acquisition::traits(protocol);
    const std::string name(device.name);
    const auto fixed = protocol_rate_hz(protocol);
    if (fixed && o.fs_hz && *o.fs_hz != *fixed)
        log_warning("a real " + name + " streams at " + human(*fixed) + " Hz, not " +
                    human(*o.fs_hz) + " Hz; give `semg capture` the same --fs");
    if (fixed && !o.fs_hz)
        o.fs_hz = fixed;
    acquisition::Simulator sim(build_scenario(o));
    const auto& info = sim.info();
    std::string labels;
    for (const auto& ch : info.channels)
        labels += (labels.empty() ? "" : ",") + ch.label;
    // The labels first, before the port is opened: the capture's command line needs them.
    if (protocol != acquisition::Protocol::Ascii)
        log_notice(name + " sends no channel names; capture with --labels \"" + labels + "\"");
    acquisition::SerialStreamerConfig cfg;
    cfg.packets.protocol = protocol;
    cfg.packets.faults = {o.corrupt_rate, o.drop_rate, o.fault_seed};
    cfg.speed = o.speed;
    cfg.wait_for_start_command = !o.no_wait;
    acquisition::SerialStreamer streamer(sim, cfg);
    acquisition::SerialSettings port_settings;
    port_settings.port = o.serial;
    port_settings.baud_rate = o.baud.value_or(device.default_baud);
    port_settings.thread_name = "semg-sim-serial";
    acquisition::SerialTransport port(port_settings);

    // Signals are taken by a thread (no work in a handler) and end the stream cleanly.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::stop_source stop;
    std::jthread signal_thread([&stop, signals](std::stop_token self) {
        const timespec poll{0, 100'000'000};
        while (!self.stop_requested())
            if (::sigtimedwait(&signals, nullptr, &poll) > 0)
                stop.request_stop();
    });
    log_notice("streaming " + std::to_string(info.channels.size()) + " channels at " +
               human(info.sample_rate_hz) + " Hz, " + human(sim.scenario().duration_s()) +
               " s, as " + name + " to " + o.serial +
               (!device.start_commands.empty() && !o.no_wait ? " (waiting for 'b')" : ""));
    const auto stats = streamer.run(port, stop.get_token());
    signal_thread.request_stop();
    signal_thread.join();
    if (!o.quiet)
        std::cout << "sent " << stats.frames << " frames in " << stats.packets << " packets ("
                  << stats.bytes << " bytes); corrupted " << stats.corrupted_packets << ", dropped "
                  << stats.dropped_packets << " packets: " << stats.lost_frames
                  << " frames lost in " << stats.lost_runs << " runs\n";
}

void simulate(const SimulateOptions& o) {
    const auto protocol = parse_protocol(o.protocol, "--protocol");
    if (o.print_labels) {
        // The channel names a binary protocol does not send, for `semg capture --labels`.
        SimulateOptions sized = o;
        if (!sized.fs_hz)
            sized.fs_hz = protocol_rate_hz(protocol);
        acquisition::Simulator sim(build_scenario(sized));
        std::string labels;
        for (const auto& ch : sim.info().channels)
            labels += (labels.empty() ? "" : ",") + ch.label;
        std::cout << labels << '\n';
        return;
    }
    if (!o.serial.empty()) {
        if (!o.output.empty())
            throw std::invalid_argument("give either OUTPUT or --serial PATH, not both");
        stream(o, protocol);
        return;
    }
    if (o.output.empty())
        throw std::invalid_argument("an OUTPUT file or --serial PATH is required");
    const auto format = format_for(o.output);
    acquisition::Simulator sim(build_scenario(o));
    const auto name = o.output.filename().string();
    if (name.empty() || name == "." || name == "..")
        throw std::invalid_argument(o.output.string() + ": not a file name");
    const auto parent = o.output.parent_path();
    pipeline::OutputDir out(parent.empty() ? std::filesystem::path(".") : parent);
    const std::string truth_name = name + ".truth.json";
    if (format == OutputFormat::Csv)
        write_csv(sim, out.open(name));
    else
        write_edf(sim, out.temp_path(name), format);
    out.open(truth_name) << sim.truth().dump(2) << '\n';
    out.commit();

    if (!o.quiet) {
        const auto& info = sim.info();
        const char* kind = format == OutputFormat::Csv       ? "CSV"
                           : format == OutputFormat::EdfPlus ? "EDF+"
                                                             : "BDF+";
        std::cout << "wrote " << o.output.string() << ": " << kind << ", " << info.channels.size()
                  << " channels at " << human(info.sample_rate_hz) << " Hz, "
                  << human(sim.scenario().duration_s()) << " s, " << sim.contractions().size()
                  << (sim.contractions().size() == 1 ? " contraction" : " contractions")
                  << ", seed " << sim.scenario().seed << "\n"
                  << "truth: " << (parent / truth_name).string() << "\n";
    }
}

} // namespace

void register_simulate(CLI::App& app) {
    auto o = std::make_shared<SimulateOptions>();
    auto* cmd = app.add_subcommand(
        "simulate", "Simulated bilateral paraspinal sEMG with ground truth (OUTPUT.truth.json)");
    cmd->add_option("output", o->output, "Output file: .bdf (BDF+, default), .edf (EDF+) or .csv");
    cmd->add_option("--scenario", o->scenario,
                    "TOML scenario file (see docs/simulator.md); the "
                    "options below override it");
    cmd->add_option("--hold-s", o->hold_s, "Length of each contraction (hold) in s [90]");
    // --duration-s is the total length in `semg capture`; here it was the hold.
    add_deprecated_alias(*cmd, "--duration-s", o->hold_s, "--hold-s");
    cmd->add_option("--rest-s", o->rest_s, "Rest before, between and after contractions in s [5]");
    cmd->add_option("--fs", o->fs_hz,
                    "Sample rate in Hz [2048; --serial: the protocol's, cyton 250, cyton-daisy "
                    "125, openeeg 256]; EDF/BDF need a whole number. Below 1 kHz the default "
                    "pairs are the same muscles seen in the narrower band (docs/simulator.md)");
    cmd->add_option("--pairs", o->pairs, "Number of bilateral pairs, 1 to 8 [4]");
    cmd->add_option("--fatigue-pct-per-s", o->fatigue_pct_per_s,
                    "MDF decline in %/s on every channel (default: per channel, 0.18 to 0.45)");
    cmd->add_option("--imbalance", o->imbalance,
                    "Left/right RMS ratio on every pair (default: per pair, 0.90 to 1.25)");
    cmd->add_option("--contraction-count", o->contractions, "Number of contractions [1]");
    // --contractions says where contractions come from in `semg analyze` and `semg capture`.
    add_deprecated_alias(*cmd, "--contractions", o->contractions, "--contraction-count");
    cmd->add_option("--ecg-ratio", o->ecg_ratio,
                    "Add ECG: R-peak amplitude relative to the mean EMG RMS (stronger on the left "
                    "and higher up)");
    // --ecg is the ECG removal method in `semg analyze` and `semg capture`.
    add_deprecated_alias(*cmd, "--ecg", o->ecg_ratio, "--ecg-ratio");
    cmd->add_option("--mains", o->mains_hz, "Add mains interference at 50 or 60 Hz with harmonics");
    cmd->add_option("--mains-uv", o->mains_uv, "Mains fundamental amplitude in uV [10]");
    cmd->add_option("--noise-snr-db", o->snr_db, "Add white noise at this SNR relative to RMS0");
    cmd->add_option("--wander-uv", o->wander_uv, "Add baseline wander of this RMS in uV");
    // One value per occurrence, so that a following OUTPUT is not taken as a second value.
    cmd->add_option("--flatline", o->flatlines,
                    "CH:T electrode off: channel (label or 0-based index) reads 0 uV from T s; "
                    "repeatable")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--clip", o->clips,
                    "CH:T[:LEVEL_UV] amplifier saturation from T s (default level 1.5 x RMS0); "
                    "repeatable")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--seed", o->seed, "Random seed [1]");
    cmd->add_flag("-q,--quiet", o->quiet, "Print nothing on success; warnings and errors only");
    cmd->add_flag("--print-labels", o->print_labels,
                  "Print the channel labels of this simulation (comma-separated, for `semg "
                  "capture --labels`) and exit");
    cmd->add_option(
        "--serial", o->serial,
        "Stream to this serial port or pty in real time instead of writing OUTPUT (a fake device "
        "for `semg capture`)");
    cmd->add_option("--protocol", o->protocol, "--serial: " + acquisition::protocol_names())
        ->capture_default_str();
    cmd->add_option("--baud", o->baud, "--serial: baud rate (ignored by ptys)");
    cmd->add_option(
           "--corrupt-rate", o->corrupt_rate,
           "--serial: share of packets sent with one corrupt byte (detectable by the protocol)")
        ->capture_default_str();
    cmd->add_option("--drop-rate", o->drop_rate, "--serial: share of packets not sent")
        ->capture_default_str();
    cmd->add_option("--fault-seed", o->fault_seed, "--serial: seed of the fault pattern")
        ->capture_default_str();
    cmd->add_option("--speed", o->speed,
                    "--serial: pace, 1 = real time, 0 = as fast as the port takes it")
        ->capture_default_str();
    cmd->add_flag("--no-wait", o->no_wait,
                  "--serial cyton: stream at once instead of waiting for 'b'");
    cmd->callback([o]() {
        set_quiet(o->quiet);
        // A setting that cannot be simulated is the command line's fault; anything else is
        // the port or the disk.
        run_command(
            [&] {
                try {
                    simulate(*o);
                } catch (const std::invalid_argument& e) {
                    throw UsageError(e.what());
                }
            },
            ExitCode::DeviceIo);
    });
}

} // namespace semg::tools
