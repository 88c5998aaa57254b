// How the CLI finds the API and authenticates (as st2's client does): `squall login` saves a token in the CLI
// config, a 0600 file, and later commands send it; $SQUALL_API_KEY or $SQUALL_AUTH_TOKEN, when set, win over it.
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "app.hpp"
#include "squall/core/clock.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kDefaultUrl = "http://127.0.0.1:9101/api/v1";

constexpr const char* kLoginUsage = R"(usage: squall login USER [-p PASSWORD] [--ttl SECONDS]
  Gets an auth token for USER (POST /auth/v1/tokens, HTTP Basic) and saves it with the API URL in the CLI config
  ($SQUALL_CLI_CONFIG, else $XDG_CONFIG_HOME/squall/cli.json, else ~/.config/squall/cli.json; mode 0600). Later
  commands send it (X-Auth-Token) until it expires. The password is read from -p, else $SQUALL_PASSWORD, else the
  terminal (not echoed) or the first line of stdin. $SQUALL_API_KEY and $SQUALL_AUTH_TOKEN, when set, are used
  instead of the saved token.
usage: squall logout              forgets the saved token
usage: squall whoami [-j]         who the API sees (GET /api/v1/user)
)";

std::string Env(const char* name) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): the CLI is single-threaded
    return v ? v : "";
}

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return ExitCode(e.code);
}

/// The saved config: {api_url, user, token, expiry}; an empty object when there is none or it does not parse.
Json LoadConfig() {
    std::ifstream in(CliConfigPath());
    if (!in) return Json::object();
    Json j = Json::parse(in, nullptr, false);
    return j.is_object() ? j : Json::object();
}

/// Writes the config readable by its owner only (0600, directory 0700), replacing the old one in one rename.
Status SaveConfig(const Json& config) {
    const std::filesystem::path path = CliConfigPath();
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return Internal("cannot create " + path.parent_path().string() + ": " + ec.message());
    ::chmod(path.parent_path().c_str(), 0700);
    const std::string tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Internal("cannot write " + tmp + ": " + std::strerror(errno));
    ::fchmod(fd, 0600);  // an older file of the same name may have had wider permissions
    const std::string text = config.dump(2) + "\n";
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return Internal("cannot write " + path.string() + ": " + std::strerror(errno));
    }
    return {};
}

/// The password: -p, $SQUALL_PASSWORD, else read from the terminal without echo, or the first line of stdin.
Result<std::string> ReadPassword(const std::map<std::string, std::string>& options) {
    if (auto it = options.find("p"); it != options.end()) return it->second;
    if (auto it = options.find("password"); it != options.end()) return it->second;
    if (std::string env = Env("SQUALL_PASSWORD"); !env.empty()) return env;
    termios old{};
    const bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        std::cerr << "Password: " << std::flush;
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string password;
    const bool got = static_cast<bool>(std::getline(std::cin, password));
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::cerr << "\n";
    }
    if (!got) return InvalidArgument("no password: give -p PASSWORD, set SQUALL_PASSWORD, or type it on stdin");
    return password;
}

bool Expired(const std::string& expiry) {
    std::chrono::system_clock::time_point at;
    return !core::ParseIsoTimestamp(expiry, &at) || at <= std::chrono::system_clock::now();
}

}  // namespace

std::string CliConfigPath() {
    if (std::string p = Env("SQUALL_CLI_CONFIG"); !p.empty()) return p;
    if (std::string x = Env("XDG_CONFIG_HOME"); !x.empty()) return x + "/squall/cli.json";
    return Env("HOME") + "/.config/squall/cli.json";
}

std::string CliApiUrl() {
    if (std::string url = Env("SQUALL_API_URL"); !url.empty()) return url;
    const Json config = LoadConfig();
    if (config.contains("api_url") && config["api_url"].is_string()) return config["api_url"];
    return kDefaultUrl;
}

api::ApiClient CliClient() {
    api::ApiClient client(CliApiUrl(), Env("SQUALL_API_KEY"));
    if (!Env("SQUALL_API_KEY").empty()) return client;
    if (std::string token = Env("SQUALL_AUTH_TOKEN"); !token.empty()) {
        client.SetAuthToken(std::move(token));
        return client;
    }
    const Json config = LoadConfig();
    const std::string token = config.value("token", "");
    // A saved token is for the API it came from: with SQUALL_API_URL pointing elsewhere it is not sent.
    if (token.empty() || config.value("api_url", "") != client.base_url()) return client;
    if (Expired(config.value("expiry", ""))) {
        std::cerr << "squall: the token saved by `squall login` for user \"" << config.value("user", "")
                  << "\" expired at " << config.value("expiry", "") << "; log in again\n";
        return client;
    }
    client.SetAuthToken(token);
    return client;
}

int LoginCommand(const std::vector<std::string>& args) {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
            std::cout << kLoginUsage;
            return 0;
        }
        if (a == "-p" || a == "--password" || a == "--ttl" || a == "-l") {
            if (i + 1 >= args.size()) return Fail(InvalidArgument("option " + a + " needs a value"));
            options[a == "-l" ? "ttl" : a.substr(a[1] == '-' ? 2 : 1)] = args[++i];
        } else if (!a.empty() && a[0] == '-') {
            return Fail(InvalidArgument("unknown option " + a + "\n" + kLoginUsage));
        } else {
            positional.push_back(a);
        }
    }
    if (positional.size() != 1) return Fail(InvalidArgument(std::string("a user name is needed\n") + kLoginUsage));
    int64_t ttl = 0;
    if (auto it = options.find("ttl"); it != options.end()) {
        char* end = nullptr;
        ttl = std::strtoll(it->second.c_str(), &end, 10);
        if (!end || *end != '\0' || ttl <= 0) return Fail(InvalidArgument("--ttl: a positive number of seconds"));
    }
    Result<std::string> password = ReadPassword(options);
    if (!password) return Fail(password.error());
    api::ApiClient client(CliApiUrl(), "");
    Result<api::ApiResponse> r = client.CreateToken(positional[0], *password, ttl);
    if (!r) return Fail(r.error());
    const Json config = {
        {"api_url", client.base_url()},
        {"user", r->body.value("user", positional[0])},
        {"token", r->body.value("token", "")},
        {"expiry", r->body.value("expiry", "")}};
    if (Status st = SaveConfig(config); !st) return Fail(st.error());
    std::cout << "Logged in as " << config["user"].get<std::string>() << " (token expires "
              << config["expiry"].get<std::string>() << "); saved in " << CliConfigPath() << "\n";
    return 0;
}

int LogoutCommand(const std::vector<std::string>& args) {
    if (args.size() > 1 && (args[1] == "-h" || args[1] == "--help")) {
        std::cout << kLoginUsage;
        return 0;
    }
    Json config = LoadConfig();
    if (!config.contains("token")) {
        std::cout << "Not logged in.\n";
        return 0;
    }
    const std::string user = config.value("user", "");
    config.erase("token");
    config.erase("expiry");
    if (Status st = SaveConfig(config); !st) return Fail(st.error());
    std::cout << "Logged out " << user << ".\n";
    return 0;
}

int WhoamiCommand(const std::vector<std::string>& args) {
    bool json = false;
    for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "-h" || args[i] == "--help") {
            std::cout << kLoginUsage;
            return 0;
        }
        if (args[i] == "-j" || args[i] == "--json") json = true;
    }
    api::ApiClient client = CliClient();
    Result<api::ApiResponse> r = client.Get("/user");
    if (!r) return Fail(r.error());
    if (json) {
        std::cout << r->body.dump(2) << "\n";
        return 0;
    }
    const Json& rbac = r->body.value("rbac", Json::object());
    std::cout << "Currently logged in as \"" << r->body.value("username", "") << "\".\n\n"
              << "Authentication method: " << r->body["authentication"].value("method", "") << "\n"
              << "Admin: " << (rbac.value("is_admin", false) ? "yes" : "no") << "\n";
    return 0;
}

}  // namespace squall::app
