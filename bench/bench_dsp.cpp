// Throughput of the streaming stages, in samples per second across all channels.
//   build/bench/bench_dsp
#include "dsp/epoch_analyzer.hpp"
#include "dsp/iir.hpp"
#include "dsp/quality.hpp"

#include <benchmark/benchmark.h>

#include <random>
#include <string>

using namespace semg;

namespace {

dsp::Block noise_block(std::size_t channels, std::size_t frames) {
    dsp::Block block(channels, frames);
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 50.0f);
    for (std::size_t c = 0; c < channels; ++c)
        for (std::size_t i = 0; i < frames; ++i)
            block.channel(c)[i] = dist(rng);
    block.set_frames(frames);
    return block;
}

void BM_Bandpass(benchmark::State& state) {
    const auto channels = static_cast<std::size_t>(state.range(0));
    auto block = noise_block(channels, 4096);
    dsp::Bandpass bp({});
    bp.prepare({2048.0, channels});
    for (auto _ : state) {
        bp.process(block.ref());
        benchmark::DoNotOptimize(block.channel(0)[0]);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(channels * 4096));
}
BENCHMARK(BM_Bandpass)->Arg(1)->Arg(16)->Arg(64);

// One SOS cascade (args: channels, sections, SIMD lanes), 4096 frames per call: the band-pass has
// 4 sections, the quality stage's 1-20 Hz and the ECG detector's 5-15 Hz band-passes 2.
void BM_SosFilter(benchmark::State& state) {
    const auto channels = static_cast<std::size_t>(state.range(0));
    const auto sections = static_cast<int>(state.range(1));
    auto block = noise_block(channels, 4096);
    dsp::SosFilter filter(
        dsp::butterworth(dsp::FilterKind::Bandpass, sections, 20.0, 450.0, 2048.0));
    filter.prepare({2048.0, channels}, static_cast<std::size_t>(state.range(2)));
    for (auto _ : state) {
        filter.process(block.ref());
        benchmark::DoNotOptimize(block.channel(0)[0]);
    }
    state.SetLabel(std::to_string(filter.lanes()) + " lanes");
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(channels * 4096));
}
BENCHMARK(BM_SosFilter)->ArgsProduct({{1, 16}, {2, 4}, {2, 4, 8}});

void BM_EpochAnalyzer(benchmark::State& state) {
    const auto channels = static_cast<std::size_t>(state.range(0));
    auto block = noise_block(channels, 4096);
    dsp::EpochAnalyzer analyzer({});
    analyzer.prepare({2048.0, channels});
    std::size_t epochs = 0;
    for (auto _ : state)
        analyzer.process(block.cref(), [&](const dsp::EpochFrame&) { ++epochs; });
    benchmark::DoNotOptimize(epochs);
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(channels * 4096));
}
BENCHMARK(BM_EpochAnalyzer)->Arg(1)->Arg(16)->Arg(64);

// Quality rules on (raw, analysed) pairs of noise, without an ECG stage.
void BM_QualityAnalyzer(benchmark::State& state) {
    const auto channels = static_cast<std::size_t>(state.range(0));
    const auto raw = noise_block(channels, 4096);
    auto analysed = raw;
    dsp::Bandpass bp({});
    bp.prepare({2048.0, channels});
    bp.process(analysed.ref());
    dsp::QualityAnalyzer quality({});
    quality.prepare({2048.0, channels});
    std::size_t epochs = 0;
    for (auto _ : state)
        quality.process(raw.cref(), analysed.cref(), nullptr,
                        [&](const dsp::QualityFrame&) { ++epochs; });
    benchmark::DoNotOptimize(epochs);
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(channels * 4096));
}
BENCHMARK(BM_QualityAnalyzer)->Arg(1)->Arg(16)->Arg(64);

} // namespace

BENCHMARK_MAIN();
