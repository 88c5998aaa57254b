#define PCRE2_CODE_UNIT_WIDTH 8
#include "squall/core/regex.hpp"

#include <pcre2.h>

#include <mutex>
#include <unordered_map>

namespace squall::core {

struct Regex::Impl {
    pcre2_code* code = nullptr;
    uint32_t capture_count = 0;
    /// PCRE2's JIT ignores match-time PCRE2_ANCHORED/ENDANCHORED (those calls fall back to the interpreter, many
    /// times slower), so anchored forms get their own code, compiled with the options at first use.
    std::string translated;
    uint32_t compile_flags = 0;
    mutable std::once_flag anchored_once, full_once;
    mutable pcre2_code* anchored = nullptr;
    mutable pcre2_code* full = nullptr;

    /// The code compiled with `extra` compile options (JIT'd); falls back to `code` + match-time options.
    pcre2_code* Variant(std::once_flag& once, pcre2_code*& slot, uint32_t extra) const {
        std::call_once(once, [&] {
            int err = 0;
            PCRE2_SIZE offset = 0;
            slot = pcre2_compile(
                reinterpret_cast<PCRE2_SPTR>(translated.data()),
                translated.size(),
                compile_flags | extra,
                &err,
                &offset,
                nullptr
            );
            if (slot) pcre2_jit_compile(slot, PCRE2_JIT_COMPLETE);
        });
        return slot;
    }
    ~Impl() {
        if (code) pcre2_code_free(code);
        if (anchored) pcre2_code_free(anchored);
        if (full) pcre2_code_free(full);
    }
};

namespace {

/// Python-only group syntax → PCRE2's.
std::string Translate(std::string_view p) {
    std::string out;
    out.reserve(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\' && i + 1 < p.size()) {
            out += p[i];
            out += p[++i];
            continue;
        }
        if (p.compare(i, 4, "(?P<") == 0) {
            out += "(?<";
            i += 3;
        } else if (p.compare(i, 4, "(?P=") == 0) {
            const size_t close = p.find(')', i);
            if (close == std::string_view::npos) {
                out += p.substr(i);
                break;
            }
            out += "\\k<" + std::string(p.substr(i + 4, close - i - 4)) + ">";
            i = close;
        } else if (p.compare(i, 4, "(?P>") == 0) {
            out += "(?&";
            i += 3;
        } else {
            out += p[i];
        }
    }
    return out;
}

}  // namespace

Regex::Regex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Regex::~Regex() = default;

Result<RegexPtr> Regex::Compile(std::string_view pattern, Options options) {
    const std::string translated = Translate(pattern);
    uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    if (options.ignore_case) flags |= PCRE2_CASELESS;
    if (options.dot_all) flags |= PCRE2_DOTALL;
    if (options.multiline) flags |= PCRE2_MULTILINE;
    int err = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(), flags, &err, &offset, nullptr
    );
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return InvalidArgument(
            "invalid regular expression \"" + std::string(pattern) + "\" at offset " + std::to_string(offset) + ": " +
            reinterpret_cast<const char*>(msg)
        );
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: falls back to the interpreter
    auto impl = std::make_unique<Impl>();
    impl->code = code;
    impl->translated = translated;
    impl->compile_flags = flags;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &impl->capture_count);
    return RegexPtr(new Regex(std::move(impl)));  // NOLINT: private constructor
}

Result<RegexPtr> Regex::Cached(std::string_view pattern, Options options) {
    thread_local std::unordered_map<std::string, RegexPtr> cache;
    std::string key(1, static_cast<char>('0' + options.ignore_case + 2 * options.dot_all + 4 * options.multiline));
    key += pattern;
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    Result<RegexPtr> re = Compile(pattern, options);
    if (!re) return re;
    if (cache.size() >= 4096) cache.clear();
    cache.emplace(std::move(key), *re);
    return re;
}

namespace {

/// Match data reused per thread (one allocation per thread, not per match); patterns with more groups than it
/// holds get their own.
constexpr uint32_t kSharedPairs = 32;
pcre2_match_data* SharedMatchData() {
    struct Holder {
        pcre2_match_data* md = pcre2_match_data_create(kSharedPairs, nullptr);
        ~Holder() { pcre2_match_data_free(md); }
    };
    thread_local Holder holder;
    return holder.md;
}

}  // namespace

bool Regex::Run(
    std::string_view text,
    size_t start,
    uint32_t match_flags,
    std::vector<std::string>* groups,
    size_t* match_begin,
    size_t* match_end
) const {
    const bool own = impl_->capture_count + 1 > kSharedPairs;
    pcre2_match_data* md = own ? pcre2_match_data_create_from_pattern(impl_->code, nullptr) : SharedMatchData();
    const pcre2_code* code = impl_->code;
    if (match_flags == PCRE2_ANCHORED) {
        if (const pcre2_code* v = impl_->Variant(impl_->anchored_once, impl_->anchored, PCRE2_ANCHORED)) {
            code = v;
            match_flags = 0;
        }
    } else if (match_flags == (PCRE2_ANCHORED | PCRE2_ENDANCHORED)) {
        if (const pcre2_code* v = impl_->Variant(impl_->full_once, impl_->full, PCRE2_ANCHORED | PCRE2_ENDANCHORED)) {
            code = v;
            match_flags = 0;
        }
    }
    const int rc =
        pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, match_flags, md, nullptr);
    const bool ok = rc >= 0;
    if (ok) {
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        if (match_begin) *match_begin = ov[0];
        if (match_end) *match_end = ov[1];
        if (groups) {
            groups->clear();
            for (uint32_t g = 0; g <= impl_->capture_count; ++g) {
                if (static_cast<int>(g) < rc && ov[2 * g] != PCRE2_UNSET) {
                    groups->emplace_back(text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
                } else {
                    groups->emplace_back();
                }
            }
        }
    }
    if (own) pcre2_match_data_free(md);
    return ok;
}

bool Regex::Search(std::string_view text, std::vector<std::string>* groups) const {
    return Run(text, 0, 0, groups, nullptr, nullptr);
}

bool Regex::MatchStart(std::string_view text, std::vector<std::string>* groups) const {
    return Run(text, 0, PCRE2_ANCHORED, groups, nullptr, nullptr);
}

bool Regex::FullMatch(std::string_view text) const {
    return Run(text, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, nullptr, nullptr, nullptr);
}

std::vector<std::string> Regex::FindAll(std::string_view text) const {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t b = 0;
        size_t e = 0;
        if (!Run(text, pos, 0, nullptr, &b, &e)) break;
        out.emplace_back(text.substr(b, e - b));
        pos = e > b ? e : e + 1;
    }
    return out;
}

std::string Regex::Replace(std::string_view text, std::string_view repl) const {
    std::string out;
    size_t pos = 0;
    std::vector<std::string> groups;
    while (pos <= text.size()) {
        size_t b = 0;
        size_t e = 0;
        if (!Run(text, pos, 0, &groups, &b, &e)) break;
        out.append(text.substr(pos, b - pos));
        for (size_t i = 0; i < repl.size(); ++i) {
            if (repl[i] != '\\' || i + 1 >= repl.size()) {
                out += repl[i];
                continue;
            }
            const char n = repl[i + 1];
            if (n >= '0' && n <= '9') {
                const size_t g = static_cast<size_t>(n - '0');
                if (g < groups.size()) out += groups[g];
                ++i;
            } else if (n == 'g' && i + 2 < repl.size() && repl[i + 2] == '<') {
                const size_t close = repl.find('>', i + 3);
                const std::string name(repl.substr(i + 3, close - i - 3));
                if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
                    const size_t g = std::stoul(name);
                    if (g < groups.size()) out += groups[g];
                } else {
                    const int num =
                        pcre2_substring_number_from_name(impl_->code, reinterpret_cast<PCRE2_SPTR>(name.c_str()));
                    if (num >= 0 && static_cast<size_t>(num) < groups.size()) out += groups[static_cast<size_t>(num)];
                }
                i = close == std::string_view::npos ? repl.size() : close;
            } else if (n == 'n') {
                out += '\n';
                ++i;
            } else if (n == 't') {
                out += '\t';
                ++i;
            } else if (n == '\\') {
                out += '\\';
                ++i;
            } else {
                out += repl[i];
            }
        }
        if (e == b) {
            if (b < text.size()) out += text[b];
            pos = e + 1;
        } else {
            pos = e;
        }
    }
    if (pos < text.size()) out.append(text.substr(pos));
    return out;
}

}  // namespace squall::core
