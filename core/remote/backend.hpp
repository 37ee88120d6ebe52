#pragma once
// A data remote: where `cairn push` puts cache objects and `cairn pull` gets them. Its layout
// mirrors the cache (`sha256/ab/<rest of the hex>`, trees too), so what to send or fetch is a
// set difference of listings. Backends: a local or shared directory (directory.cpp), S3 or any
// S3-compatible store (s3.cpp). Keys are relative, '/'-separated, never start with '/', never
// hold "." or ".." components (a backend refuses such a key with Error(input)). A remote that
// cannot be reached, or keeps failing after the retries, is Error(io) naming the remote and the
// key; refused credentials or permissions are Error(environment) with what the remote said.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/hash/hash.hpp"

namespace cairn::remote {

// Uploads that become durable together (see Backend::begin_puts): the bytes of every staged
// object are written under temp names first, then made durable in one pass, then renamed to
// their keys, then the renames are made durable. A final key never names a partial object, after
// a crash or power loss at any point: what was not renamed is a temp, never listed as an object.
class PutBatch {
public:
    // Removes the staged objects that were not committed.
    virtual ~PutBatch() = default;
    PutBatch() = default;
    PutBatch(const PutBatch&) = delete;
    PutBatch& operator=(const PutBatch&) = delete;

    // Writes the local file's bytes under a temp name beside `key`: neither visible under `key`
    // nor durable yet. May be called from several threads at once. Throws as Backend::put.
    virtual void stage(const std::string& key, const std::filesystem::path& local) = 0;

    // Makes every staged object durable and visible under its key. Returns the keys that could
    // not be renamed into place, each with a one-line reason (the others are in place); throws
    // Error(io), having renamed nothing, when the bytes could not be made durable.
    virtual std::vector<std::pair<std::string, std::string>> commit() = 0;
};

class Backend {
public:
    virtual ~Backend() = default;

    // The remote as the user wrote it (a path, `s3://bucket/prefix`), for messages.
    [[nodiscard]] virtual std::string describe() const = 0;

    // The size of the object at `key`, or nullopt when there is none.
    [[nodiscard]] virtual std::optional<std::uint64_t> stat(const std::string& key) = 0;

    // Calls `fn` with the key (the full key, `prefix` included) and size of every object whose
    // key starts with `prefix`, in no particular order; one request per page of keys, never one
    // per object.
    virtual void list(const std::string& prefix, const std::function<void(std::string_view key, std::uint64_t size)>& fn) = 0;

    // Uploads the local file to `key` so that no reader ever sees a partial object under that
    // key: a temp name and a rename (directory), a single PUT or a completed multipart upload
    // (S3). Replaces what was there.
    virtual void put(const std::string& key, const std::filesystem::path& local) = 0;

    // A batch of uploads made durable together, for backends where durability is a separate,
    // costly step (the directory backend: one sync for the batch instead of an fsync per
    // object); nullptr when put() is already as cheap (S3: a PUT is durable when answered).
    [[nodiscard]] virtual std::unique_ptr<PutBatch> begin_puts() { return nullptr; }

    // Downloads `key` into the local file `local` (created or truncated; the caller makes it a
    // temp file in the cache's tmp/ and verifies the bytes against the id before renaming it
    // into the cache). Throws Error(integrity) naming the key when there is no such object.
    virtual void get(const std::string& key, const std::filesystem::path& local) = 0;

    // The first `n` bytes of the object at `key` (fewer when it is shorter); one ranged request.
    // Throws Error(integrity) naming the key when there is no such object.
    [[nodiscard]] virtual std::string read_head(const std::string& key, std::size_t n) = 0;

    // Makes the remote ready to receive objects (push calls it first): a directory remote
    // creates its root when its parent exists. Reading a remote that was never created is an
    // error (Error(environment) naming it), never an empty listing.
    virtual void create_root() {}
    // False for a directory remote whose root does not exist (yet): `status --remote` then
    // says so and counts everything as not pushed.
    [[nodiscard]] virtual bool root_exists() { return true; }

    // get(), returning the SHA-256 of the bytes written to `local` (and their count in *size):
    // backends hash the bytes as they arrive, so that the caller's verification reads nothing
    // back. The default hashes the file after get().
    virtual hash::Digest get_hashed(const std::string& key, const std::filesystem::path& local, std::uint64_t* size) {
        get(key, local);
        return hash::hash_file(local, size);
    }

    // Removes the object at `key`; no error when there is none.
    virtual void remove(const std::string& key) = 0;
};

} // namespace cairn::remote
