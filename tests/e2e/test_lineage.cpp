// cairn lineage: producers and consumers of data across runs.
#include <set>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

std::string trim(const std::string& s) { return std::string(cairn::util::trim(s)); }

struct Generations {
    std::string gen1, gen2, gen3; // run ids
    std::string raw_commit;        // the commit that added raw.txt's pointer
};

// raw.txt (tracked data) -> gen1 -> a.txt -> gen2 -> b.txt -> gen3 -> c.txt
Generations make_generations(const Repo& repo) {
    repo.write("raw.txt", "raw data\n");
    repo.write(".gitignore", "a.txt\nb.txt\nc.txt\n");
    repo.ok({"add", "raw.txt"});
    repo.commit("add raw data");
    Generations g;
    g.raw_commit = trim(repo.git({"rev-parse", "HEAD"}).out);
    auto id_of_last = [&] { return repo.ok({"ls", "--json", "-n", "1"}).json()[0]["id"].get<std::string>(); };
    repo.ok({"run", "-n", "gen1", "-d", "raw.txt", "-o", "a.txt", "--", "sh", "-c", "tr a-z A-Z < raw.txt > a.txt; echo 'acc: 0.5'"});
    g.gen1 = id_of_last();
    repo.ok({"run", "-n", "gen2", "-d", "a.txt", "-o", "b.txt", "--", "sh", "-c", "rev a.txt > b.txt"});
    g.gen2 = id_of_last();
    repo.ok({"run", "-n", "gen3", "-d", "b.txt", "-o", "c.txt", "--", "sh", "-c", "cat b.txt b.txt > c.txt"});
    g.gen3 = id_of_last();
    return g;
}

std::set<std::string> run_ids(const nlohmann::json& graph) {
    std::set<std::string> out;
    for (const auto& n : graph["nodes"])
        if (n["type"] == "run") out.insert(n["id"].get<std::string>());
    return out;
}

const nlohmann::json* node_with_path(const nlohmann::json& graph, const std::string& path) {
    for (const auto& n : graph["nodes"])
        if (n["type"] == "data")
            for (const auto& p : n["paths"])
                if (p == path) return &n;
    return nullptr;
}

bool has_edge(const nlohmann::json& graph, const std::string& from, const std::string& to) {
    for (const auto& e : graph["edges"])
        if (e["from"] == from && e["to"] == to) return true;
    return false;
}

} // namespace

TEST_CASE("lineage walks three generations upstream and downstream", "[e2e][lineage]") {
    Repo repo;
    Generations g = make_generations(repo);

    auto up = repo.ok({"lineage", "c.txt", "--format", "json"}).json();
    CHECK(up["direction"] == "upstream");
    CHECK(run_ids(up) == std::set<std::string>{g.gen1, g.gen2, g.gen3});
    // Edges follow the data: raw.txt -> gen1 -> a.txt -> gen2 -> b.txt -> gen3 -> c.txt.
    const auto* raw = node_with_path(up, "raw.txt");
    const auto* a = node_with_path(up, "a.txt");
    const auto* c = node_with_path(up, "c.txt");
    REQUIRE(raw);
    REQUIRE(a);
    REQUIRE(c);
    CHECK(up["target"] == (*c)["key"]);
    CHECK(has_edge(up, (*raw)["key"], "run:" + g.gen1));
    CHECK(has_edge(up, "run:" + g.gen1, (*a)["key"]));
    CHECK(has_edge(up, (*a)["key"], "run:" + g.gen2));
    CHECK(has_edge(up, "run:" + g.gen3, (*c)["key"]));
    CHECK(up["edges"].size() == 6);
    // raw.txt is a source: tracked by its pointer since the commit that added it.
    REQUIRE((*raw).contains("source"));
    CHECK((*raw)["source"]["pointer"] == "raw.txt.cairn");
    CHECK((*raw)["source"]["commit"] == g.raw_commit);
    CHECK((*raw)["source"]["summary"] == "add raw data");

    // Downstream from the raw data reaches every generation.
    auto down = repo.ok({"lineage", "raw.txt", "--downstream", "--format", "json"}).json();
    CHECK(down["direction"] == "downstream");
    CHECK(run_ids(down) == std::set<std::string>{g.gen1, g.gen2, g.gen3});
    REQUIRE(node_with_path(down, "c.txt"));
    CHECK(has_edge(down, "run:" + g.gen3, (*node_with_path(down, "c.txt"))["key"]));

    // From an object id prefix, and from a run.
    std::string b_id = repo.ok({"show", "gen2", "--json"}).json()["outputs"]["b.txt"];
    auto from_b = repo.ok({"lineage", b_id.substr(0, 15), "--format", "json"}).json();
    CHECK(run_ids(from_b) == std::set<std::string>{g.gen1, g.gen2});
    auto b_down = repo.ok({"lineage", b_id.substr(0, 15), "--downstream", "--format", "json"}).json();
    CHECK(run_ids(b_down) == std::set<std::string>{g.gen3});
    auto from_run = repo.ok({"lineage", "gen3", "--format", "json"}).json();
    CHECK(from_run["target"] == "run:" + g.gen3);
    CHECK(run_ids(from_run) == std::set<std::string>{g.gen1, g.gen2, g.gen3});

    // --depth 1: only the run that made c.txt; its input is marked as cut off.
    auto shallow = repo.ok({"lineage", "c.txt", "--depth", "1", "--format", "json"}).json();
    CHECK(run_ids(shallow) == std::set<std::string>{g.gen3});
    REQUIRE(node_with_path(shallow, "b.txt"));
    CHECK((*node_with_path(shallow, "b.txt"))["truncated"] == true);
}

TEST_CASE("lineage prints a tree or Graphviz dot or mermaid", "[e2e][lineage]") {
    Repo repo;
    Generations g = make_generations(repo);

    Result tree = repo.ok({"lineage", "c.txt"});
    auto lines = cairn::util::split(trim(tree.out), '\n');
    REQUIRE(lines.size() >= 7);
    CHECK(cairn::util::starts_with(lines[0], "c.txt sha256:"));
    for (const auto& line : lines) {
        std::size_t columns = 0;
        for (unsigned char ch : line) columns += (ch & 0xC0) != 0x80;
        CHECK(columns <= 80);
    }
    // Newest generation first, each run under the data it made.
    auto pos = [&](const std::string& needle) { return tree.out.find(needle); };
    CHECK(pos("run " + g.gen3.substr(0, 8)) < pos("run " + g.gen2.substr(0, 8)));
    CHECK(pos("run " + g.gen2.substr(0, 8)) < pos("run " + g.gen1.substr(0, 8)));
    CHECK(contains(tree.out, "acc=0.5"));
    CHECK(contains(tree.out, "source: raw.txt.cairn, commit " + g.raw_commit.substr(0, 8)));

    Result dot = repo.ok({"lineage", "c.txt", "--format", "dot"});
    CHECK(cairn::util::starts_with(dot.out, "digraph lineage {"));
    std::size_t arrows = 0;
    for (std::size_t p = dot.out.find(" -> "); p != std::string::npos; p = dot.out.find(" -> ", p + 1)) ++arrows;
    CHECK(arrows == 6);
    CHECK(contains(dot.out, "\"run:" + g.gen1 + "\""));
    Result which = run_process({"sh", "-c", "command -v dot"}, repo.root(), repo.env());
    if (which.code == 0) {
        repo.write("lineage.dot", dot.out);
        Result svg = run_process({"dot", "-Tsvg", "lineage.dot"}, repo.root(), repo.env());
        CHECK(svg.code == 0);
        CHECK(contains(svg.out, "<svg"));
    } else {
        WARN("Graphviz 'dot' is not installed: the dot output was checked as text only");
    }

    Result mermaid = repo.ok({"lineage", "c.txt", "--format", "mermaid"});
    CHECK(cairn::util::starts_with(mermaid.out, "flowchart LR\n"));
    std::size_t edges = 0;
    for (std::size_t p = mermaid.out.find(" --> "); p != std::string::npos; p = mermaid.out.find(" --> ", p + 1)) ++edges;
    CHECK(edges == 6);
    CHECK(contains(mermaid.out, "run " + g.gen2.substr(0, 8) + " gen2"));

    CHECK(repo.cairn({"lineage", "c.txt", "--format", "svg"}).code == 2);
    CHECK(repo.cairn({"lineage", "c.txt", "--upstream", "--downstream"}).code == 2);
}

TEST_CASE("lineage of a path no run produced says so and lists runs that wrote earlier versions", "[e2e][lineage]") {
    Repo repo;
    Generations g = make_generations(repo);
    repo.write("notes.txt", "hand written\n");
    Result none = repo.ok({"lineage", "notes.txt"});
    CHECK(contains(none.out, "no run produced the current bytes of notes.txt"));
    CHECK_FALSE(contains(none.out, "earlier versions"));

    repo.write("c.txt", "edited by hand\n");
    Result edited = repo.ok({"lineage", "c.txt"});
    CHECK(contains(edited.out, "no run produced the current bytes of c.txt"));
    CHECK(contains(edited.out, "earlier versions were produced by:"));
    CHECK(contains(edited.out, "run " + g.gen3.substr(0, 8) + " (gen3)"));
    auto j = repo.ok({"lineage", "c.txt", "--format", "json"}).json();
    REQUIRE(j["earlier_producers"].size() == 1);
    CHECK(j["earlier_producers"][0]["run"] == g.gen3);
    CHECK(j["nodes"].size() == 1);

    // A path that does not exist any more names the bytes the newest run wrote there.
    std::filesystem::remove(repo.path("c.txt"));
    auto gone = repo.ok({"lineage", "c.txt", "--format", "json"}).json();
    CHECK(run_ids(gone).count(g.gen3));

    Result unknown = repo.cairn({"lineage", "no-such-thing"});
    CHECK(unknown.code == 3);
    CHECK(contains(unknown.err, "cairn: error: 'no-such-thing' is not a path in the workspace, an object id"));
    CHECK(repo.cairn({"lineage", "sha256:zz"}).code == 3);
}
