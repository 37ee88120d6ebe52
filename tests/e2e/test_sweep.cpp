// Sweeps: `cairn run` with several -p values, each trial a recorded run in its own worktree.
#include <chrono>
#include <csignal>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Worktrees a sweep (or a rerun) left under .cairn/tmp/.
std::vector<std::string> worktrees(const Repo& repo) {
    std::vector<std::string> out;
    if (!stdfs::exists(repo.path(".cairn/tmp"))) return out;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp")))
        if (e.is_directory()) out.push_back(e.path().filename().string());
    return out;
}

// Waits (up to 20 s) until `dir` holds `count` entries.
bool wait_for_entries(const stdfs::path& dir, std::size_t count) {
    for (int i = 0; i < 2000; ++i) {
        std::size_t n = 0;
        if (stdfs::exists(dir))
            for ([[maybe_unused]] const auto& e : stdfs::directory_iterator(dir))
                ++n;
        if (n >= count) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

// The trial script: reads lr from params.yaml (the file the trial's worktree has), batch from
// the environment, and writes both to out/model.txt and a metric.
void write_train(const Repo& repo) {
    repo.write("params.yaml", "# training\nlr: 0.5\nbatch: 16\n");
    repo.write_script("train.sh",
                      "#!/bin/sh\n"
                      "set -e\n"
                      "lr=$(sed -n 's/^lr: //p' params.yaml)\n"
                      "mkdir -p out\n"
                      "echo \"lr=$lr batch=$CAIRN_PARAM_BATCH\" > out/model.txt\n"
                      "awk \"BEGIN { print \\\"acc: \\\" $lr * $CAIRN_PARAM_BATCH }\"\n");
    repo.commit("train");
}

} // namespace

TEST_CASE("a grid sweep runs every trial in its own worktree and records the sweep id",
          "[e2e][sweep]") {
    Repo repo;
    write_train(repo);
    Result r =
        repo.cairn({"run", "--json", "-j", "2", "-n", "lr{lr}-b{batch}", "-p", "lr=0.1,0.01,0.001",
                    "-p", "batch=32,64", "-o", "out", "--", "./train.sh"});
    REQUIRE(r.code == 0);
    auto j = r.json();
    std::string sweep = j["sweep"];
    CHECK(sweep.size() == 16);
    REQUIRE(j["trials"].size() == 6);
    std::set<std::string> ids;
    for (const auto& t : j["trials"]) {
        CHECK(t["status"] == "finished");
        ids.insert(t["run"].get<std::string>());
    }
    CHECK(ids.size() == 6);
    CHECK(j["trials"][1]["params"]["lr"] == 0.1);
    CHECK(j["trials"][1]["params"]["batch"] == 64);
    CHECK(j["trials"][1]["name"] == "lr0.1-b64");

    // The user's files are untouched; no worktree is left.
    CHECK(repo.read("params.yaml") == "# training\nlr: 0.5\nbatch: 16\n");
    CHECK_FALSE(repo.exists("out"));
    CHECK(worktrees(repo).empty());

    auto runs = repo.ok({"ls", "--json", "--filter", "sweep = \"" + sweep + "\""}).json();
    REQUIRE(runs.size() == 6);
    for (const auto& run : runs) {
        CHECK(run["sweep"] == sweep);
        CHECK(run["status"] == "finished");
        // Each trial read its own params (no race between concurrent trials on one file).
        std::string lr = run["params"]["lr"].dump(), batch = run["params"]["batch"].dump();
        std::string id = run["outputs"]["out"];
        std::string ref = "refs/cairn/runs/" + run["id"].get<std::string>();
        std::string tree = repo.git({"show", ref + ":outputs.yaml"}).out;
        CHECK(contains(tree, "out: " + id));
        CHECK(run["tags"]["sweep.trial"].is_string());
        CHECK(run["git"]["snapshot"] == j["snapshot"]);
        CHECK(contains(repo.git({"show", ref + ":run.yaml"}).out, "sweep: " + sweep));
        (void)lr, (void)batch;
    }
    // The best trial, and apply brings its outputs into the work tree.
    auto best = repo.ok({"ls", "--json", "--filter", "sweep = \"" + sweep + "\"", "--sort",
                         "-metrics.acc", "-n", "1"})
                    .json();
    REQUIRE(best.size() == 1);
    CHECK(best[0]["params"]["lr"] == 0.1);
    CHECK(best[0]["params"]["batch"] == 64);
    repo.ok({"apply", best[0]["id"]});
    CHECK(repo.read("out/model.txt") == "lr=0.1 batch=64\n");
}

TEST_CASE("trials with --jobs 2 run at the same time", "[e2e][sweep]") {
    Repo repo;
    cairn::test::TempDir barrier;
    repo.commit("init");
    // Each trial waits (up to 20 s) for the other to arrive: both finish only if they overlap.
    std::string script =
        "touch '" + barrier.path().string() + "/{x}'; i=0; while [ $(ls '" +
        barrier.path().string() +
        "' | wc -l) -lt 2 ]; do i=$((i+1)); [ $i -gt 400 ] && exit 7; sleep 0.05; done; exit 0";
    Result r = repo.cairn({"run", "-j", "2", "-p", "x=a,b", "--", "sh", "-c", script});
    CHECK(r.code == 0);
    CHECK(contains(r.err, "trial 1/2 x=a"));
    CHECK(contains(r.err, "trial 2/2 x=b"));
    CHECK(contains(r.err, "2 of 2 trial(s) finished"));
}

TEST_CASE("a failed trial does not stop the others, the sweep exits 1", "[e2e][sweep]") {
    Repo repo;
    repo.commit("init");
    Result r = repo.cairn({"run", "--json", "-p", "x=1,2,3", "--", "sh", "-c", "test {x} != 2"});
    CHECK(r.code == 1);
    auto j = r.json();
    REQUIRE(j["trials"].size() == 3);
    CHECK(j["trials"][0]["status"] == "finished");
    CHECK(j["trials"][1]["status"] == "failed");
    CHECK(j["trials"][1]["exit_code"] == 1);
    CHECK(j["trials"][2]["status"] == "finished");
    CHECK(repo.ok({"ls", "--json", "--filter", "sweep = \"" + j["sweep"].get<std::string>() + "\""})
              .json()
              .size() == 3);

    // A trial that cannot start at all (its command is not there) is an error; the others run.
    repo.write_script("ok.sh", "#!/bin/sh\nexit 0\n");
    repo.commit("ok");
    r = repo.cairn({"run", "--json", "-p", "s=ok,missing", "--", "./{s}.sh"});
    CHECK(r.code == 1);
    j = r.json();
    CHECK(j["trials"][0]["status"] == "finished");
    CHECK(j["trials"][1]["status"] == "error");
    CHECK(contains(j["trials"][1]["error"].get<std::string>(), "command not found"));
    CHECK(j["trials"][1]["run"].is_null());
    CHECK(worktrees(repo).empty());
}

TEST_CASE("inputs, tracked data and uncommitted code reach every trial's worktree",
          "[e2e][sweep]") {
    Repo repo;
    repo.write(".gitignore", "raw.txt\n");
    repo.write("raw.txt", "raw input\n");       // ignored by git: only -d brings it
    repo.write("data/table.csv", "a,b\n1,2\n"); // tracked by cairn
    repo.ok({"add", "data"});
    repo.commit("data");
    repo.write_script("job.sh",
                      "#!/bin/sh\ncat raw.txt data/table.csv > result.txt\n"); // not committed
    Result r = repo.cairn(
        {"run", "--json", "-p", "k=1,2", "-d", "raw.txt", "-o", "result.txt", "--", "./job.sh"});
    REQUIRE(r.code == 0);
    auto j = r.json();
    for (const auto& t : j["trials"])
        CHECK(t["status"] == "finished");
    auto show = repo.ok({"show", j["trials"][0]["run"], "--json"}).json();
    CHECK(show["git"]["dirty"] == true); // the snapshot holds the uncommitted job.sh
    CHECK(show["inputs"]["raw.txt"] == sha256_id_of_file(repo.path("raw.txt")));
    CHECK(show["sweep"] == j["sweep"]);
}

TEST_CASE("random sweeps: the same seed gives the same trials, recorded with the seed",
          "[e2e][sweep]") {
    Repo repo;
    repo.commit("init");
    std::vector<std::string> args = {"run",
                                     "--dry-run",
                                     "--json",
                                     "--random",
                                     "5",
                                     "--seed",
                                     "11",
                                     "-p",
                                     "lr=loguniform(1e-4,1e-1)",
                                     "-p",
                                     "layers=2,3,4",
                                     "-p",
                                     "fixed=7",
                                     "--",
                                     "true"};
    auto a = repo.ok(args).json(), b = repo.ok(args).json();
    CHECK(a == b);
    CHECK(a["seed"] == 11);
    REQUIRE(a["trials"].size() == 5);
    CHECK(a["trials"][0]["params"].size() == 2);     // the fixed value is not an axis
    CHECK(repo.ok({"ls", "--json"}).json().empty()); // --dry-run ran nothing

    auto j =
        repo.ok({"run", "--json", "--random", "2", "--seed", "11", "-p", "lr=loguniform(1e-4,1e-1)",
                 "-p", "layers=2,3,4", "-p", "fixed=7", "--", "true"})
            .json();
    REQUIRE(j["trials"].size() == 2);
    CHECK(j["trials"][0]["params"] == a["trials"][0]["params"]);
    auto run = repo.ok({"show", j["trials"][0]["run"], "--json"}).json();
    CHECK(run["tags"]["sweep.seed"] == "11");
    CHECK(run["tags"]["sweep.trial"] == "1");
    CHECK(run["params"]["fixed"] == 7);
    CHECK(run["params"]["lr"] == a["trials"][0]["params"]["lr"]);

    // Distributions need --random; --seed needs --random.
    CHECK(repo.cairn({"run", "-p", "lr=uniform(0,1)", "--", "true"}).code == 2);
    CHECK(repo.cairn({"run", "--seed", "1", "-p", "lr=1,2", "--", "true"}).code == 2);
    CHECK(repo.cairn({"run", "-p", "lr=range(1,1)", "--", "true"}).code == 2);
}

TEST_CASE("one value everywhere is a plain run, a quoted comma is one string", "[e2e][sweep]") {
    Repo repo;
    repo.commit("init");
    Result r = repo.cairn({"run", "-n", "plain", "-p", "k=\"a,b\"", "-p", "n=range(3,4)", "--", "true"});
    REQUIRE(r.code == 0);
    CHECK_FALSE(contains(r.err, "sweep"));
    auto j = repo.ok({"show", "plain", "--json"}).json();
    CHECK(j["params"]["k"] == "a,b");
    CHECK(j["params"]["n"] == 3); // a function with one value is that value
    CHECK(j["sweep"].is_null());
    CHECK(j["name"] == "plain"); // not a template: no trial number appended
    CHECK_FALSE(contains(
        repo.git({"show", "refs/cairn/runs/" + j["id"].get<std::string>() + ":run.yaml"}).out,
        "sweep:"));
}

TEST_CASE("SIGINT stops every running trial, each recorded as interrupted, no new trial starts",
          "[e2e][sweep]") {
    Repo repo;
    repo.commit("init");
    cairn::test::TempDir started;
    auto child = repo.spawn({"run", "-j", "2", "-p", "x=1,2,3", "--", "sh", "-c",
                             "touch '" + started.path().string() + "/{x}'; exec sleep 60"});
    REQUIRE(wait_for_entries(started.path(), 2));
    child->signal(SIGINT);
    CHECK(child->wait() == 130);
    auto runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 2);
    for (const auto& run : runs) {
        CHECK(run["status"] == "interrupted");
        CHECK(run["sweep"].is_string());
    }
    CHECK_FALSE(stdfs::exists(started.path() / "3"));
    CHECK(worktrees(repo).empty());
}

TEST_CASE("gc removes a trial worktree a killed sweep left", "[e2e][sweep]") {
    Repo repo;
    repo.commit("init");
    repo.write(".cairn/tmp/sweep-0123abcd-1-00000000/lock", "");
    repo.write(".cairn/tmp/sweep-0123abcd-1-00000000/work/file.txt", "left behind\n");
    repo.ok({"gc"});
    CHECK(worktrees(repo).empty());
}

// Each job slot keeps one worktree for its trials and resets it in between: the script records
// what a trial sees (into `seen/`, outside the repository), then changes everything it can.
TEST_CASE("with -j 1 every trial reuses one worktree and sees none of an earlier trial's changes",
          "[e2e][sweep]") {
    Repo repo;
    cairn::test::TempDir seen;
    repo.write(".gitignore", "*.log\nignored/\nraw.txt\n");
    repo.write("params.yaml", "k: 0\nx: 0\n");
    repo.write("src/code.txt", "original\n");
    repo.write("src/keep.txt", "kept\n");
    repo.write("src/same.txt", "never changed\n");
    repo.write("README.md", "readme\n");
    repo.write("raw.txt", "raw input\n"); // ignored by git: only -d brings it
    repo.write("data/table.csv", "a,b\n1,2\n");
    repo.ok({"add", "data"});
    std::string s = seen.path().string();
    repo.write_script(
        "trial.sh",
        "#!/bin/sh\n"
        "set -e\n"
        "o='" + s + "'/$CAIRN_PARAM_X\n"
        "pwd > \"$o.pwd\"\n"
        "git rev-parse HEAD > \"$o.head\"\n"
        "cp params.yaml \"$o.params\"\n"
        "stat -c '%i %z' src/same.txt > \"$o.same\"\n"
        "{ find . -path ./.git -prune -o -print | LC_ALL=C sort\n"
        "  stat -c '%n %a' src src/code.txt trial.sh\n"
        "  git status --porcelain; git log --all --format=%s\n"
        "  cat src/code.txt README.md data/table.csv raw.txt; } > \"$o\"\n"
        // Outputs, untracked and ignored files, a deleted and an edited tracked file, restored
        // data edited and deleted, a same-size edit in place, a changed mode, a file turned into
        // a directory, a commit in the worktree's repository.
        "mkdir -p out ignored more/deep\n"
        "echo $CAIRN_PARAM_X > out/result.txt; echo $CAIRN_PARAM_X > ignored/cache.bin; echo $CAIRN_PARAM_X > run.log\n"
        "echo $CAIRN_PARAM_X > new.txt; echo $CAIRN_PARAM_X > more/deep/file\n"
        "rm README.md raw.txt; echo 'k: 9' >> params.yaml\n"
        "printf 'ORIGINAL\\n' > src/code.txt\n"
        "rm -f data/table.csv; echo tampered > data/table.csv\n"
        "chmod 700 src; chmod 600 trial.sh\n"
        "rm src/keep.txt; mkdir src/keep.txt\n"
        "if [ $CAIRN_PARAM_X = 2 ]; then git add -A && git commit -q -m 'by a trial'; fi\n");
    repo.commit("trial");
    Result r = repo.cairn(
        {"run", "--json", "-j", "1", "-p", "x=1,2,3", "-d", "raw.txt", "-o", "out", "--", "./trial.sh"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    for (const auto& t : r.json()["trials"])
        CHECK(t["status"] == "finished");

    std::string first = cairn::test::read_text(seen / "1");
    CHECK(contains(first, "./src/code.txt\n"));
    CHECK_FALSE(contains(first, "out"));
    CHECK(contains(first, "original\nreadme\na,b\n1,2\nraw input\n"));
    CHECK_FALSE(contains(first, "by a trial"));
    for (const char* x : {"2", "3"}) {
        INFO("trial " << x);
        CHECK(cairn::test::read_text(seen / x) == first);
        CHECK(cairn::test::read_text(seen / (std::string(x) + ".params")) ==
              "k: 0\nx: " + std::string(x) + "\n"); // this trial's edit, not an earlier one's
        CHECK(cairn::test::read_text(seen / (std::string(x) + ".pwd")) ==
              cairn::test::read_text(seen / "1.pwd")); // the same worktree
        // Not rewritten, even after trial 2 committed in the worktree's repository.
        CHECK(cairn::test::read_text(seen / (std::string(x) + ".same")) ==
              cairn::test::read_text(seen / "1.same"));
        CHECK(cairn::test::read_text(seen / (std::string(x) + ".head")) ==
              repo.git({"rev-parse", "HEAD"}).out);
    }
    // Each trial's outputs are its own.
    auto runs = repo.ok({"ls", "--json", "--sort", "tags.sweep.trial"}).json();
    REQUIRE(runs.size() == 3);
    CHECK(runs[0]["outputs"]["out"] != runs[1]["outputs"]["out"]);
    CHECK(worktrees(repo).empty());
    CHECK(repo.read("README.md") == "readme\n"); // the user's files are untouched
}

TEST_CASE("with -j 2 each slot's worktree is reset between its trials", "[e2e][sweep]") {
    Repo repo;
    cairn::test::TempDir seen;
    repo.write("keep.txt", "kept\n");
    std::string s = seen.path().string();
    repo.write_script("trial.sh", "#!/bin/sh\nset -e\n"
                                  "ls -A | grep -v '^.git$' > '" + s + "'/$CAIRN_PARAM_X\n"
                                  "cat keep.txt >> '" + s + "'/$CAIRN_PARAM_X\n"
                                  "echo $CAIRN_PARAM_X > left-by-$CAIRN_PARAM_X.txt; echo changed > keep.txt\n");
    repo.commit("trial");
    REQUIRE(repo.cairn({"run", "-j", "2", "-p", "x=1,2,3,4,5,6", "--", "./trial.sh"}).code == 0);
    std::string want = ".cairn\nkeep.txt\ntrial.sh\nkept\n";
    for (const char* x : {"1", "2", "3", "4", "5", "6"}) {
        INFO("trial " << x);
        CHECK(cairn::test::read_text(seen / x) == want);
    }
    CHECK(worktrees(repo).empty());
}
