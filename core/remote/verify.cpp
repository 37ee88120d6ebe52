#include "core/remote/verify.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unistd.h>

#include <fmt/format.h>

#include "core/cache/cache.hpp"
#include "core/fs/atomic_file.hpp"
#include "core/hash/hash.hpp"
#include "core/remote/sync.hpp"
#include "core/util/error.hpp"
#include "core/util/parallel.hpp"
#include "core/util/progress.hpp"

namespace cairn::remote {
namespace {

namespace stdfs = std::filesystem;
using hash::Digest;

// The object a key names: `sha256/ab/<62 hex>`, exactly as object_key() spells it.
std::optional<Digest> digest_of_key(std::string_view key) {
    constexpr std::string_view prefix = "sha256/";
    if (key.size() != prefix.size() + 2 + 1 + 62 || key.substr(0, prefix.size()) != prefix ||
        key[prefix.size() + 2] != '/')
        return std::nullopt;
    std::string hex(key.substr(prefix.size(), 2));
    hex += key.substr(prefix.size() + 3);
    auto d = Digest::from_hex(hex);
    if (!d || object_key(*d) != key) return std::nullopt;
    return d;
}

} // namespace

RemoteCheck check_remote(cache::Cache& cache, Backend& backend, bool repair, unsigned jobs, util::Progress* progress) {
    RemoteCheck result;
    std::vector<std::pair<std::string, std::uint64_t>> keys;
    with_retries([&] {
        keys.clear();
        backend.list("sha256/", [&](std::string_view key, std::uint64_t size) { keys.emplace_back(key, size); });
    });
    std::sort(keys.begin(), keys.end());
    std::vector<std::pair<Digest, std::string>> objects;
    for (const auto& [key, size] : keys) {
        (void)size;
        if (auto d = digest_of_key(key)) {
            objects.emplace_back(*d, key);
        } else {
            result.stray.push_back(key);
        }
    }
    std::mutex mutex;
    std::atomic<std::uint64_t> bytes{0};
    if (progress) progress->begin("checking remote objects", objects.size());
    util::parallel_for(
        objects.size(),
        [&](std::size_t i) {
            const auto& [digest, key] = objects[i];
            RemoteProblem problem;
            problem.key = key;
            stdfs::path temp = fs::temp_name(cache.tmp_dir(), digest.hex().substr(0, 16));
            std::uint64_t size = 0;
            try {
                Digest actual;
                with_retries([&] { actual = backend.get_hashed(key, temp, &size); });
                ::unlink(temp.c_str());
                bytes += size;
                if (progress) progress->advance(1, size);
                if (actual == digest) return;
                problem.kind = "corrupt";
                problem.detail = fmt::format("its {} bytes hash to {}", size, actual.id());
            } catch (const Error& e) {
                ::unlink(temp.c_str());
                if (e.kind() == ErrorKind::interrupted) throw;
                problem.kind = "unreadable";
                problem.detail = e.what();
            }
            if (repair && problem.kind == "corrupt") {
                try {
                    std::uint64_t local_size = 0;
                    if (cache.has(digest) && hash::hash_file(cache.object_path(digest), &local_size) == digest) {
                        with_retries([&] { backend.put(key, cache.object_path(digest)); });
                        problem.repair = "uploaded again from the local cache";
                    } else {
                        with_retries([&] { backend.remove(key); });
                        problem.repair = "removed (no good copy here: push it from a clone that has it)";
                    }
                } catch (const Error& e) {
                    if (e.kind() == ErrorKind::interrupted) throw;
                    problem.repair = std::string("not repaired: ") + e.what();
                }
            }
            std::lock_guard lock(mutex);
            result.problems.push_back(std::move(problem));
        },
        std::max(1u, jobs));
    if (progress) progress->end();
    result.objects = objects.size();
    result.bytes = bytes;
    std::sort(result.problems.begin(), result.problems.end(),
              [](const RemoteProblem& a, const RemoteProblem& b) { return a.key < b.key; });
    result.all_repaired = repair && std::all_of(result.problems.begin(), result.problems.end(), [](const RemoteProblem& p) {
                              return !p.repair.empty() && p.repair.rfind("not repaired", 0) != 0;
                          });
    return result;
}

} // namespace cairn::remote
