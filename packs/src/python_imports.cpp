#include "python_imports.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#ifndef SQUALL_PYTHON_WRAPPER_DIR
#error "SQUALL_PYTHON_WRAPPER_DIR must point at actionrunners/python (the st2common shim)"
#endif

namespace squall::packs {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxSourceBytes = 1024 * 1024;  // larger files are not looked at

std::string ReadBounded(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return {};
    std::string text(kMaxSourceBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    return text.size() > kMaxSourceBytes ? std::string() : text;
}

bool IsIdentChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

/// The module's file in the shim (`a.b` → a/b.py or a/b/__init__.py), empty when there is none.
fs::path ModuleFile(const fs::path& shim, const std::string& module) {
    fs::path p = shim;
    size_t start = 0;
    while (start <= module.size()) {
        const size_t dot = module.find('.', start);
        p /= module.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    std::error_code ec;
    if (fs::is_regular_file(p / "__init__.py", ec)) return p / "__init__.py";
    fs::path file = p;
    file += ".py";
    if (fs::is_regular_file(file, ec)) return file;
    return {};
}

/// `name` is defined or imported in the module's source (a word of it): `from st2common.util import shell`.
bool ModuleHasName(const fs::path& module_file, const std::string& name) {
    const std::string text = ReadBounded(module_file);
    for (size_t p = text.find(name); p != std::string::npos; p = text.find(name, p + 1)) {
        const bool start_ok = p == 0 || !IsIdentChar(text[p - 1]);
        const bool end_ok = p + name.size() >= text.size() || !IsIdentChar(text[p + name.size()]);
        if (start_ok && end_ok) return true;
    }
    return false;
}

}  // namespace

fs::path St2commonShimDir() {
    if (const char* d = std::getenv("SQUALL_PYTHON_WRAPPER_DIR"); d && *d) return d;  // NOLINT(concurrency-mt-unsafe)
    return SQUALL_PYTHON_WRAPPER_DIR;
}

std::optional<MissingImport> FindMissingSt2commonImport(const fs::path& file, const fs::path& shim_dir) {
    std::error_code ec;
    if (!fs::is_regular_file(shim_dir / "st2common" / "__init__.py", ec)) return std::nullopt;
    const std::string text = ReadBounded(file);
    std::istringstream in(text);
    std::string line;
    size_t lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.empty() || line[0] == '#') continue;
        if (line[0] == ' ' || line[0] == '\t') continue;  // inside a block: a function, class or try
        const bool from = line.rfind("from st2common", 0) == 0;
        const bool plain = line.rfind("import st2common", 0) == 0;
        if (!from && !plain) continue;
        const size_t mod_start = from ? 5 : 7;
        size_t mod_end = mod_start;
        while (mod_end < line.size() && IsIdentChar(line[mod_end])) ++mod_end;
        const std::string module = line.substr(mod_start, mod_end - mod_start);
        if (module != "st2common" && module.rfind("st2common.", 0) != 0) continue;
        const fs::path module_file = ModuleFile(shim_dir, module);
        if (module_file.empty()) return MissingImport{lineno, mod_start + 1, module};
        if (!from) continue;
        // from M import a, b as c, (d, e): each name a submodule of M or defined in it.
        const size_t imp = line.find(" import ", mod_end);
        if (imp == std::string::npos) continue;
        std::string names = line.substr(imp + 8);
        if (const size_t hash = names.find('#'); hash != std::string::npos) names.resize(hash);
        std::istringstream parts(names);
        std::string part;
        while (std::getline(parts, part, ',')) {
            std::istringstream words(part);
            std::string name;
            words >> name;
            while (!name.empty() && (name.front() == '(' || name.front() == '\\')) name.erase(name.begin());
            while (!name.empty() && (name.back() == ')' || name.back() == '\\')) name.pop_back();
            if (name.empty() || name == "*") continue;
            if (!ModuleFile(shim_dir, module + "." + name).empty() || ModuleHasName(module_file, name)) continue;
            return MissingImport{lineno, imp + 9 + line.substr(imp + 8).find(name), module + "." + name};
        }
    }
    return std::nullopt;
}

}  // namespace squall::packs
