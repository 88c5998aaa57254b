// `squall user add|list|delete` (SPEC §10): the users POST /auth/v1/tokens authenticates, in DATA/users.json.
// Works on the data dir directly, as StackStorm's flat-file (htpasswd) backend is managed with a local tool: no
// server or API key needed, only the right to write the data dir.
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "app.hpp"
#include "squall/api/users.hpp"
#include "squall/core/clock.hpp"

namespace squall::app {
namespace {

constexpr const char* kUserUsage = R"(usage: squall user <command> [--data-dir DIR]

  user add NAME [--admin] [--update]   add a user; the password is read from stdin (one line) or prompted for
  user list [-j]                       the users (never their password hashes)
  user delete NAME                     remove a user (their tokens end when they expire or are revoked)

The users live in DATA/users.json (mode 0600, salted PBKDF2-SHA256 hashes). DATA is --data-dir, else
$SQUALL_DATA_DIR, else $SQUALL_HOME, else ~/.squall. A user logs in with `st2 login NAME` or
POST /auth/v1/tokens (HTTP Basic); admins (--admin) may manage API keys, read secrets and install packs.
)";

std::string DataDir(const std::string& flag) {
    if (!flag.empty()) return flag;
    for (const char* var : {"SQUALL_DATA_DIR", "SQUALL_HOME"}) {
        const char* v = std::getenv(var);  // NOLINT(concurrency-mt-unsafe): single-threaded CLI
        if (v && *v) return v;
    }
    const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe)
    return home && *home ? std::string(home) + "/.squall" : std::string(".squall");
}

/// One line from the terminal with echo off.
std::string PromptHidden(const std::string& prompt) {
    std::cerr << prompt << std::flush;
    termios old{};
    const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::cerr << "\n";
    return line;
}

/// The password: prompted for twice on a terminal, else the first line of stdin.
Result<std::string> ReadPassword() {
    if (isatty(STDIN_FILENO) != 0) {
        const std::string first = PromptHidden("Password: ");
        if (PromptHidden("Password (again): ") != first) return InvalidArgument("the passwords differ");
        if (first.empty()) return InvalidArgument("password: must not be empty");
        return first;
    }
    std::string line;
    if (!std::getline(std::cin, line) || line.empty()) {
        return InvalidArgument("password: expected one non-empty line on stdin");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.message << "\n";
    return ExitCode(e.code);
}

}  // namespace

int UserCommand(const std::vector<std::string>& args) {
    if (args.size() < 2 || args[1] == "-h" || args[1] == "--help") {
        (args.size() < 2 ? std::cerr : std::cout) << kUserUsage;
        return args.size() < 2 ? 2 : 0;
    }
    const std::string& sub = args[1];
    std::vector<std::string> positional;
    std::string data_dir;
    bool admin = false;
    bool update = false;
    bool json = false;
    for (size_t i = 2; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--admin") {
            admin = true;
        } else if (a == "--update") {
            update = true;
        } else if (a == "-j" || a == "--json") {
            json = true;
        } else if (a == "--data-dir") {
            if (i + 1 >= args.size()) return Fail(InvalidArgument("option --data-dir needs a value"));
            data_dir = args[++i];
        } else if (a.rfind("--data-dir=", 0) == 0) {
            data_dir = a.substr(11);
        } else if (!a.empty() && a[0] == '-') {
            std::cerr << "ERROR: unknown option " << a << "\n" << kUserUsage;
            return 2;
        } else {
            positional.push_back(a);
        }
    }
    api::UserFile file(DataDir(data_dir));
    if (sub == "add") {
        if (positional.size() != 1) return Fail(InvalidArgument("usage: squall user add NAME [--admin] [--update]"));
        if (Status st = api::ValidateUserName(positional[0]); !st) return Fail(st.error());
        Result<std::string> password = ReadPassword();
        if (!password) return Fail(password.error());
        if (Status st = file.AddBlocking(positional[0], *password, admin, update, core::SystemClock()); !st) {
            return Fail(st.error());
        }
        std::cout << "User \"" << positional[0] << "\" " << (update ? "saved" : "added") << (admin ? " (admin)" : "")
                  << " in " << file.path() << ".\n";
        return 0;
    }
    if (sub == "list") {
        Result<std::vector<api::UserRecord>> users = file.LoadBlocking();
        if (!users) return Fail(users.error());
        core::Json rows = core::Json::array();
        for (const auto& u : *users)
            rows.push_back({{"name", u.name}, {"admin", u.admin}, {"created_at", u.created_at}});
        if (json) {
            std::cout << rows.dump(2) << "\n";
        } else {
            PrintTable(rows, {{"name", "name"}, {"admin", "admin"}, {"created_at", "created_at"}});
        }
        return 0;
    }
    if (sub == "delete") {
        if (positional.size() != 1) return Fail(InvalidArgument("usage: squall user delete NAME"));
        if (Status st = file.DeleteBlocking(positional[0]); !st) return Fail(st.error());
        std::cout << "User \"" << positional[0] << "\" deleted.\n";
        return 0;
    }
    std::cerr << "ERROR: unknown command \"user " << sub << "\"\n" << kUserUsage;
    return 2;
}

}  // namespace squall::app
