// Template rendering throughput (SPEC §5 target: `{{ trigger.body.repository.full_name }}` ≥ 2 M renders/s/core).
#include <benchmark/benchmark.h>

#include "squall/templates/template.hpp"

namespace {

using squall::core::Json;

const Json& Context() {
    static const Json kCtx = Json::parse(R"({
      "trigger": {"body": {"ref": "refs/heads/main", "after": "0123456789abcdef",
        "repository": {"full_name": "octo/repo", "name": "repo", "private": false, "owner": {"login": "octo"}},
        "commits": [{"id": "abc", "message": "Fix"}, {"id": "def", "message": "Add"}],
        "pusher": {"name": "octo", "email": "octo@example.com"}}},
      "action_context": {"user": "stanley"}
    })");
    return kCtx;
}

void BM_RenderPathText(benchmark::State& state) {
    auto tpl = squall::core::Template::Compile("{{ trigger.body.repository.full_name }}").value();
    const Json& ctx = Context();
    for (auto _ : state) {
        auto r = tpl->RenderText(ctx);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderPathText);

void BM_RenderPathTyped(benchmark::State& state) {
    auto tpl = squall::core::Template::Compile("{{ trigger.body.repository.full_name }}").value();
    const Json& ctx = Context();
    for (auto _ : state) {
        auto r = tpl->Render(ctx);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderPathTyped);

void BM_RenderValueCached(benchmark::State& state) {
    const Json value = "{{ trigger.body.repository.full_name }}";
    const Json& ctx = Context();
    for (auto _ : state) {
        auto r = squall::core::RenderValue(value, ctx);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderValueCached);

void BM_RenderMixed(benchmark::State& state) {
    auto tpl = squall::core::Template::Compile(
                   "{% for c in trigger.body.commits %}{{ loop.index }}:{{ c.id | upper }} {% endfor %}"
                   "{{ trigger.body.ref | replace('refs/heads/', '') }} by {{ action_context.user | default('x') }}"
    )
                   .value();
    const Json& ctx = Context();
    for (auto _ : state) {
        auto r = tpl->RenderText(ctx);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderMixed);

}  // namespace
