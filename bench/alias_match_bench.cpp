// Alias matching cost per chat command (issue 17 performance): one command against N enabled aliases, each with
// two formats (one with a default, one with a regex part), as AliasIndex::Match does for every Slack command.
//   BM_AliasMatch/N: a command that matches exactly one alias (the last one in ref order: every alias is tried).
//   BM_AliasNoMatch/N: a command that matches none (the cost of an unknown command).
//   BM_AliasIndexBuild/N: compiling every format once per content version.
#include <benchmark/benchmark.h>

#include <map>
#include <string>

#include "squall/aliases/match.hpp"

namespace squall::aliases {
namespace {

std::map<std::string, Json> Aliases(int n) {
    std::map<std::string, Json> out;
    for (int i = 0; i < n; ++i) {
        const std::string verb = "verb" + std::to_string(i);
        const std::string ref = "bench.alias" + std::to_string(100000 + i);
        out[ref] = Json{
            {"ref", ref},
            {"name", "alias" + std::to_string(i)},
            {"pack", "bench"},
            {"action_ref", "core.noop"},
            {"formats",
             {verb + " {{app}} to {{env=staging}}",
              Json{{"display", verb + " <host>"}, {"representation", {"(please )?" + verb + " host {{host}}"}}}}}};
    }
    return out;
}

void BM_AliasMatch(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    AliasIndex index(Aliases(n));
    const std::string command = "verb" + std::to_string(n - 1) + " web to prod timeout=30";
    for (auto _ : state) {
        Result<AliasMatch> m = index.Match(command);
        benchmark::DoNotOptimize(m);
        if (!m) state.SkipWithError("no match");
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AliasMatch)->Arg(10)->Arg(200)->Arg(1000);

void BM_AliasNoMatch(benchmark::State& state) {
    AliasIndex index(Aliases(static_cast<int>(state.range(0))));
    for (auto _ : state) {
        Result<AliasMatch> m = index.Match("frobnicate the servers now");
        benchmark::DoNotOptimize(m);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AliasNoMatch)->Arg(10)->Arg(1000);

void BM_AliasIndexBuild(benchmark::State& state) {
    const auto aliases = Aliases(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        AliasIndex index(aliases);
        benchmark::DoNotOptimize(index);
    }
}
BENCHMARK(BM_AliasIndexBuild)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace squall::aliases
