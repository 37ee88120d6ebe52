#pragma once
// Remotes: the `remotes:` section (and `default_remote:`) of `.cairn/config.yaml`, committed,
// with machine-local overrides from `.cairn/config.local.yaml` (never committed: .cairn/'s
// .gitignore keeps everything but config.yaml out of git). docs/format.md has the grammar.
//
//   default_remote: NAME
//   remotes:
//     NAME:
//       url: URL            # a directory (absolute, or relative to the workspace root),
//                           # file:///dir, or s3://BUCKET[/PREFIX]
//       endpoint: URL       # s3 only: MinIO, Ceph, ...
//       region: NAME        # s3 only
//       path_style: BOOL    # s3 only
//       jobs: N             # parallel transfers
//
// A key that looks like a credential (access_key_id, secret_access_key, session_token,
// password, token, secret, ...) anywhere in either file is refused: credentials come only from
// the environment or ~/.aws.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cairn::remote {

struct RemoteConfig {
    std::string name;
    std::string url;
    std::string endpoint;
    std::string region;
    std::optional<bool> path_style;
    int jobs = 0; // 0: the command's default
};

struct RemotesConfig {
    std::vector<RemoteConfig> remotes; // in file order
    std::string default_remote;        // empty: none

    // The remote called `name`, or null.
    [[nodiscard]] const RemoteConfig* find(const std::string& name) const;
    // `name` when given, else the default remote, else the only remote. Throws Error(input)
    // naming the remote when it is unknown, and, with no remote configured, an error saying how
    // to add one (`cairn remote add NAME URL --default`).
    [[nodiscard]] const RemoteConfig& select(const std::string& name) const;
};

// The keys a remote may have (`remote modify` accepts these).
[[nodiscard]] const std::vector<std::string>& remote_keys();

// True when a key name looks like it holds a credential.
[[nodiscard]] bool looks_like_credential_key(const std::string& key);

// Parses the remotes of one config file's text (other sections are ignored); `display` names
// the file in errors. Throws Error(input) for a malformed section, an unknown key, a
// credential-like key anywhere in the file, or a bad value.
[[nodiscard]] RemotesConfig parse_remotes(const std::string& text, const std::string& display);

// `committed` with `local` laid over it: a local remote's keys replace the committed ones of the
// same name (or add a remote), a local default_remote replaces the committed one.
[[nodiscard]] RemotesConfig merge_remotes(const RemotesConfig& committed, const RemotesConfig& local);

// The text of the `default_remote:` and `remotes:` blocks for `config` (empty when it has none).
[[nodiscard]] std::string render_remotes(const RemotesConfig& config);

// `text` with its top-level `default_remote:` and `remotes:` blocks (and their indented or
// comment lines) replaced by `blocks`, appended at the end; every other byte is kept.
[[nodiscard]] std::string replace_remote_blocks(const std::string& text, const std::string& blocks);

enum class ConfigScope { committed, local };

// The config files of a store directory (`.cairn/`).
[[nodiscard]] std::filesystem::path config_path(const std::filesystem::path& store_dir, ConfigScope scope);

// The merged remotes of a store. Throws Error(input) as parse_remotes.
[[nodiscard]] RemotesConfig load_remotes(const std::filesystem::path& store_dir);

// Reads one file's remotes, lets `edit` change them, writes the file back atomically (under
// `.cairn/config.lock`). Throws Error(input) from parsing, Error(io).
void edit_remotes(const std::filesystem::path& store_dir, ConfigScope scope,
                  const std::function<void(RemotesConfig&)>& edit);

// Checks a value for `key` and sets it on `remote`. Throws Error(input) for an unknown key (the
// list of known ones in the message) or a bad value.
void set_remote_key(RemoteConfig& remote, const std::string& key, const std::string& value);

// Checks a remote name: letters, digits, '-', '_', '.', not starting with '.' or '-'.
void check_remote_name(const std::string& name);

enum class RemoteKind { directory, s3 };

[[nodiscard]] RemoteKind remote_kind(const std::string& url);

// The directory a directory URL names: file:// stripped, a relative path joined to `root`.
// Throws Error(input) for a file:// URL with a host or an empty path.
[[nodiscard]] std::filesystem::path directory_of(const std::string& url, const std::filesystem::path& root);

} // namespace cairn::remote
