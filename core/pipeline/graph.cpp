#include "core/pipeline/pipeline.hpp"

#include <algorithm>
#include <map>
#include <queue>

#include <fmt/format.h>

#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::pipeline {
namespace {

struct Producer {
    std::size_t stage;
    const Output* out;
};

// The outputs a path depends on: one it equals or lies inside, or ones inside it.
void producers_of(const std::string& path, const std::map<std::string, Producer>& outs,
                  std::vector<Producer>& found) {
    if (auto it = outs.find(path); it != outs.end()) found.push_back(it->second);
    for (std::size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1))
        if (auto it = outs.find(path.substr(0, slash)); it != outs.end())
            found.push_back(it->second);
    std::string prefix = path + "/";
    for (auto it = outs.lower_bound(prefix);
         it != outs.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
        found.push_back(it->second);
}

} // namespace

Graph build_graph(const Pipeline& p) {
    std::size_t n = p.stages.size();
    Graph g;
    g.upstream.resize(n);
    g.downstream.resize(n);
    std::map<std::string, Producer> outs;
    for (std::size_t i = 0; i < n; ++i)
        for (const auto& o : p.stages[i].outs)
            outs.emplace(o.path, Producer{i, &o});

    // Why each edge exists, for the cycle message: (stage, upstream) -> the dependency's path.
    std::map<std::pair<std::size_t, std::size_t>, std::string> reason;
    for (std::size_t i = 0; i < n; ++i) {
        const Stage& s = p.stages[i];
        std::vector<std::pair<std::string, Producer>> found;
        auto add = [&](const std::string& path) {
            std::vector<Producer> producers;
            producers_of(path, outs, producers);
            for (const auto& pr : producers)
                found.emplace_back(path, pr);
        };
        for (const auto& d : s.deps)
            add(d.path);
        for (const auto& ref : s.params)
            add(ref.file);
        for (const auto& [path, pr] : found) {
            reason.emplace(std::make_pair(i, pr.stage), path);
            g.upstream[i].push_back(pr.stage);
        }
        std::sort(g.upstream[i].begin(), g.upstream[i].end());
        g.upstream[i].erase(std::unique(g.upstream[i].begin(), g.upstream[i].end()),
                            g.upstream[i].end());
        for (std::size_t up : g.upstream[i])
            g.downstream[up].push_back(i);
    }

    // A cycle: depth-first search in file order, iterative (the input sets the depth), for a
    // stage reached again while it is on the path.
    std::vector<int> state(n, 0);                          // 0 unseen, 1 on the path, 2 done
    std::vector<std::pair<std::size_t, std::size_t>> path; // stage, next upstream to look at
    auto report = [&](std::size_t up) {
        auto start =
            std::find_if(path.begin(), path.end(), [&](const auto& e) { return e.first == up; });
        std::string chain, why;
        for (auto it = start; it != path.end(); ++it) {
            std::size_t next = it + 1 == path.end() ? up : (it + 1)->first;
            chain += fmt::format("{} -> ", p.stages[it->first].name);
            if (!why.empty()) why += ", ";
            why += fmt::format("'{}' depends on '{}' from '{}'", p.stages[it->first].name,
                               reason[{it->first, next}], p.stages[next].name);
        }
        chain += p.stages[up].name;
        const Stage& first = p.stages[up];
        fail(ErrorKind::input, "{}:{}: stage '{}': dependency cycle: {} ({})", first.mark.file,
             first.mark.line, first.name, chain, why);
    };
    for (std::size_t root = 0; root < n; ++root) {
        if (state[root] != 0) continue;
        state[root] = 1;
        path.emplace_back(root, 0);
        while (!path.empty()) {
            auto& [i, next] = path.back();
            if (next == g.upstream[i].size()) {
                state[i] = 2;
                path.pop_back();
                continue;
            }
            std::size_t up = g.upstream[i][next++];
            if (state[up] == 1) report(up);
            if (state[up] == 0) {
                state[up] = 1;
                path.emplace_back(up, 0);
            }
        }
    }

    // Kahn's algorithm, always taking the ready stage that comes first in the file.
    std::vector<std::size_t> waiting(n);
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t i = 0; i < n; ++i) {
        waiting[i] = g.upstream[i].size();
        if (waiting[i] == 0) ready.push(i);
    }
    while (!ready.empty()) {
        std::size_t i = ready.top();
        ready.pop();
        g.order.push_back(i);
        for (std::size_t down : g.downstream[i])
            if (--waiting[down] == 0) ready.push(down);
    }
    return g;
}

std::vector<std::size_t> with_upstream(const Graph& g, std::size_t stage) {
    std::vector<bool> wanted(g.upstream.size(), false);
    std::vector<std::size_t> todo = {stage};
    wanted[stage] = true;
    while (!todo.empty()) {
        std::size_t i = todo.back();
        todo.pop_back();
        for (std::size_t up : g.upstream[i])
            if (!wanted[up]) {
                wanted[up] = true;
                todo.push_back(up);
            }
    }
    std::vector<std::size_t> out;
    for (std::size_t i : g.order)
        if (wanted[i]) out.push_back(i);
    return out;
}

std::vector<std::size_t> select_stages(const Pipeline& p, const std::string& name) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < p.stages.size(); ++i)
        if (p.stages[i].name == name) return {i};
    for (std::size_t i = 0; i < p.stages.size(); ++i)
        if (util::starts_with(p.stages[i].name, name + "@")) out.push_back(i);
    if (!out.empty()) return out;
    std::vector<std::string> names;
    for (const auto& s : p.stages)
        names.push_back(s.name);
    std::string near = util::closest(name, names);
    fail(ErrorKind::input, "no stage '{}' in {}{}", name, p.file,
         near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
}

} // namespace cairn::pipeline
