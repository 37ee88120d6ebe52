#pragma once
// The content-addressed object store: `<cache>/sha256/ab/<62 hex>`, read-only objects, written
// through temp files in `<tmp>` (same filesystem) and renamed into place. Puts are idempotent
// and need no lock; removal is only done by gc under the exclusive store lock.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <sys/stat.h>
#include <vector>

#include "core/cache/tree.hpp"
#include "core/fs/link.hpp"
#include "core/hash/hash.hpp"
#include "core/state/state.hpp"

namespace cairn::cache {

namespace stdfs = std::filesystem;
using hash::Digest;

// Objects whose bytes are written but not yet renamed into the store. commit() makes them all
// durable with one syncfs, renames them, and syncs again, so that durability costs two syscalls
// per batch instead of one fsync per small object. Uncommitted temps are removed on destruction.
class ObjectBatch {
public:
    ObjectBatch() = default;
    ~ObjectBatch();
    ObjectBatch(const ObjectBatch&) = delete;
    ObjectBatch& operator=(const ObjectBatch&) = delete;

    void add(stdfs::path temp, stdfs::path final_path);
    [[nodiscard]] std::size_t size() const;
    // Throws Error(io); objects already renamed stay valid.
    void commit(const stdfs::path& sync_dir);

private:
    mutable std::mutex m_mutex;
    std::vector<std::pair<stdfs::path, stdfs::path>> m_pending;
};

enum class ObjectState { ok, missing, corrupt };

class Cache {
public:
    // `root` is the cache directory (holding sha256/), `tmp` the temp directory.
    Cache(stdfs::path root, stdfs::path tmp);
    // Saves the verified-objects stat cache (an accelerator: a failure to save is ignored).
    ~Cache();
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    [[nodiscard]] const stdfs::path& root() const { return m_root; }
    [[nodiscard]] const stdfs::path& tmp_dir() const { return m_tmp; }
    [[nodiscard]] stdfs::path object_path(const Digest& digest) const;
    [[nodiscard]] bool has(const Digest& digest) const;

    struct PutResult {
        Digest digest;
        std::uint64_t size = 0;
        bool added = false; // false when the object was already present
    };

    // Copies the open file `src_fd` into the store, hashing while copying (one read of the data).
    // Tries a reflink first when `try_reflink`. With a batch, small objects are renamed into
    // place by batch->commit(); large ones, and all objects without a batch, are made durable
    // here. Throws Error(io) naming `what`.
    PutResult put_fd(int src_fd, const std::string& what, ObjectBatch* batch, bool try_reflink);

    // For link type hardlink: makes the file at `src` (open as `src_fd`, already hashed to
    // `digest`) the object itself by hard-linking it into the store and making it read-only, so
    // that no bytes are copied. Returns false, changing nothing, when the filesystem or the
    // file's owner does not allow it, or when the file changed since `before` (its fstat
    // taken before hashing); the caller then copies instead.
    [[nodiscard]] bool adopt_by_link(const stdfs::path& src, int src_fd, const struct stat& before,
                                     const Digest& digest, ObjectBatch* batch);

    // Stores `bytes` (a tree object, say). Same durability rules as put_fd.
    PutResult put_bytes(std::string_view bytes, ObjectBatch* batch);

    // Re-hashes an object: ok, missing, or corrupt (bytes do not match the name).
    [[nodiscard]] ObjectState verify(const Digest& digest) const;

    // The object's bytes after checking them against the id. Throws Error(integrity) when the
    // object is missing or corrupt.
    [[nodiscard]] std::string read_verified(const Digest& digest) const;

    // Reads, verifies and parses a tree object.
    [[nodiscard]] Tree read_tree(const Digest& digest) const;

    // True when the object is present and its bytes start with "cairn-tree " (any version).
    [[nodiscard]] bool starts_like_tree(const Digest& digest) const;

    // For an id whose record does not say whether it names a directory (a run's inputs and
    // outputs): the tree, when the object starts like a tree object; nullopt for any other
    // object (a file) or an absent one. An object that starts like a tree but does not parse
    // (another version, an unsafe name, ...) or is corrupt is Error(integrity), never a file.
    [[nodiscard]] std::optional<Tree> tree_if_any(const Digest& digest) const;

    // Makes `dst` hold the object's bytes using the first workable link type of `order`, via a
    // temp file next to dst and a rename. The object is verified first (while copying, for copy)
    // and a corrupt object is never linked: Error(integrity). A large object whose stat data is
    // unchanged since cairn last hashed it (the verified-objects stat cache, as git trusts its
    // index) is not hashed again. Returns the link type used.
    fs::LinkType materialize(const Digest& digest, const stdfs::path& dst,
                             const std::vector<fs::LinkType>& order, bool executable);

    // The objects whose hex id starts with `hex_prefix` (2 to 64 lowercase hex digits), sorted:
    // one fan-out directory holds every candidate.
    [[nodiscard]] std::vector<Digest> find_by_prefix(std::string_view hex_prefix) const;

    // Deletes an object (gc only).
    void remove(const Digest& digest);
    // Drops verified-objects entries of objects no longer in the store (gc). Returns how many.
    std::size_t prune_verified();

    // Calls fn for every object file; `stray` gets files in the store whose names are not ids.
    void for_each_object(const std::function<void(const Digest&, const stdfs::path&)>& fn,
                         const std::function<void(const stdfs::path&)>& stray = {}) const;

private:
    void place(const stdfs::path& temp, const Digest& digest, bool durable) const;
    // The verified-objects stat cache: large objects (hashing them is what costs) keyed by id.
    [[nodiscard]] bool trusted(const Digest& digest, const struct stat& st) const;
    void record_verified(const Digest& digest, const struct stat& st, std::int64_t hashed_at_ns);

    stdfs::path m_root;
    stdfs::path m_tmp;
    std::atomic<bool> m_reflink_works{true};
    mutable state::StatCache m_verified;
};

// Renames temp to final, creating final's parent directory if missing. Throws Error(io).
void rename_into_place(const stdfs::path& temp, const stdfs::path& final_path);

} // namespace cairn::cache
