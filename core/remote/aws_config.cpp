#include "core/remote/aws_config.hpp"

#include "core/util/error.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cairn::remote::aws {
namespace {

std::string_view trim(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The file's text, or nullopt when it does not exist or cannot be read (the AWS tools too treat
// an unreadable file as absent).
std::optional<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::filesystem::path aws_file(const Env& env, const char* variable, const char* name) {
    if (auto set = env(variable)) return *set;
    auto home = env("HOME");
    if (!home) return {};
    return std::filesystem::path(*home) / ".aws" / name;
}

const IniSection* find(const Ini& ini, const std::string& name) {
    auto it = ini.find(name);
    return it == ini.end() ? nullptr : &it->second;
}

std::string value(const IniSection* section, const char* key) {
    if (section == nullptr) return {};
    auto it = section->find(key);
    return it == section->end() ? std::string() : it->second;
}

} // namespace

Ini parse_ini(std::string_view text) {
    Ini ini;
    IniSection* current = nullptr;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view raw = text.substr(pos, end - pos);
        pos = end + 1;
        if (raw.empty() || raw.front() == ' ' || raw.front() == '\t') continue;
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        if (line.front() == '[') {
            auto close = line.find(']');
            if (close == std::string_view::npos) {
                current = nullptr; // a broken header: its keys belong to no section
                continue;
            }
            // "[profile  x]" and "[ x ]" as the AWS CLI reads them.
            std::string name(trim(line.substr(1, close - 1)));
            if (name.rfind("profile", 0) == 0 && name.size() > 7 && (name[7] == ' ' || name[7] == '\t')) {
                name = "profile " + std::string(trim(std::string_view(name).substr(8)));
            }
            current = &ini[name];
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos || current == nullptr) continue;
        auto key = trim(line.substr(0, eq));
        if (key.empty()) continue;
        (*current)[lower(key)] = std::string(trim(line.substr(eq + 1)));
    }
    return ini;
}

std::optional<std::string> process_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
}

Resolved resolve(const Env& env, const std::string& region_override) {
    Resolved resolved;
    std::string profile = env("AWS_PROFILE").value_or("default");
    auto credentials_path = aws_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
    auto config_path = aws_file(env, "AWS_CONFIG_FILE", "config");
    Ini credentials_ini, config_ini;
    if (!credentials_path.empty()) {
        if (auto text = read_file(credentials_path)) credentials_ini = parse_ini(*text);
    }
    if (!config_path.empty()) {
        if (auto text = read_file(config_path)) config_ini = parse_ini(*text);
    }
    const IniSection* in_credentials = find(credentials_ini, profile);
    const IniSection* in_config = find(config_ini, "profile " + profile);
    if (in_config == nullptr && profile == "default") in_config = find(config_ini, "default");

    auto key = env("AWS_ACCESS_KEY_ID");
    auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (key && secret) {
        resolved.credentials = {*key, *secret, env("AWS_SESSION_TOKEN").value_or("")};
        resolved.source = "the environment";
    } else if (key || secret) {
        fail(ErrorKind::environment, "{} is set but {} is not: set both, or neither to use ~/.aws/credentials",
             key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY", key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    } else {
        for (auto [section, path] : {std::pair{in_credentials, credentials_path}, std::pair{in_config, config_path}}) {
            auto id = value(section, "aws_access_key_id");
            auto secret_key = value(section, "aws_secret_access_key");
            if (id.empty() && secret_key.empty()) continue;
            if (id.empty() || secret_key.empty()) {
                fail(ErrorKind::environment, "{}: profile '{}' has {} but no {}", path.string(), profile,
                     id.empty() ? "aws_secret_access_key" : "aws_access_key_id",
                     id.empty() ? "aws_access_key_id" : "aws_secret_access_key");
            }
            resolved.credentials = {id, secret_key, value(section, "aws_session_token")};
            resolved.source = "profile '" + profile + "' in " + path.string();
            break;
        }
        if (resolved.source.empty()) {
            fail(ErrorKind::environment,
                 "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile '{}' to {}",
                 profile, credentials_path.empty() ? std::string("~/.aws/credentials") : credentials_path.string());
        }
    }

    if (!region_override.empty()) {
        resolved.region = region_override;
    } else if (auto region = env("AWS_REGION")) {
        resolved.region = *region;
    } else if (auto default_region = env("AWS_DEFAULT_REGION")) {
        resolved.region = *default_region;
    } else if (auto configured = value(in_config, "region"); !configured.empty()) {
        resolved.region = configured;
    } else {
        resolved.region = "us-east-1";
    }
    return resolved;
}

} // namespace cairn::remote::aws
