#include "core/remote/config.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::remote {
namespace {

using workspace::where;

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// Refuses a credential-like key at any depth: a secret must never be committed, and the local
// file is refused too so that nobody learns to put secrets into .cairn/.
void refuse_credentials(const YAML::Node& node, const std::string& display, int depth) {
    if (depth > 32) fail(ErrorKind::input, "{}: nesting deeper than 32 levels", where(display, node));
    if (node.IsMap()) {
        for (const auto& item : node) {
            std::string key = item.first.IsScalar() ? item.first.Scalar() : "";
            if (looks_like_credential_key(key))
                fail(ErrorKind::input,
                     "{}: '{}' looks like a credential; cairn never reads credentials from its config files "
                     "(use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials)",
                     where(display, item.first), key);
            refuse_credentials(item.second, display, depth + 1);
        }
    } else if (node.IsSequence()) {
        for (const auto& item : node) refuse_credentials(item, display, depth + 1);
    }
}

bool parse_bool(const std::string& value, bool* out) {
    std::string v = lower(value);
    if (v == "true" || v == "yes" || v == "on" || v == "1") return *out = true, true;
    if (v == "false" || v == "no" || v == "off" || v == "0") return *out = false, true;
    return false;
}

bool is_top_level_block(std::string_view line, std::string_view key) {
    return util::starts_with(line, key) && line.size() > key.size() && line[key.size()] == ':';
}

} // namespace

const RemoteConfig* RemotesConfig::find(const std::string& name) const {
    for (const auto& r : remotes)
        if (r.name == name) return &r;
    return nullptr;
}

const RemoteConfig& RemotesConfig::select(const std::string& name) const {
    if (!name.empty()) {
        if (const RemoteConfig* r = find(name)) return *r;
        fail(ErrorKind::input, "no remote named '{}' (see 'cairn remote list')", name);
    }
    if (!default_remote.empty()) {
        if (const RemoteConfig* r = find(default_remote)) return *r;
        fail(ErrorKind::input, "the default remote '{}' is not configured (see 'cairn remote list')", default_remote);
    }
    if (remotes.size() == 1) return remotes.front();
    if (remotes.empty())
        fail(ErrorKind::input, "no data remote is configured; add one with 'cairn remote add NAME URL --default'");
    fail(ErrorKind::input, "several remotes and no default: name one with -r, or set one with 'cairn remote add NAME URL --default'");
}

const std::vector<std::string>& remote_keys() {
    static const std::vector<std::string> keys{"url", "endpoint", "region", "path_style", "jobs"};
    return keys;
}

bool looks_like_credential_key(const std::string& key) {
    std::string k = lower(key);
    for (const char* word : {"secret", "password", "passwd", "token", "credential", "access_key", "private_key",
                             "api_key", "apikey", "auth"})
        if (k.find(word) != std::string::npos) return !(k.find("author") != std::string::npos);
    return false;
}

void check_remote_name(const std::string& name) {
    bool ok = !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) ok = false;
    if (!ok)
        fail(ErrorKind::input, "'{}' is not a valid remote name (letters, digits, '-', '_', '.'; at most 64)", name);
}

// A URL cairn cannot use is refused where it is written, not taken for a directory path
// (`http://host/x` would become ./http:/host/x).
void check_url_form(const std::string& name, const std::string& url) {
    if (util::starts_with(url, "s3://")) return;
    if (util::starts_with(url, "file://")) {
        std::string rest = url.substr(7);
        if (util::starts_with(rest, "localhost/")) rest = rest.substr(9);
        if (rest.empty() || rest[0] != '/')
            fail(ErrorKind::input, "remote '{}': '{}': a file:// URL must be file:///absolute/path (no host)", name, url);
        return;
    }
    auto colon = url.find("://");
    if (colon != std::string::npos && colon > 0) {
        bool scheme = std::isalpha(static_cast<unsigned char>(url[0])) != 0;
        for (std::size_t i = 1; i < colon; ++i) {
            char c = url[i];
            scheme = scheme && (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.');
        }
        if (scheme)
            fail(ErrorKind::input,
                 "remote '{}': '{}' is not a kind of remote cairn supports (a directory path, file:///path, or "
                 "s3://BUCKET[/PREFIX] with 'endpoint' for S3-compatible services)",
                 name, url);
    }
}

void set_remote_key(RemoteConfig& remote, const std::string& key, const std::string& value) {
    if (looks_like_credential_key(key))
        fail(ErrorKind::input, "'{}' looks like a credential; cairn never stores credentials (use the environment or ~/.aws)", key);
    // YAML is UTF-8: other bytes would not survive the rewrite of the file (read back as U+FFFD).
    if (!util::is_utf8(value)) fail(ErrorKind::input, "remote '{}': the value of '{}' is not UTF-8 text", remote.name, key);
    if (key == "url") {
        if (value.empty()) fail(ErrorKind::input, "remote '{}': 'url' must not be empty", remote.name);
        if (remote_kind(value) == RemoteKind::s3 && (value.size() <= 5 || value[5] == '/'))
            fail(ErrorKind::input, "remote '{}': '{}' is not an s3://BUCKET[/PREFIX] URL", remote.name, value);
        check_url_form(remote.name, value);
        remote.url = value;
    } else if (key == "endpoint") {
        if (!value.empty() && !util::starts_with(value, "http://") && !util::starts_with(value, "https://"))
            fail(ErrorKind::input, "remote '{}': 'endpoint' must start with http:// or https://, not '{}'", remote.name, value);
        remote.endpoint = value;
    } else if (key == "region") {
        remote.region = value;
    } else if (key == "path_style") {
        bool b = false;
        if (!parse_bool(value, &b))
            fail(ErrorKind::input, "remote '{}': 'path_style' must be true or false, not '{}'", remote.name, value);
        remote.path_style = b;
    } else if (key == "jobs") {
        int n = 0;
        bool ok = !value.empty() && value.size() <= 4 && std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
        if (ok) n = std::stoi(value);
        if (!ok || n < 1 || n > 256)
            fail(ErrorKind::input, "remote '{}': 'jobs' must be a number from 1 to 256, not '{}'", remote.name, value);
        remote.jobs = n;
    } else {
        fail(ErrorKind::input, "remote '{}': unknown key '{}' (known: {})", remote.name, key, fmt::join(remote_keys(), ", "));
    }
}

RemotesConfig parse_remotes(const std::string& text, const std::string& display) {
    YAML::Node root = workspace::parse_yaml(text, display);
    RemotesConfig out;
    if (!root || root.IsNull()) return out;
    try {
        refuse_credentials(root, display, 0);
        if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping at the top level", where(display, root));
        if (YAML::Node def = root["default_remote"]) {
            if (!def.IsScalar()) fail(ErrorKind::input, "{}: 'default_remote' must be a remote name", where(display, def));
            out.default_remote = def.Scalar();
            if (!out.default_remote.empty()) check_remote_name(out.default_remote);
        }
        YAML::Node remotes = root["remotes"];
        if (!remotes || remotes.IsNull()) return out;
        if (!remotes.IsMap()) fail(ErrorKind::input, "{}: 'remotes' must be a mapping of names to remotes", where(display, remotes));
        for (const auto& item : remotes) {
            if (!item.first.IsScalar()) fail(ErrorKind::input, "{}: a remote name must be a string", where(display, item.first));
            RemoteConfig remote;
            remote.name = item.first.Scalar();
            try {
                check_remote_name(remote.name);
            } catch (const Error& e) {
                fail(ErrorKind::input, "{}: {}", where(display, item.first), e.what());
            }
            if (out.find(remote.name)) fail(ErrorKind::input, "{}: remote '{}' is defined twice", where(display, item.first), remote.name);
            const YAML::Node& body = item.second;
            if (!body.IsMap()) fail(ErrorKind::input, "{}: remote '{}' must be a mapping (url: ...)", where(display, body), remote.name);
            for (const auto& kv : body) {
                if (!kv.first.IsScalar() || !kv.second.IsScalar())
                    fail(ErrorKind::input, "{}: remote '{}': keys and values must be plain strings", where(display, kv.first), remote.name);
                try {
                    set_remote_key(remote, kv.first.Scalar(), kv.second.Scalar());
                } catch (const Error& e) {
                    fail(ErrorKind::input, "{}: {}", where(display, kv.first), e.what());
                }
            }
            out.remotes.push_back(std::move(remote));
        }
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", display, e.mark.line + 1, e.msg);
    }
    return out;
}

RemotesConfig merge_remotes(const RemotesConfig& committed, const RemotesConfig& local) {
    RemotesConfig out = committed;
    for (const auto& over : local.remotes) {
        RemoteConfig* base = nullptr;
        for (auto& r : out.remotes)
            if (r.name == over.name) base = &r;
        if (!base) {
            out.remotes.push_back(over);
            continue;
        }
        if (!over.url.empty()) base->url = over.url;
        if (!over.endpoint.empty()) base->endpoint = over.endpoint;
        if (!over.region.empty()) base->region = over.region;
        if (over.path_style) base->path_style = over.path_style;
        if (over.jobs) base->jobs = over.jobs;
    }
    if (!local.default_remote.empty()) out.default_remote = local.default_remote;
    return out;
}

std::string render_remotes(const RemotesConfig& config) {
    // Values are emitted as YAML double-quoted scalars (yaml-cpp escapes them), so that a path
    // with ':' or '#' reads back as written.
    auto quoted = [](const std::string& value) {
        YAML::Emitter e;
        e << YAML::DoubleQuoted << value;
        return std::string(e.c_str());
    };
    std::string out;
    if (!config.default_remote.empty()) out += "default_remote: " + quoted(config.default_remote) + "\n";
    if (config.remotes.empty()) return out;
    out += "remotes:\n";
    for (const auto& r : config.remotes) {
        out += "  " + quoted(r.name) + ":\n";
        if (!r.url.empty()) out += "    url: " + quoted(r.url) + "\n";
        if (!r.endpoint.empty()) out += "    endpoint: " + quoted(r.endpoint) + "\n";
        if (!r.region.empty()) out += "    region: " + quoted(r.region) + "\n";
        if (r.path_style) out += std::string("    path_style: ") + (*r.path_style ? "true" : "false") + "\n";
        if (r.jobs) out += "    jobs: " + std::to_string(r.jobs) + "\n";
    }
    return out;
}

std::string replace_remote_blocks(const std::string& text, const std::string& blocks) {
    std::string kept;
    bool skipping = false;
    for (const auto& line : util::split(text, '\n')) {
        bool top = !line.empty() && line[0] != ' ' && line[0] != '\t' && line[0] != '#';
        if (top) skipping = is_top_level_block(line, "remotes") || is_top_level_block(line, "default_remote");
        if (!skipping) kept += line + "\n";
    }
    // split() yields one empty piece after a final newline; drop the extra blank it adds.
    while (kept.size() >= 2 && kept[kept.size() - 1] == '\n' && kept[kept.size() - 2] == '\n') kept.pop_back();
    if (kept == "\n") kept.clear();
    if (!kept.empty() && kept.back() != '\n') kept += '\n';
    return kept + blocks;
}

std::filesystem::path config_path(const std::filesystem::path& store_dir, ConfigScope scope) {
    return store_dir / (scope == ConfigScope::committed ? "config.yaml" : "config.local.yaml");
}

RemotesConfig load_remotes(const std::filesystem::path& store_dir) {
    auto read = [&](ConfigScope scope, const char* display) {
        auto text = fs::read_file_if_exists(config_path(store_dir, scope));
        return text ? parse_remotes(*text, display) : RemotesConfig{};
    };
    return merge_remotes(read(ConfigScope::committed, ".cairn/config.yaml"),
                         read(ConfigScope::local, ".cairn/config.local.yaml"));
}

void edit_remotes(const std::filesystem::path& store_dir, ConfigScope scope,
                  const std::function<void(RemotesConfig&)>& edit) {
    fs::FileLock lock(store_dir / "config.lock", fs::LockMode::exclusive);
    std::filesystem::path path = config_path(store_dir, scope);
    std::string display = scope == ConfigScope::committed ? ".cairn/config.yaml" : ".cairn/config.local.yaml";
    std::string text = fs::read_file_if_exists(path).value_or("");
    RemotesConfig config = parse_remotes(text, display);
    edit(config);
    std::string updated = replace_remote_blocks(text, render_remotes(config));
    (void)parse_remotes(updated, display); // never write a file cairn would then refuse
    fs::write_file_atomic(path, updated);
}

RemoteKind remote_kind(const std::string& url) {
    return util::starts_with(url, "s3://") ? RemoteKind::s3 : RemoteKind::directory;
}

std::filesystem::path directory_of(const std::string& url, const std::filesystem::path& root) {
    std::string path = url;
    if (util::starts_with(url, "file://")) {
        path = url.substr(7);
        if (util::starts_with(path, "localhost/")) path = path.substr(9);
        if (path.empty() || path[0] != '/')
            fail(ErrorKind::input, "'{}': a file:// URL must be file:///absolute/path (no host)", url);
    }
    if (path.empty()) fail(ErrorKind::input, "an empty directory is not a remote");
    std::filesystem::path p(path);
    return (p.is_absolute() ? p : root / p).lexically_normal();
}

} // namespace cairn::remote
