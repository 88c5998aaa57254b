// Tables of the CLI's list commands, sized to the terminal as st2's are: each column as wide as its widest cell,
// and when the row is wider than the terminal the widest columns give way, their long cells cut with an ellipsis.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "app.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr size_t kGap = 2;          ///< spaces between columns
constexpr size_t kMinColumn = 6;    ///< a column never shrinks below this (or its title, if shorter)
constexpr size_t kMaxUnsized = 60;  ///< the widest cell when the width is unknown (output not a terminal)
constexpr const char* kEllipsis = "\u2026";

/// Display columns of UTF-8 text: one per code point (continuation bytes do not count).
size_t Columns(const std::string& text) {
    size_t n = 0;
    for (const unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
    return n;
}

/// `text` cut to `width` columns, the last of them an ellipsis when anything was cut; never splits a code point.
std::string Fit(const std::string& text, size_t width) {
    if (Columns(text) <= width) return text;
    if (width == 0) return "";
    size_t kept = 0;
    size_t bytes = 0;
    while (bytes < text.size()) {
        size_t next = bytes + 1;
        while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
        if (kept + 1 > width - 1) break;
        ++kept;
        bytes = next;
    }
    return text.substr(0, bytes) + kEllipsis;
}

std::string Cell(const Json& row, const std::string& path) {
    const Json* v = &row;
    std::stringstream ss(path);
    std::string part;
    while (v && std::getline(ss, part, '.')) v = v->is_object() && v->contains(part) ? &(*v)[part] : nullptr;
    if (!v || v->is_null()) return "";
    std::string text = v->is_string() ? v->get<std::string>() : v->dump();
    // One line per row: a newline or tab in a cell would break the table.
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\t', ' ');
    return text;
}

}  // namespace

size_t TerminalWidth() {
    // COLUMNS first (what the shell says, and what tests and scripts set), then the terminal itself.
    if (const char* env = std::getenv("COLUMNS"); env && *env) {  // NOLINT(concurrency-mt-unsafe): single-threaded
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end && *end == '\0' && n > 0) return static_cast<size_t>(n);
    }
    winsize ws{};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 0;
}

std::vector<size_t> FitColumns(std::vector<size_t> widths, const std::vector<size_t>& titles, size_t terminal) {
    if (terminal == 0 || widths.empty()) return widths;
    auto total = [&] {
        size_t t = kGap * (widths.size() - 1);
        for (const size_t w : widths) t += w;
        return t;
    };
    // Narrow the widest column one step at a time, so that long columns give way first and short ones keep whole.
    while (total() > terminal) {
        size_t widest = 0;
        for (size_t c = 1; c < widths.size(); ++c) {
            if (widths[c] > widths[widest]) widest = c;
        }
        const size_t floor = std::min(std::max(titles[widest], kMinColumn), widths[widest]);
        if (widths[widest] <= floor) break;  // nothing left to give: the terminal is narrower than the titles
        --widths[widest];
    }
    return widths;
}

void PrintTable(const Json& rows, const std::vector<std::pair<std::string, std::string>>& columns) {
    const size_t terminal = TerminalWidth();
    std::vector<std::vector<std::string>> cells;
    std::vector<size_t> widths;
    std::vector<size_t> titles;
    std::vector<std::string> header;
    for (const auto& [title, path] : columns) {
        header.push_back(title);
        titles.push_back(Columns(title));
        widths.push_back(Columns(title));
    }
    for (const auto& row : rows) {
        std::vector<std::string> line;
        for (size_t c = 0; c < columns.size(); ++c) {
            std::string text = Cell(row, columns[c].second);
            if (terminal == 0) text = Fit(text, kMaxUnsized);
            widths[c] = std::max(widths[c], Columns(text));
            line.push_back(std::move(text));
        }
        cells.push_back(std::move(line));
    }
    widths = FitColumns(std::move(widths), titles, terminal);
    auto print_row = [&](const std::vector<std::string>& line) {
        std::string out;
        for (size_t c = 0; c < line.size(); ++c) {
            const std::string text = Fit(line[c], widths[c]);
            out += text;
            if (c + 1 < line.size()) out += std::string(widths[c] - Columns(text) + kGap, ' ');
        }
        std::cout << out << "\n";
    };
    print_row(header);
    for (const auto& line : cells) print_row(line);
}

}  // namespace squall::app
