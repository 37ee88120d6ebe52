#include "core/run/lineage.hpp"

#include <algorithm>
#include <set>
#include <sys/stat.h>

#include "core/fs/file.hpp"
#include "core/fs/walk.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"
#include "core/workspace/pointer.hpp"

namespace cairn::run {

LineageIndex::LineageIndex(std::vector<RunRecord> runs) : m_runs(std::move(runs)) {
    for (std::size_t i = 0; i < m_runs.size(); ++i) {
        const RunRecord& r = m_runs[i];
        for (const auto& [path, id] : r.outputs) {
            m_producers[id].push_back(i);
            m_path_writers[path].push_back(i);
        }
        for (const auto& [path, id] : r.inputs) m_consumers[id].push_back(i);
    }
}

namespace {

std::vector<const RunRecord*> pick(const std::vector<RunRecord>& runs,
                                   const std::unordered_map<std::string, std::vector<std::size_t>>& map,
                                   const std::string& key) {
    std::vector<const RunRecord*> out;
    if (auto it = map.find(key); it != map.end())
        for (std::size_t i : it->second) out.push_back(&runs[i]);
    return out;
}

} // namespace

std::vector<const RunRecord*> LineageIndex::producers(const std::string& object_id) const {
    return pick(m_runs, m_producers, object_id);
}

std::vector<const RunRecord*> LineageIndex::consumers(const std::string& object_id) const {
    return pick(m_runs, m_consumers, object_id);
}

std::vector<const RunRecord*> LineageIndex::writers_of_path(const std::string& path) const {
    return pick(m_runs, m_path_writers, path);
}

const RunRecord* LineageIndex::producer_for(const std::string& object_id, const RunRecord* consumer) const {
    auto all = producers(object_id);
    if (all.empty()) return nullptr;
    const RunRecord* best = nullptr;
    auto better = [](const RunRecord* a, const RunRecord* b) {
        // An original beats a re-run; then the newer one (the list is newest first).
        if (!b) return true;
        return a->reproduces.empty() && !b->reproduces.empty();
    };
    for (const RunRecord* p : all) {
        if (consumer && (p->id == consumer->id || (p->end_ms && p->end_ms > consumer->start_ms))) continue;
        if (better(p, best)) best = p;
    }
    if (best) return best;
    // None finished before the consumer began (clocks differ between machines): the oldest.
    for (const RunRecord* p : all)
        if (!consumer || p->id != consumer->id) best = p;
    return best;
}

std::vector<std::pair<std::size_t, std::size_t>> LineageGraph::flow_edges() const {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        for (std::size_t c : nodes[i].children)
            out.emplace_back(direction == Direction::upstream ? std::make_pair(c, i) : std::make_pair(i, c));
    return out;
}

namespace {

class Walker {
public:
    Walker(const LineageIndex& index, git::Repository& repo, Direction direction, int depth)
        : m_index(index), m_repo(repo), m_depth(depth) {
        m_graph.direction = direction;
    }

    LineageGraph run(const LineageTarget& target) {
        if (target.run) {
            visit_run(target.run, 0);
        } else {
            std::size_t n = data_node(target.object, target.path);
            expand_data(n, nullptr, 0);
            if (m_graph.direction == Direction::upstream && m_graph.nodes[n].children.empty()) {
                // Source data in the work tree: its pointer in HEAD tells where it came from.
                std::string head = m_repo.head();
                if (!head.empty()) find_source(n, head);
            }
        }
        return std::move(m_graph);
    }

private:
    std::size_t data_node(const std::string& object, const std::string& path) {
        auto [it, added] = m_keys.emplace("data:" + object, m_graph.nodes.size());
        if (added) {
            LineageNode node;
            node.object = object;
            m_graph.nodes.push_back(std::move(node));
        }
        auto& paths = m_graph.nodes[it->second].paths;
        if (!path.empty() && std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
        return it->second;
    }

    // Returns the run's node; expands it the first time.
    std::size_t visit_run(const RunRecord* r, int runs_deep) {
        auto [it, added] = m_keys.emplace("run:" + r->id, m_graph.nodes.size());
        if (!added) return it->second;
        std::size_t n = it->second;
        LineageNode node;
        node.is_run = true;
        node.run = r;
        m_graph.nodes.push_back(std::move(node));
        const auto& data = m_graph.direction == Direction::upstream ? r->inputs : r->outputs;
        for (const auto& [path, object] : data) {
            bool fresh = !m_keys.count("data:" + object);
            std::size_t d = data_node(object, path);
            m_graph.nodes[n].children.push_back(d);
            if (fresh) expand_data(d, r, runs_deep + 1);
        }
        return n;
    }

    // `via`: the run this data was reached from (its consumer, upstream).
    // `runs_deep`: runs between the target and this data.
    void expand_data(std::size_t d, const RunRecord* via, int runs_deep) {
        std::string object = m_graph.nodes[d].object;
        if (m_depth > 0 && runs_deep >= m_depth) {
            m_graph.nodes[d].truncated = m_graph.direction == Direction::upstream ? m_index.producer_for(object, via) != nullptr
                                                                                  : !m_index.consumers(object).empty();
            return;
        }
        if (m_graph.direction == Direction::upstream) {
            const RunRecord* producer = m_index.producer_for(object, via);
            if (!producer) {
                if (via && !via->git_snapshot.empty()) find_source(d, via->git_snapshot);
                return;
            }
            m_graph.nodes[d].other_producers = m_index.producers(object).size() - 1;
            std::size_t r = visit_run(producer, runs_deep);
            m_graph.nodes[d].children.push_back(r);
        } else {
            for (const RunRecord* consumer : m_index.consumers(object)) {
                std::size_t r = visit_run(consumer, runs_deep);
                m_graph.nodes[d].children.push_back(r);
            }
        }
    }

    // Looks for a pointer file in `commit` that names the node's object.
    void find_source(std::size_t d, const std::string& commit) {
        if (m_graph.nodes[d].source) return;
        auto it = m_pointers.find(commit);
        if (it == m_pointers.end()) {
            std::vector<std::pair<std::string, std::string>> found; // pointer path, object id
            try {
                for (const auto& [path, text] : m_repo.blobs_with_suffix(commit, workspace::k_pointer_suffix)) {
                    try {
                        found.emplace_back(path, workspace::Pointer::parse(text, path).digest.id());
                    } catch (const Error&) {
                        // not a valid pointer: not a source
                    }
                }
            } catch (const Error&) {
                // the commit is not here (a run fetched without its code): no source to show
            }
            it = m_pointers.emplace(commit, std::move(found)).first;
        }
        for (const auto& [pointer, object] : it->second) {
            if (object != m_graph.nodes[d].object) continue;
            DataSource source;
            source.pointer = pointer;
            if (auto info = m_repo.introducing_commit(commit, pointer)) {
                source.commit = info->id;
                source.summary = info->summary;
                source.time = info->time;
            }
            m_graph.nodes[d].source = std::move(source);
            return;
        }
    }

    const LineageIndex& m_index;
    git::Repository& m_repo;
    int m_depth;
    LineageGraph m_graph;
    std::map<std::string, std::size_t> m_keys;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> m_pointers;
};

} // namespace

LineageTarget resolve_lineage_target(workspace::Workspace& ws, const LineageIndex& index,
                                     const std::filesystem::path& cwd, const std::string& text) {
    LineageTarget target;
    if (util::starts_with(text, "sha256:")) {
        std::string hex = text.substr(7);
        if (hex.size() < 4 || hex.size() > 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
            fail(ErrorKind::input, "'{}': an object id is sha256: and 4 to 64 lowercase hex digits", text);
        std::set<std::string> matches;
        for (const auto& r : index.runs()) {
            for (const auto& [p, id] : r.inputs)
                if (util::starts_with(id, text)) matches.insert(id);
            for (const auto& [p, id] : r.outputs)
                if (util::starts_with(id, text)) matches.insert(id);
        }
        if (matches.empty())
            for (const auto& d : ws.cache().find_by_prefix(hex)) matches.insert(d.id());
        if (matches.empty()) fail(ErrorKind::input, "no run read or wrote an object {}, and the cache has none", text);
        if (matches.size() > 1) {
            std::string list;
            for (const auto& m : matches) list += "\n  " + m;
            fail(ErrorKind::input, "'{}' is ambiguous; it names {} objects:{}", text, matches.size(), list);
        }
        target.object = *matches.begin();
        return target;
    }
    // A path in the workspace (if the text can be one).
    std::optional<std::string> rel;
    try {
        rel = ws.relative_path(cwd, text);
    } catch (const Error&) {
    }
    if (rel) {
        std::string pointer_rel = *rel + std::string(workspace::k_pointer_suffix);
        if (util::ends_with(*rel, workspace::k_pointer_suffix)) {
            pointer_rel = *rel;
            rel = rel->substr(0, rel->size() - workspace::k_pointer_suffix.size());
        }
        target.path = *rel;
        // The bytes there now; the pointer's when the data is not in the work tree.
        if (auto st = fs::lstat_path(ws.absolute(*rel))) {
            if (S_ISDIR(st->st_mode)) {
                util::NoProgress quiet;
                auto stored = workspace::add(ws, {*rel}, quiet, workspace::Track::store_only);
                target.object = stored.paths.at(0).digest.id();
            } else {
                // A symlink counts as the file it leads to, as for `cairn add`. Anything else is
                // never opened: reading a FIFO would wait for a writer.
                struct stat target_st {};
                if (::stat(ws.absolute(*rel).c_str(), &target_st) != 0 || !S_ISREG(target_st.st_mode))
                    fail(ErrorKind::input, "'{}' is not a regular file or directory (a FIFO, socket, device or dangling "
                         "symlink); lineage follows files and directories", *rel);
                target.object = hash::hash_file(ws.absolute(*rel)).id();
            }
            return target;
        }
        if (auto pst = fs::lstat_path(ws.absolute(pointer_rel)); pst && !S_ISREG(pst->st_mode))
            fail(ErrorKind::input, "{} is {}, so not a pointer file (a pointer file is a regular file)", pointer_rel,
                 S_ISLNK(pst->st_mode) ? "a symlink" : S_ISDIR(pst->st_mode) ? "a directory" : "a FIFO, socket or device");
        if (auto text_of = fs::read_file_if_exists(ws.absolute(pointer_rel))) {
            target.object = workspace::Pointer::parse(*text_of, pointer_rel).digest.id();
            return target;
        }
        auto writers = index.writers_of_path(*rel);
        if (!writers.empty()) {
            target.object = writers.front()->outputs.at(*rel);
            return target;
        }
    }
    try {
        target = {};
        target.run = &find_run(index.runs(), text, {}, &target.note);
        return target;
    } catch (const Error& e) {
        if (std::string(e.what()).find("ambiguous") != std::string::npos) throw;
        fail(ErrorKind::input, "'{}' is not a path in the workspace, an object id (sha256:...) or a run", text);
    }
}

LineageGraph walk_lineage(const LineageIndex& index, git::Repository& repo, const LineageTarget& target,
                          Direction direction, int depth) {
    return Walker(index, repo, direction, depth).run(target);
}

} // namespace cairn::run
