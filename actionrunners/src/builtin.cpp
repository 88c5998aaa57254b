#include "builtin_runners.hpp"
#include "squall/actionrunners/runner.hpp"

namespace squall::actionrunners {

Status RunnerRegistry::Register(RunnerFactory factory) {
    const std::string name = factory.info.name;
    if (factories_.count(name)) return Error(ErrorCode::kAlreadyExists, "runner \"" + name + "\" registered twice");
    factories_.emplace(name, std::move(factory));
    return {};
}

std::optional<core::ExecutionResult> RunnerRegistry::KnownResult(
    const std::string& runner_type, const std::string& action_ref
) const {
    const RunnerFactory* f = Find(runner_type);
    if (f == nullptr || !f->known_result) return std::nullopt;
    return f->known_result(action_ref);
}

const RunnerFactory* RunnerRegistry::Find(const std::string& name) const {
    auto it = factories_.find(name);
    return it == factories_.end() ? nullptr : &it->second;
}

std::vector<packs::RunnerTypeInfo> RunnerRegistry::Infos() const {
    std::vector<packs::RunnerTypeInfo> out;
    for (const auto& [n, f] : factories_) out.push_back(f.info);
    return out;
}

void RegisterBuiltinRunners(RunnerRegistry& registry) {
    for (auto* make :
         {&LocalShellCmdFactory,
          &NoopFactory,
          &InquirerFactory,
          &PackManagerFactory,
          &LocalShellScriptFactory,
          &PythonScriptFactory,
          &HttpRequestFactory,
          &RemoteShellCmdFactory,
          &RemoteShellScriptFactory,
          &OrquestaFactory,
          &ActionChainFactory,
          &AnnouncementFactory}) {
        Status st = registry.Register(make());
        if (!st) throw Exception(st.error());  // a bug: built-ins register once
    }
}

}  // namespace squall::actionrunners
