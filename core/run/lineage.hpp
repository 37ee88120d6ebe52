#pragma once
// Lineage: which runs produced and consumed which bytes. The graph is derived from the run index
// (each run's inputs and outputs, path -> object id), so it is rebuilt whenever the runs change
// and costs one pass over the listing.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/git/git.hpp"
#include "core/run/record.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

class LineageIndex {
public:
    // `runs` newest first, as list_runs() returns them.
    explicit LineageIndex(std::vector<RunRecord> runs);

    [[nodiscard]] const std::vector<RunRecord>& runs() const { return m_runs; }
    // Runs whose outputs (or inputs) hold the object, newest first.
    [[nodiscard]] std::vector<const RunRecord*> producers(const std::string& object_id) const;
    [[nodiscard]] std::vector<const RunRecord*> consumers(const std::string& object_id) const;
    // The run that made the bytes `consumer` read: the newest producer that finished before the
    // consumer started, preferring original runs to re-runs; else the oldest producer. Null
    // when no run produced them.
    [[nodiscard]] const RunRecord* producer_for(const std::string& object_id, const RunRecord* consumer) const;
    // Runs that wrote `path` as an output, newest first (whatever the bytes).
    [[nodiscard]] std::vector<const RunRecord*> writers_of_path(const std::string& path) const;

private:
    std::vector<RunRecord> m_runs;
    std::unordered_map<std::string, std::vector<std::size_t>> m_producers, m_consumers, m_path_writers;
};

enum class Direction { upstream, downstream };

// Where bytes that no run produced came from: data tracked by a pointer file in git.
struct DataSource {
    std::string pointer;   // the pointer file's path
    std::string commit;    // the commit that made the pointer say this ("" when not found)
    std::string summary;   // its message's first line
    std::int64_t time = 0; // its committer time (unix seconds)
};

struct LineageNode {
    bool is_run = false;
    const RunRecord* run = nullptr;
    std::string object;                 // data: object id
    std::vector<std::string> paths;     // data: the paths it was read or written under
    std::optional<DataSource> source;   // data no run produced, when a pointer tracks it
    std::size_t other_producers = 0;    // data: runs that also produced it, not shown (re-runs)
    std::vector<std::size_t> children;  // the next nodes in the walk's direction
    bool truncated = false;             // not expanded further (--depth)
};

struct LineageGraph {
    Direction direction = Direction::upstream;
    std::vector<LineageNode> nodes; // nodes[0] is the target
    // Edges in the direction data flows (data -> run that read it, run -> data it wrote).
    [[nodiscard]] std::vector<std::pair<std::size_t, std::size_t>> flow_edges() const;
};

struct LineageTarget {
    const RunRecord* run = nullptr; // a run, or else
    std::string object;             // an object id
    std::string path;               // and the workspace path it was found at ("" for an id)
    std::string note;               // for a name several runs share: the others (see find_run)
};

// Resolves what the user named: `sha256:<hex>` (a unique prefix of 4+ digits among the objects
// runs read or wrote, or in the cache), a workspace path (a path with neither bytes nor pointer
// names the bytes the newest run wrote there),
// or a run. A path's object is that of the bytes in the work tree (hashed; a directory's tree
// objects are stored in the cache), else its pointer's. Throws Error(input) when it is none of these or is ambiguous.
[[nodiscard]] LineageTarget resolve_lineage_target(workspace::Workspace& ws, const LineageIndex& index,
                                                   const std::filesystem::path& cwd, const std::string& text);

// Walks the graph from the target, upstream (producers, then their inputs, ...) or downstream
// (consumers, then their outputs, ...), at most `depth` runs deep (0: no limit). Each node is
// expanded once; later visits only link to it.
[[nodiscard]] LineageGraph walk_lineage(const LineageIndex& index, git::Repository& repo, const LineageTarget& target,
                                        Direction direction, int depth);

} // namespace cairn::run
