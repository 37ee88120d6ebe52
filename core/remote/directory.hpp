#pragma once
// A data remote in a local or shared (NFS, SMB) directory. Its layout is the cache's:
// `<root>/sha256/ab/<62 hex>` (trees are objects too). An upload is written to a temp name in
// the object's own directory (`<name>.cairn-tmp.<pid>-<host>-<hex>`), made durable and renamed,
// so a reader (or a killed push) never leaves a partial object under a final name; a temp left by
// a killed process is never listed as an object. begin_puts() does the same for many objects
// with one sync for all of them (DirectoryBatch in directory.cpp, docs/safety.md).

#include <filesystem>
#include <memory>
#include <string>

#include "core/remote/backend.hpp"
#include "core/remote/config.hpp"

namespace cairn::remote {

// A backend for the directory `root` (created on the first put). `display` is how the user
// wrote it, for messages.
[[nodiscard]] std::unique_ptr<Backend> open_directory(const std::filesystem::path& root, const std::string& display);

// The backend a configured remote names: a directory (relative paths from `workspace_root`) or
// S3 (open_s3 with the URL's bucket and prefix and the remote's endpoint, region, path_style).
// Throws as open_directory / open_s3.
[[nodiscard]] std::unique_ptr<Backend> open_backend(const RemoteConfig& remote, const std::filesystem::path& workspace_root);

// Throws Error(input) naming the key unless it is relative, '/'-separated, and free of empty,
// "." and ".." components.
void check_key(const std::string& key);

} // namespace cairn::remote
