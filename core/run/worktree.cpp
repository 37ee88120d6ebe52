#include "core/run/worktree.hpp"

#include <random>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "core/util/parallel.hpp"
#include "core/workspace/compare.hpp"
#include "core/workspace/pointer.hpp"

namespace cairn::run {
namespace {

namespace stdfs = std::filesystem;

std::string random_suffix() {
    std::random_device rd;
    return fmt::format("{:08x}", rd());
}

} // namespace

Scratch::Scratch(const workspace::Workspace& ws, const std::string& label)
    : m_dir(ws.store_dir() / "tmp" / fmt::format("{}-{}", label, random_suffix())) {
    fs::make_dirs(m_dir);
    m_lock.emplace(m_dir / "lock", fs::LockMode::exclusive);
}

Scratch::~Scratch() {
    m_lock.reset();
    if (m_keep) return;
    std::error_code ec;
    // Files checked out read-only (or made so by the command) must not stop the removal.
    stdfs::permissions(m_dir, stdfs::perms::owner_all, stdfs::perm_options::add, ec);
    stdfs::remove_all(m_dir, ec);
    if (ec) {
        for (auto it = stdfs::recursive_directory_iterator(m_dir, ec);
             !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_directory(ec))
                stdfs::permissions(it->path(), stdfs::perms::owner_all, stdfs::perm_options::add,
                                   ec);
        stdfs::remove_all(m_dir, ec);
    }
}

void Scratch::keep(const std::string& why) {
    m_keep = true;
    fs::write_file_atomic(m_dir / "kept", why + "\n", 0644, fs::Durability::deferred);
}

void restore_object(workspace::Workspace& replica, const std::string& rel, const std::string& id) {
    auto digest = hash::Digest::from_id(id);
    if (!digest) fail(ErrorKind::input, "'{}': not an object id: {}", rel, id);
    auto& cache = replica.cache();
    replica.check_no_symlinks(rel);
    stdfs::path dst = replica.absolute(rel);
    std::error_code ec;
    if (fs::lstat_path(dst)) stdfs::remove_all(dst, ec);
    fs::make_dirs(dst.parent_path());
    const std::vector<fs::LinkType> links = {fs::LinkType::reflink, fs::LinkType::copy};
    workspace::Pointer pointer =
        workspace::pointer_to_object(cache, dst.filename().string(), *digest);
    if (!pointer.is_directory()) {
        cache.materialize(*digest, dst, links, false);
        return;
    }
    workspace::Expected expected = workspace::flatten(cache, pointer);
    if (!expected.missing_trees.empty())
        fail(ErrorKind::integrity, "'{}': sub-tree {} is missing from the cache", rel,
             expected.missing_trees.front());
    for (const auto& dir : expected.dirs)
        fs::make_dirs(dir.empty() ? dst : dst / dir);
    std::vector<std::pair<const std::string*, const workspace::ExpectedFile*>> files;
    files.reserve(expected.files.size());
    for (const auto& [file, want] : expected.files)
        files.emplace_back(&file, &want);
    util::parallel_for(files.size(), [&](std::size_t i) {
        cache.materialize(files[i].second->digest, dst / *files[i].first, links,
                          files[i].second->executable);
    });
}

} // namespace cairn::run
