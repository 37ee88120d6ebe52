#pragma once
// `cairn fsck --remote`: every object on a data remote read back and hashed, because push trusts
// a remote's listing (an object under its name is taken for good) and pull only refuses a bad
// one. With repair, a corrupt object is uploaded again from a verified local copy, or removed
// when there is none (a later push of that data, from anywhere, then puts it back; a pull says
// "missing" instead of "corrupt").

#include <cstdint>
#include <string>
#include <vector>

#include "core/remote/backend.hpp"

namespace cairn::cache {
class Cache;
}
namespace cairn::util {
class Progress;
}

namespace cairn::remote {

struct RemoteProblem {
    std::string key;
    std::string kind;   // "corrupt" (bytes do not hash to the key), "unreadable" (the remote failed)
    std::string detail; // one line
    std::string repair; // with repair: "uploaded again", "removed", or why nothing was done
};

struct RemoteCheck {
    std::uint64_t objects = 0; // objects read back
    std::uint64_t bytes = 0;
    std::vector<RemoteProblem> problems; // sorted by key
    std::vector<std::string> stray;      // keys under sha256/ that name no object (left alone)
    bool all_repaired = false;           // every problem was repaired (only with repair)
};

// Reads back every object under `sha256/` on `j` threads, each into a temp file in the cache's
// tmp/ that is removed afterwards (nothing enters the cache), and hashes it against its key.
[[nodiscard]] RemoteCheck check_remote(cache::Cache& cache, Backend& backend, bool repair, unsigned jobs,
                                       util::Progress* progress);

} // namespace cairn::remote
