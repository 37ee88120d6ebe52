// The stress campaign: cairn processes killed with SIGKILL at seeded random moments, many runs at
// once, gc racing writers. After every trial the invariants that must hold at ANY moment are
// checked: the store is valid (cairn fsck, git fsck --strict), the user's files are as they were
// or as the command would leave them, nothing cairn leaves behind is visible to git, the next
// command completes the work, and no run whose command started is lost.
//
// The normal suite runs a few trials of each scenario. tests/stress/run.sh runs the long form:
// CAIRN_STRESS_TRIALS sets the trials per scenario, CAIRN_STRESS_SEED the seed (a failure
// prints the seed and delay that reproduce it).
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

unsigned fnv1a(const std::string& text) {
    unsigned h = 2166136261u;
    for (unsigned char c : text) h = (h ^ c) * 16777619u;
    return h;
}

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

// Trials and a seeded generator of kill delays for one scenario.
struct Campaign {
    std::string name;
    int trials;
    std::mt19937 rng;
    int failures = 0;

    Campaign(std::string scenario, int default_trials)
        : name(std::move(scenario)), trials(env_int("CAIRN_STRESS_TRIALS", default_trials)),
          rng(static_cast<unsigned>(env_int("CAIRN_STRESS_SEED", 1)) * 7919u + fnv1a(name)) {}
    ~Campaign() {
        // One line a scenario, read by tests/stress/run.sh.
        std::cout << "stress " << name << ": " << trials << " trials, " << failures << " failed\n";
    }
    int delay_ms(int max_ms) { return std::uniform_int_distribution<int>(0, max_ms)(rng); }
};

struct Trial {
    int failures_this_trial = 0;
};

// CHECK that also counts the failed trial for the campaign's summary line.
#define STRESS_CHECK(trial, ...)                                                                                       \
    do {                                                                                                               \
        if (!static_cast<bool>(__VA_ARGS__)) ++(trial).failures_this_trial;                                            \
        CHECK(__VA_ARGS__);                                                                                            \
    } while (0)

void kill_after(Child& child, int delay_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    child.signal(SIGKILL);
    child.wait();
}

// Every invariant of the store, whatever was killed: cairn's own check and git's.
void check_store(Trial& t, const Repo& repo) {
    Result fsck = repo.cairn({"fsck", "--json"});
    INFO("fsck: " << fsck.out << fsck.err);
    STRESS_CHECK(t, fsck.code == 0);
    Result git_fsck = repo.git({"fsck", "--strict", "--no-dangling"});
    INFO("git fsck: " << git_fsck.out << git_fsck.err);
    STRESS_CHECK(t, git_fsck.code == 0);
}

// Nothing cairn writes as a temporary may show up as a change for git (and so for `git add -A`).
void check_no_visible_temps(Trial& t, const Repo& repo) {
    Result st = repo.git({"status", "--porcelain", "--untracked-files=all", "--ignore-submodules"});
    INFO("git status: " << st.out);
    STRESS_CHECK(t, !contains(st.out, ".cairn-tmp."));
}

// Temp files left in the work tree outside .git and .cairn.
std::vector<std::string> work_tree_temps(const Repo& repo) {
    std::vector<std::string> out;
    for (auto it = stdfs::recursive_directory_iterator(repo.root()); it != stdfs::recursive_directory_iterator(); ++it) {
        std::string name = it->path().filename().string();
        if (it->is_directory() && (name == ".git" || name == ".cairn")) {
            it.disable_recursion_pending();
            continue;
        }
        if (contains(name, ".cairn-tmp.")) out.push_back(it->path().lexically_relative(repo.root()).string());
    }
    return out;
}

std::string trim(const std::string& s) { return std::string(cairn::util::trim(s)); }

nlohmann::json runs_json(const Repo& repo) {
    Result ls = repo.cairn({"ls", "--json"});
    INFO(ls.err);
    REQUIRE(ls.code == 0);
    return ls.json();
}

} // namespace


// Runs `body` once per trial and counts the trials in which any invariant failed.
template <typename Body> void campaign(const std::string& name, int default_trials, Body body) {
    Campaign c(name, default_trials);
    for (int i = 0; i < c.trials; ++i) {
        Trial t;
        body(c, t, i);
        if (t.failures_this_trial) ++c.failures;
    }
}

TEST_CASE("stress: kill -9 during add", "[e2e][stress]") {
    Repo repo;
    repo.write("big.bin", random_bytes(24u << 20, 3));
    repo.make_tree("small", 600, 60, 1024, 4);
    const std::string big_id = sha256_id_of_file(repo.path("big.bin"));
    campaign("add", 4, [&](Campaign& c, Trial& t, int) {
        int delay = c.delay_ms(120);
        INFO("seed " << env_int("CAIRN_STRESS_SEED", 1) << ", killed after " << delay << " ms");
        auto child = repo.spawn({"add", "big.bin", "small"});
        kill_after(*child, delay);
        STRESS_CHECK(t, sha256_id_of_file(repo.path("big.bin")) == big_id);
        check_store(t, repo);
        check_no_visible_temps(t, repo);
        // The next add completes the work, and then everything is up to date.
        STRESS_CHECK(t, repo.cairn({"add", "big.bin", "small"}).code == 0);
        STRESS_CHECK(t, repo.cairn({"status", "--check"}).code == 0);
        // Start the next trial from nothing tracked.
        for (const char* p : {"big.bin.cairn", "small.cairn"}) stdfs::remove(repo.path(p));
    });
}

TEST_CASE("stress: kill -9 during run, with a parameter override", "[e2e][stress]") {
    Repo repo;
    const std::string params = "# training parameters\nlr: 0.1  # learning rate\nepochs: 3\n";
    repo.write("params.yaml", params);
    // The command marks that it started, reads its parameter, writes an output and metrics.
    repo.write_script("train.sh", "#!/bin/sh\n"
                                  "touch \"started-$1\"\n"
                                  "lr=$(sed -n 's/^lr: *\\([^ ]*\\).*/\\1/p' params.yaml)\n"
                                  "echo \"lr read: $lr\"\n"
                                  "mkdir -p out && head -c 3000000 /dev/zero > out/model.bin && echo \"$1 $lr\" >> out/model.bin\n"
                                  "echo \"loss: 0.5\"\n"
                                  "echo \"acc 0.9\" >> \"$CAIRN_METRICS_FILE\"\n"
                                  "sleep 0.05\n");
    repo.write(".gitignore", "out/\nstarted-*\n");
    repo.commit("train");
    campaign("run", 4, [&](Campaign& c, Trial& t, int i) {
        int delay = c.delay_ms(250);
        std::string name = "t" + std::to_string(i);
        INFO("seed " << env_int("CAIRN_STRESS_SEED", 1) << ", trial " << i << ", killed after " << delay << " ms");
        auto child = repo.spawn({"run", "-n", name, "-p", "lr=0.5", "-o", "out", "--", "./train.sh", name});
        kill_after(*child, delay);
        // The next command that reads runs recovers the killed one and restores params.yaml.
        nlohmann::json runs = runs_json(repo);
        STRESS_CHECK(t, repo.read("params.yaml") == params);
        bool listed = false;
        for (const auto& r : runs)
            if (r["name"] == name) {
                listed = true;
                std::string status = r["status"];
                STRESS_CHECK(t, (status == "crashed" || status == "finished"));
                // What the record says the run read is what it was given.
                STRESS_CHECK(t, r["params"]["lr"] == 0.5);
            }
        // A run whose command started is never lost.
        if (repo.exists("started-" + name)) STRESS_CHECK(t, listed);
        check_store(t, repo);
        check_no_visible_temps(t, repo);
        STRESS_CHECK(t, trim(repo.git({"status", "--porcelain"}).out).empty());
    });
    // Afterwards a plain run works and reads the committed value.
    Result after = repo.ok({"run", "--", "./train.sh", "after"});
    CHECK(contains(after.out, "lr read: 0.1"));
}

TEST_CASE("stress: kill -9 during rerun leaves the user's repository untouched", "[e2e][stress]") {
    Repo repo;
    repo.write("params.yaml", "n: 2000\n");
    repo.write_script("gen.sh", "#!/bin/sh\nmkdir -p out\nseq 1 \"$(sed -n 's/^n: //p' params.yaml)\" > out/numbers.txt\n"
                                "sleep 0.1\necho 'count: 1'\n");
    repo.write(".gitignore", "out/\n");
    repo.commit("gen");
    repo.ok({"run", "-n", "base", "-p", "n=3000", "-o", "out", "--", "./gen.sh"});
    const std::string head = trim(repo.git({"rev-parse", "HEAD"}).out);
    // What is staged (git status, run by the checks below, may refresh the index file's stat data).
    const std::string staged = repo.git({"ls-files", "--stage"}).out;
    const std::string numbers = repo.read("out/numbers.txt");
    campaign("rerun", 3, [&](Campaign& c, Trial& t, int) {
        int delay = c.delay_ms(200);
        INFO("seed " << env_int("CAIRN_STRESS_SEED", 1) << ", killed after " << delay << " ms");
        auto child = repo.spawn({"rerun", "base"});
        kill_after(*child, delay);
        STRESS_CHECK(t, repo.read("params.yaml") == "n: 2000\n");
        STRESS_CHECK(t, repo.read("out/numbers.txt") == numbers);
        STRESS_CHECK(t, trim(repo.git({"rev-parse", "HEAD"}).out) == head);
        STRESS_CHECK(t, repo.git({"ls-files", "--stage"}).out == staged);
        runs_json(repo);
        check_store(t, repo);
        check_no_visible_temps(t, repo);
        // gc removes the killed rerun's worktree.
        STRESS_CHECK(t, repo.cairn({"gc"}).code == 0);
        bool worktree_left = false;
        for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp")))
            worktree_left |= cairn::util::starts_with(e.path().filename().string(), "rerun-");
        STRESS_CHECK(t, !worktree_left);
    });
    // And a rerun still reproduces.
    CHECK(repo.cairn({"rerun", "base"}).code == 0);
}

TEST_CASE("stress: kill -9 during gc never loses live data", "[e2e][stress]") {
    Repo repo;
    repo.write_script("gen.sh", "#!/bin/sh\nmkdir -p out\necho \"$1\" > out/a.txt\nseq 1 5000 > out/b.txt\n");
    repo.write(".gitignore", "out/\n");
    repo.commit("gen");
    campaign("gc", 4, [&](Campaign& c, Trial& t, int i) {
        // Garbage: versions of data that no pointer names any more.
        repo.make_tree("data", 300, 30, 512, static_cast<unsigned>(40 + i));
        repo.ok({"add", "data"});
        repo.make_tree("data", 300, 30, 512, static_cast<unsigned>(80 + i));
        repo.ok({"add", "data"});
        std::string run_name = "g" + std::to_string(i);
        repo.ok({"run", "-n", run_name, "-o", "out", "--", "./gen.sh", run_name});
        int delay = c.delay_ms(60);
        INFO("seed " << env_int("CAIRN_STRESS_SEED", 1) << ", killed after " << delay << " ms");
        auto child = repo.spawn({"gc"});
        kill_after(*child, delay);
        check_store(t, repo);
        STRESS_CHECK(t, repo.cairn({"status", "--check"}).code == 0);
        // Every run's outputs can still be brought back.
        for (const auto& r : runs_json(repo))
            for (const auto& [path, id] : r["outputs"].items())
                STRESS_CHECK(t, repo.exists(Repo::object_rel(id.get<std::string>())));
        STRESS_CHECK(t, repo.cairn({"gc"}).code == 0);
        check_store(t, repo);
    });
}

TEST_CASE("stress: kill -9 during apply, then apply completes", "[e2e][stress]") {
    Repo repo;
    repo.write_script("gen.sh", "#!/bin/sh\nmkdir -p out\nhead -c 8000000 /dev/zero > out/model.bin\necho \"$1\" >> out/model.bin\n"
                                "seq 1 \"$2\" > out/list.txt\n");
    repo.write(".gitignore", "out/\n");
    repo.commit("gen");
    repo.ok({"run", "-n", "one", "-o", "out", "--", "./gen.sh", "one", "100"});
    const std::string one_model = sha256_id_of_file(repo.path("out/model.bin"));
    repo.ok({"run", "-n", "two", "-o", "out", "--", "./gen.sh", "two", "200"});
    campaign("apply", 4, [&](Campaign& c, Trial& t, int i) {
        const char* target = i % 2 == 0 ? "one" : "two";
        int delay = c.delay_ms(40);
        INFO("seed " << env_int("CAIRN_STRESS_SEED", 1) << ", apply " << target << " killed after " << delay << " ms");
        auto child = repo.spawn({"apply", target, "--outputs-only"});
        kill_after(*child, delay);
        check_no_visible_temps(t, repo);
        // The next apply is not refused because of what the killed one left.
        Result again = repo.cairn({"apply", "one", "--outputs-only"});
        INFO(again.err);
        STRESS_CHECK(t, again.code == 0);
        STRESS_CHECK(t, sha256_id_of_file(repo.path("out/model.bin")) == one_model);
        STRESS_CHECK(t, work_tree_temps(repo).empty());
        check_store(t, repo);
    });
}

TEST_CASE("stress: kill -9 during checkout --force of a large file", "[e2e][stress]") {
    Repo repo;
    repo.write("big.bin", random_bytes(32u << 20, 11));
    repo.ok({"add", "big.bin"});
    const std::string id = sha256_id_of_file(repo.path("big.bin"));
    const std::string pointer = repo.read("big.bin.cairn");
    campaign("checkout", 4, [&](Campaign& c, Trial& t, int i) {
        repo.write("big.bin", "edited " + std::to_string(i));
        repo.ok({"add", "big.bin"}); // the edit is saved, so that checkout --force discards nothing unsaved
        repo.write("big.bin.cairn", pointer);
        int delay = c.delay_ms(80);
        INFO("seed " << env_int("CAIRN_STRESS_SEED", 1) << ", killed after " << delay << " ms");
        auto child = repo.spawn({"checkout", "--force", "big.bin"});
        kill_after(*child, delay);
        check_no_visible_temps(t, repo);
        STRESS_CHECK(t, repo.cairn({"checkout", "--force", "big.bin"}).code == 0);
        STRESS_CHECK(t, sha256_id_of_file(repo.path("big.bin")) == id);
        STRESS_CHECK(t, work_tree_temps(repo).empty());
        check_store(t, repo);
    });
}

TEST_CASE("stress: many concurrent runs, some overriding params, each record matches what ran", "[e2e][stress][concurrency]") {
    Repo repo;
    const std::string params = "x: base  # the value runs without -p read\n";
    repo.write("params.yaml", params);
    repo.write_script("show.sh", "#!/bin/sh\necho \"read $(sed -n 's/^x: *\\([^ ]*\\).*/\\1/p' params.yaml)\"\n");
    repo.commit("show");
    campaign("concurrent-runs", 1, [&](Campaign&, Trial& t, int trial) {
        const int total = env_int("CAIRN_STRESS_RUNS", 32);
        std::vector<std::unique_ptr<Child>> children;
        for (int i = 0; i < total; ++i) {
            std::string name = "c" + std::to_string(trial) + "-" + std::to_string(i);
            std::vector<std::string> args{"run", "-n", name};
            if (i % 3 == 0) args.insert(args.end(), {"-p", "x=v" + std::to_string(i)});
            args.insert(args.end(), {"--", "./show.sh"});
            children.push_back(repo.spawn(args));
            if (children.size() == 16) {
                for (auto& ch : children) STRESS_CHECK(t, ch->wait() == 0);
                children.clear();
            }
        }
        for (auto& ch : children) STRESS_CHECK(t, ch->wait() == 0);
        STRESS_CHECK(t, repo.read("params.yaml") == params);
        int seen = 0;
        for (const auto& r : runs_json(repo)) {
            std::string name = r["name"];
            if (!cairn::util::starts_with(name, "c" + std::to_string(trial) + "-")) continue;
            ++seen;
            std::string log = repo.git({"show", "refs/cairn/runs/" + r["id"].get<std::string>() + ":log.txt"}).out;
            std::string recorded = r["params"]["x"];
            INFO(name << " recorded x=" << recorded << ", printed " << log);
            STRESS_CHECK(t, log == "read " + recorded + "\n");
        }
        STRESS_CHECK(t, seen == total);
    });
}

TEST_CASE("stress: gc racing add and run loses nothing", "[e2e][stress][concurrency]") {
    Repo repo;
    repo.write_script("gen.sh", "#!/bin/sh\nmkdir -p out\nseq 1 \"$1\" > out/n.txt\n");
    repo.write(".gitignore", "out/\n");
    repo.commit("gen");
    campaign("gc-race", 3, [&](Campaign&, Trial& t, int i) {
        std::string dir = "batch" + std::to_string(i);
        repo.make_tree(dir, 300, 30, 1024, static_cast<unsigned>(200 + i));
        auto add = repo.spawn({"add", dir});
        // The run's stderr is kept, so that a failure says why.
        const std::string err_file = (repo.root().parent_path() / ("run-" + std::to_string(i) + ".err")).string();
        Child run({"sh", "-c", std::string("exec \"$0\" run -n r") + std::to_string(i) + " -o out -- ./gen.sh " +
                                   std::to_string(1000 + i) + " 2>\"$1\"",
                   CAIRN_EXE, err_file},
                  repo.root(), repo.env());
        auto gc = repo.spawn({"gc"});
        STRESS_CHECK(t, add->wait() == 0);
        int run_code = run.wait();
        INFO("run's stderr: " << cairn::test::read_text(err_file));
        STRESS_CHECK(t, run_code == 0);
        STRESS_CHECK(t, gc->wait() == 0);
        check_store(t, repo);
        for (const auto& r : runs_json(repo))
            for (const auto& [path, id] : r["outputs"].items())
                STRESS_CHECK(t, repo.exists(Repo::object_rel(id.get<std::string>())));
        stdfs::remove_all(repo.path(dir));
        STRESS_CHECK(t, repo.cairn({"checkout", dir}).code == 0);
        STRESS_CHECK(t, repo.cairn({"status", "--check"}).code == 0);
    });
}
