// cairn rerun: re-executing recorded runs and judging whether they reproduced.
#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

std::string trim(const std::string& s) { return std::string(cairn::util::trim(s)); }

Result cairn_with(const Repo& repo, const std::vector<std::string>& args, const std::map<std::string, std::string>& extra) {
    auto env = repo.env();
    for (const auto& [k, v] : extra) env[k] = v;
    std::vector<std::string> argv = {CAIRN_EXE};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, repo.root(), env);
}

std::string last_run_id(const Repo& repo) { return repo.ok({"ls", "--json", "-n", "1"}).json()[0]["id"]; }

std::vector<std::string> rerun_dirs(const Repo& repo) {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp")))
        if (cairn::util::starts_with(e.path().filename().string(), "rerun-")) out.push_back(e.path().string());
    return out;
}

// Two recorded runs: "make" runs make.sh (`make_body`, which writes mid.txt), "use" reads
// mid.txt and writes final.txt. Returns the id of "make".
std::string two_step_runs(const Repo& repo, const std::string& make_body) {
    repo.write_script("make.sh", "#!/bin/sh\n" + make_body + "\n");
    repo.write_script("use.sh", "#!/bin/sh\ncat mid.txt mid.txt > final.txt\n");
    repo.write(".gitignore", "mid.txt\nfinal.txt\n");
    repo.commit();
    repo.ok({"run", "-n", "make", "-o", "mid.txt", "--", "./make.sh"});
    std::string maker = last_run_id(repo);
    repo.ok({"run", "-n", "use", "-d", "mid.txt", "-o", "final.txt", "--", "./use.sh"});
    return maker;
}

// Waits for a command to write $CAIRN_RUN_DIR/ready (whole: written elsewhere and renamed, or
// by the shell before anything else) and returns what it wrote.
std::string wait_for_ready(const Repo& repo) {
    for (int i = 0; i < 1000; ++i) {
        for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs"))) {
            std::ifstream in(e.path() / "ready");
            std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (!trim(text).empty()) return trim(text);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("the command never became ready");
    return "";
}

// Records a run of slow.sh (quick), then starts re-running it with SLOW=1: the command writes
// its pid to $CAIRN_RUN_DIR/ready and becomes `sleep 30`. (`exec sleep`: dash catches SIGINT
// while it runs a script, and one that lands between its fork and exec of a command is lost.)
std::unique_ptr<Child> start_slow_rerun(const Repo& repo) {
    repo.write_script("slow.sh", "#!/bin/sh\nif [ -n \"$SLOW\" ]; then echo $$ > \"$CAIRN_RUN_DIR/ready.tmp\"; "
                          "mv \"$CAIRN_RUN_DIR/ready.tmp\" \"$CAIRN_RUN_DIR/ready\"; exec sleep 30; fi\necho done\n");
    repo.commit();
    repo.ok({"run", "-n", "slow", "--", "./slow.sh"});
    auto env = repo.env();
    env["SLOW"] = "1";
    return std::make_unique<Child>(std::vector<std::string>{CAIRN_EXE, "rerun", "slow"}, repo.root(), env);
}

// A deterministic two-file experiment: train.sh reads params.yaml and an input, writes a model
// and logs metrics; it runs in the sub-directory `src`.
void write_experiment(const Repo& repo) {
    repo.write("params.yaml", "train:\n  lr: 0.1\n  epochs: 2\n");
    repo.write("data/raw.txt", "one\ntwo\nthree\n");
    repo.write_script("src/train.sh", "#!/bin/sh\n"
                               "lr=$(grep 'lr:' ../params.yaml | tr -d ' ' | cut -d: -f2)\n"
                               "mkdir -p ../out\n"
                               "{ echo \"lr=$lr\"; sort ../data/raw.txt; } > ../out/model.txt\n"
                               "echo \"loss: $lr\"\n"
                               "echo \"acc 0.75\" >> \"$CAIRN_METRICS_FILE\"\n");
}

} // namespace

TEST_CASE("rerun of a deterministic run is reproduced bit for bit and touches nothing of the user's", "[e2e][rerun]") {
    Repo repo;
    write_experiment(repo);
    repo.ok({"add", "data/raw.txt"});
    repo.commit();
    repo.ok({"run", "-n", "base", "-p", "train.lr=0.5", "-d", "../data/raw.txt", "-o", "../out/model.txt", "--", "./train.sh"},
            "src");
    std::string original = last_run_id(repo);
    std::string model = repo.read("out/model.txt");
    CHECK(cairn::util::starts_with(model, "lr=0.5\n"));
    // The user's files are changed afterwards: the re-run must not see (or touch) them.
    repo.write("out/model.txt", "edited by the user\n");
    repo.write("params.yaml", "train:\n  lr: 0.9\n  epochs: 2\n");
    std::string index_before = repo.read(".git/index");
    std::string head_before = trim(repo.git({"rev-parse", "HEAD"}).out);

    Result r = repo.cairn({"rerun", "base", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto j = r.json();
    CHECK(j["verdict"] == "reproduced");
    REQUIRE(j["steps"].size() == 1);
    auto step = j["steps"][0];
    CHECK(step["run"] == original);
    CHECK(step["outputs"][0]["path"] == "out/model.txt");
    CHECK(step["outputs"][0]["verdict"] == "identical");
    CHECK(step["outputs"][0]["new"] == step["outputs"][0]["old"]);
    CHECK(step["exit_code"]["verdict"] == "same");
    for (const auto& m : step["metrics"]) CHECK(m["verdict"] == "equal");
    CHECK(step["metrics"].size() == 2); // loss (captured from stdout) and acc (metrics file)

    // The re-run is a run of its own that names the original, with the same params and code.
    std::string rerun_id = step["rerun"];
    auto shown = repo.ok({"show", rerun_id, "--json"}).json();
    CHECK(shown["reproduces"] == original);
    auto orig_shown = repo.ok({"show", original, "--json"}).json();
    CHECK(shown["params"] == orig_shown["params"]);
    CHECK(shown["git"]["snapshot"] == orig_shown["git"]["snapshot"]);
    CHECK(shown["command"] == orig_shown["command"]);
    CHECK(shown["cwd"] == "src");

    // Nothing of the user's moved, and the worktree is gone.
    CHECK(repo.read("out/model.txt") == "edited by the user\n");
    CHECK(repo.read("params.yaml") == "train:\n  lr: 0.9\n  epochs: 2\n");
    CHECK(repo.read(".git/index") == index_before);
    CHECK(trim(repo.git({"rev-parse", "HEAD"}).out) == head_before);
    CHECK(rerun_dirs(repo).empty());
    CHECK(repo.git({"fsck", "--strict"}).code == 0);

    // Human output: a verdict line; --keep keeps the worktree and says where.
    Result kept = repo.cairn({"rerun", original, "--keep"});
    INFO(kept.err);
    CHECK(kept.code == 0);
    CHECK(contains(kept.out, "verdict: reproduced"));
    auto dirs = rerun_dirs(repo);
    REQUIRE(dirs.size() == 1);
    CHECK(contains(kept.out, dirs[0]));
    CHECK(stdfs::exists(stdfs::path(dirs[0]) / "work/src/train.sh"));
    CHECK(contains(repo.read(stdfs::path(dirs[0]).lexically_relative(repo.root()).string() + "/work/params.yaml"), "lr: 0.5"));
}

TEST_CASE("rerun --dry-run says what it would do and does nothing", "[e2e][rerun]") {
    Repo repo;
    write_experiment(repo);
    repo.commit();
    repo.ok({"run", "-d", "../data/raw.txt", "--", "./train.sh"}, "src");
    std::string refs_before = repo.git({"for-each-ref"}).out;
    Result r = repo.cairn({"rerun", "last", "--dry-run"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(contains(r.out, "restore input data/raw.txt"));
    CHECK(contains(r.out, "./train.sh"));
    auto j = repo.ok({"rerun", "last", "--dry-run", "--json"}).json();
    CHECK(j["steps"][0]["cwd"] == "src");
    CHECK(j["steps"][0]["inputs"].contains("data/raw.txt"));
    CHECK(repo.git({"for-each-ref"}).out == refs_before);
    CHECK(rerun_dirs(repo).empty());
}

TEST_CASE("rerun of a run recorded on a dirty work tree uses the code as it was", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("gen.sh", "#!/bin/sh\necho committed > result.txt\n");
    repo.commit();
    // Uncommitted edit of a tracked file, and an untracked helper it reads.
    repo.write_script("gen.sh", "#!/bin/sh\necho \"dirty $(cat helper.txt)\" > result.txt\n");
    repo.write("helper.txt", "helper-v1");
    repo.ok({"run", "-o", "result.txt", "--", "./gen.sh"});
    CHECK(repo.read("result.txt") == "dirty helper-v1\n");
    auto shown = repo.ok({"show", "last", "--json"}).json();
    CHECK(shown["git"]["dirty"] == true);
    // The work tree moves on: the edit is reverted and the helper deleted.
    repo.git({"checkout", "--", "gen.sh"});
    stdfs::remove(repo.path("helper.txt"));
    repo.write("result.txt", "something else\n");

    Result r = repo.cairn({"rerun", "last", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto j = r.json();
    CHECK(j["verdict"] == "reproduced");
    CHECK(j["steps"][0]["outputs"][0]["verdict"] == "identical");
    CHECK(repo.read("gen.sh") == "#!/bin/sh\necho committed > result.txt\n");
    CHECK_FALSE(repo.exists("helper.txt"));
}

TEST_CASE("a non-deterministic command diverges, and the report says it looks non-deterministic", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("stamp.sh", "#!/bin/sh\necho \"made at $(date +%s%N)\" > stamp.txt\n");
    repo.commit();
    repo.ok({"run", "-n", "stamp", "-o", "stamp.txt", "--", "./stamp.sh"});
    Result r = repo.cairn({"rerun", "stamp", "--json"});
    INFO(r.err);
    CHECK(r.code == 1);
    auto step = r.json()["steps"][0];
    CHECK(r.json()["verdict"] == "diverged");
    CHECK(step["outputs"][0]["verdict"] == "differs");
    CHECK(contains(step["outputs"][0]["detail"].get<std::string>(), "line 1"));
    CHECK(step["nondeterministic"] == true);
    CHECK(step["causes"].empty());
    Result human = repo.cairn({"rerun", "stamp"});
    CHECK(human.code == 1);
    CHECK(contains(human.out, "non-deterministic"));
    CHECK(contains(human.out, "verdict: diverged"));
}

TEST_CASE("an environment variable set when recorded and missing now is named as the cause", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("seeded.sh", "#!/bin/sh\necho \"seed=${SEED:-unset}\" > out.txt\n");
    repo.commit();
    Result rec = cairn_with(repo, {"run", "-o", "out.txt", "--", "./seeded.sh"}, {{"SEED", "42"}});
    REQUIRE(rec.code == 0);
    std::string seeded = last_run_id(repo);
    Result r = repo.cairn({"rerun", seeded, "--json"});
    CHECK(r.code == 1);
    auto step = r.json()["steps"][0];
    CHECK(step["nondeterministic"] == false);
    bool named = false;
    for (const auto& c : step["causes"])
        if (c["key"] == "env.SEED" && c["change"] == "removed") named = true;
    CHECK(named);
    CHECK(contains(repo.cairn({"rerun", seeded}).out, "env.SEED"));

    // An allow-listed variable is put back as recorded: the run reproduces without it set now.
    repo.write(".cairn/config.yaml", "version: 1\nrun:\n  env: [PATH, SEED]\n");
    repo.commit("allow SEED");
    REQUIRE(cairn_with(repo, {"run", "-o", "out.txt", "--", "./seeded.sh"}, {{"SEED", "7"}}).code == 0);
    Result again = cairn_with(repo, {"rerun", "last", "--json"}, {{"SEED", "8"}});
    INFO(again.out);
    CHECK(again.code == 0);
    CHECK(again.json()["verdict"] == "reproduced");
}

TEST_CASE("metric tolerances: --rtol and --atol boundaries", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("metric.sh", "#!/bin/sh\necho \"score: ${SCORE:-1}\"\n");
    repo.commit();
    REQUIRE(cairn_with(repo, {"run", "-n", "m", "--", "./metric.sh"}, {{"SCORE", "1.0"}}).code == 0);
    auto verdict = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = {"rerun", "m", "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        Result r = cairn_with(repo, args, {{"SCORE", "1.5"}});
        INFO(r.err);
        auto j = r.json();
        return std::make_pair(r.code, j["steps"][0]["metrics"][0]["verdict"].get<std::string>());
    };
    CHECK(verdict({}) == std::make_pair(1, std::string("differs")));
    CHECK(verdict({"--rtol", "0.5"}) == std::make_pair(0, std::string("within tolerance")));
    CHECK(verdict({"--rtol", "0.49"}) == std::make_pair(1, std::string("differs")));
    CHECK(verdict({"--atol", "0.5"}) == std::make_pair(0, std::string("within tolerance")));
    CHECK(verdict({"--atol", "0.25", "--rtol", "0.25"}) == std::make_pair(0, std::string("within tolerance")));
    CHECK(verdict({"--atol", "0.25", "--rtol", "0.2"}) == std::make_pair(1, std::string("differs")));
    Result r = cairn_with(repo, {"rerun", "m", "--rtol", "0.5", "--json"}, {{"SCORE", "1.5"}});
    CHECK(r.json()["verdict"] == "reproduced within tolerance");
    CHECK(r.json()["steps"][0]["metrics"][0]["rel_delta"].get<double>() == Approx(0.5));
    CHECK(repo.cairn({"rerun", "m", "--rtol", "-1"}).code == 2);
}

TEST_CASE("rerun names each missing object and the run that produced it, and runs nothing", "[e2e][rerun]") {
    Repo repo;
    std::string maker = two_step_runs(repo, "echo made > mid.txt");
    std::string mid_id = repo.ok({"show", "use", "--json"}).json()["inputs"]["mid.txt"];
    stdfs::remove(repo.path(Repo::object_rel(mid_id)));
    std::string refs_before = repo.git({"for-each-ref"}).out;

    Result r = repo.cairn({"rerun", "use"});
    CHECK(r.code == 6);
    CHECK(contains(r.err, "cairn: error:"));
    CHECK(contains(r.err, "input mid.txt"));
    CHECK(contains(r.err, mid_id.substr(0, 19)));
    CHECK(contains(r.err, "produced by run " + maker.substr(0, 8)));
    CHECK(repo.git({"for-each-ref"}).out == refs_before);
    CHECK(rerun_dirs(repo).empty());
    // With --upstream the producer runs first and feeds its output forward: nothing is missing.
    Result up = repo.cairn({"rerun", "use", "--upstream", "--json"});
    INFO(up.err);
    CHECK(up.code == 0);
    CHECK(up.json()["steps"].size() == 2);
    CHECK(up.json()["steps"][0]["run"] == maker);
}

TEST_CASE("rerun works in a fresh clone with the run refs fetched and the cache copied", "[e2e][rerun]") {
    Repo repo;
    write_experiment(repo);
    repo.ok({"add", "data/raw.txt"});
    repo.commit();
    repo.ok({"run", "-n", "cloned", "-o", "../out/model.txt", "--", "./train.sh"}, "src");

    cairn::test::TempDir dir;
    stdfs::path clone = dir.path() / "clone";
    REQUIRE(run_process({"git", "clone", "-q", repo.root().string(), clone.string()}, dir.path(), repo.env()).code == 0);
    REQUIRE(run_process({"git", "fetch", "-q", "origin", "refs/cairn/*:refs/cairn/*"}, clone, repo.env()).code == 0);
    REQUIRE_FALSE(stdfs::exists(clone / "data/raw.txt")); // tracked data is not in git
    stdfs::create_directories(clone / ".cairn");
    stdfs::copy(repo.path(".cairn/cache"), clone / ".cairn/cache", stdfs::copy_options::recursive);

    Result r = run_process({CAIRN_EXE, "rerun", "cloned", "--json"}, clone, repo.env());
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.json()["verdict"] == "reproduced");
    // The new run is recorded in the clone.
    Result ls = run_process({CAIRN_EXE, "ls", "--json"}, clone, repo.env());
    CHECK(ls.json().size() == 2);
}

TEST_CASE("Ctrl-C during a rerun stops it, exits 130 and leaves no worktree behind", "[e2e][rerun]") {
    Repo repo;
    auto child = start_slow_rerun(repo);
    wait_for_ready(repo);
    REQUIRE(rerun_dirs(repo).size() == 1);
    child->signal(SIGINT);
    CHECK(child->wait() == 130);
    CHECK(rerun_dirs(repo).empty());
    // The interrupted re-run is recorded as such.
    auto last = repo.ok({"show", "last", "--json"}).json();
    CHECK(last["status"] == "interrupted");
    CHECK(last.contains("reproduces"));
}

TEST_CASE("gc removes the worktree of a rerun whose cairn was killed, and keeps a live one's", "[e2e][rerun]") {
    Repo repo;
    auto child = start_slow_rerun(repo);
    pid_t command_pid = std::stoi(wait_for_ready(repo));
    REQUIRE(rerun_dirs(repo).size() == 1);
    repo.ok({"gc"});
    CHECK(rerun_dirs(repo).size() == 1); // in use
    child->signal(SIGKILL);
    child->wait();
    ::kill(command_pid, SIGKILL); // the command outlives its cairn
    REQUIRE(rerun_dirs(repo).size() == 1); // left behind by the killed cairn
    repo.ok({"gc"});
    CHECK(rerun_dirs(repo).empty());
}

TEST_CASE("the executable's hash is remembered by stat data and follows changes to it", "[e2e][run]") {
    Repo repo;
    repo.write_script("tool.sh", "#!/bin/sh\necho one\n");
    repo.ok({"run", "--", "./tool.sh"});
    auto first = repo.ok({"show", "last", "--json"}).json();
    CHECK(first["executable"]["path"] == "tool.sh"); // inside the workspace: recorded relative to it
    CHECK(first["executable"]["sha256"] == sha256_id_of_file(repo.path("tool.sh")));
    CHECK(repo.exists(".cairn/state/executables/stat"));
    // Same size, new bytes: the stat data differs (mtime/ctime), so it is hashed again.
    repo.write_script("tool.sh", "#!/bin/sh\necho two\n");
    repo.ok({"run", "--", "./tool.sh"});
    auto second = repo.ok({"show", "last", "--json"}).json();
    CHECK(second["executable"]["sha256"] == sha256_id_of_file(repo.path("tool.sh")));
    CHECK(second["executable"]["sha256"] != first["executable"]["sha256"]);
    // A damaged cache file is ignored, not fatal.
    repo.write(".cairn/state/executables/stat", "garbage\n");
    repo.ok({"run", "--", "./tool.sh"});
    CHECK(repo.ok({"show", "last", "--json"}).json()["executable"]["sha256"] == second["executable"]["sha256"]);
}

TEST_CASE("without a terminal, a signal sent to cairn reaches the command's children too", "[e2e][run]") {
    Repo repo;
    // A background child of the script: only a signal to the whole process group reaches it
    // (SIGTERM: background jobs of a non-interactive shell ignore SIGINT by rule).
    // Its output goes elsewhere, so that cairn does not wait for it through the pipes.
    repo.write_script("tree.sh", "#!/bin/sh\nsleep 30 >/dev/null 2>&1 &\necho $! > \"$CAIRN_RUN_DIR/ready.tmp\"\n"
                          "mv \"$CAIRN_RUN_DIR/ready.tmp\" \"$CAIRN_RUN_DIR/ready\"\nwait\n");
    Child child({CAIRN_EXE, "run", "-n", "tree", "--", "./tree.sh"}, repo.root(), repo.env());
    pid_t grandchild = std::stoi(wait_for_ready(repo));
    child.signal(SIGTERM);
    CHECK(child.wait() == 128 + SIGTERM);
    // The script's own child got the signal as well (it is gone, or a zombie about to be reaped).
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
        std::ifstream in("/proc/" + std::to_string(grandchild) + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        gone = stat.empty() || stat.find(") Z") != std::string::npos;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!gone) ::kill(grandchild, SIGKILL);
    CHECK(gone);
    CHECK(repo.ok({"show", "tree", "--json"}).json()["status"] == "interrupted");
}

TEST_CASE("rerun and apply refuse a record whose paths leave the workspace", "[e2e][rerun][safety]") {
    Repo repo;
    repo.write_script("make.sh", "#!/bin/sh\necho made > out.txt\n");
    repo.commit();
    repo.ok({"run", "-n", "good", "-o", "out.txt", "--", "./make.sh"});
    std::string id = last_run_id(repo);
    // A forged record (as a fetched ref could be): the output path climbs out of the repository.
    std::string out_id = repo.ok({"show", id, "--json"}).json()["outputs"]["out.txt"];
    forge_record_file(repo, id, "outputs.yaml", "../escaped.txt: " + out_id + "\n");

    Result rerun = repo.cairn({"rerun", id});
    CHECK(rerun.code == 3);
    CHECK(contains(rerun.err, "unsafe output path '../escaped.txt'"));
    Result apply = repo.cairn({"apply", id, "--outputs-only"});
    CHECK(apply.code == 3);
    CHECK(contains(apply.err, "unsafe output path"));
    CHECK_FALSE(stdfs::exists(repo.root().parent_path() / "escaped.txt"));
    CHECK(rerun_dirs(repo).empty());
}

TEST_CASE("inside a rerun, git sees the run's commit, branch and uncommitted changes", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("gitinfo.sh", "#!/bin/sh\nhead=$(git rev-parse HEAD); branch=$(git rev-parse --abbrev-ref HEAD)\n"
                             "st=$(git status --porcelain)\nprintf '%s\\n%s\\n%s\\n' \"$head\" \"$branch\" \"$st\" > info.txt\n");
    repo.write("note.txt", "committed\n");
    repo.write(".gitignore", "info.txt\n");
    repo.commit();
    REQUIRE(repo.git({"checkout", "-q", "-b", "feature"}).code == 0);
    repo.write("note.txt", "edited, not committed\n");
    repo.ok({"run", "-n", "info", "-o", "info.txt", "--", "./gitinfo.sh"});
    std::string head = trim(repo.git({"rev-parse", "HEAD"}).out);
    std::string info = repo.read("info.txt");
    CHECK(cairn::util::starts_with(info, head + "\nfeature\n M note.txt\n"));
    // Move on: another branch, the edit gone.
    repo.git({"checkout", "-q", "--", "note.txt"});
    repo.git({"checkout", "-q", "-b", "elsewhere"});
    repo.write("more.txt", "x");
    repo.commit("more");
    std::string branches = repo.git({"for-each-ref", "refs/heads/", "refs/tags/"}).out;

    Result r = repo.cairn({"rerun", "info", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.json()["verdict"] == "reproduced");
    // The user's repository did not gain the worktree's branch or anything else.
    CHECK(trim(repo.git({"rev-parse", "--abbrev-ref", "HEAD"}).out) == "elsewhere");
    CHECK(repo.git({"for-each-ref", "refs/heads/", "refs/tags/"}).out == branches);
    CHECK(repo.git({"fsck", "--strict"}).code == 0);
}

TEST_CASE("rerun replays -m metric files and --no-capture as recorded", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("m.sh", "#!/bin/sh\necho 'loss: 5'\necho '{\"eval\": {\"acc\": 0.5}}' > m.json\n");
    repo.write(".gitignore", "m.json\n");
    repo.commit();
    repo.ok({"run", "-n", "files", "--no-capture", "-m", "m.json", "--", "./m.sh"});
    auto shown = repo.ok({"show", "files", "--json"}).json();
    REQUIRE(shown["metrics"].size() == 1);
    REQUIRE(shown["metrics"].contains("eval.acc"));
    Result r = repo.cairn({"rerun", "files", "--json"});
    INFO(r.err);
    CHECK(r.code == 0);
    auto step = r.json()["steps"][0];
    CHECK(step["verdict"] == "reproduced");
    REQUIRE(step["metrics"].size() == 1); // no captured `loss`: capture stays off
    CHECK(step["metrics"][0]["key"] == "eval.acc");
    CHECK(step["metrics"][0]["verdict"] == "equal");
}

TEST_CASE("two reruns of one run at once each get their own worktree and record", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("work.sh", "#!/bin/sh\nsleep 0.2\nsort in.txt > out.txt\n");
    repo.write("in.txt", "b\na\n");
    repo.write(".gitignore", "out.txt\n");
    repo.commit();
    repo.ok({"run", "-n", "w", "-d", "in.txt", "-o", "out.txt", "--", "./work.sh"});
    std::string original = last_run_id(repo);
    auto one = repo.spawn({"rerun", "w"});
    auto two = repo.spawn({"rerun", "w"});
    CHECK(one->wait() == 0);
    CHECK(two->wait() == 0);
    auto runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 3);
    int reruns = 0;
    for (const auto& r : runs)
        if (r["reproduces"] == original) {
            ++reruns;
            CHECK(r["status"] == "finished");
        }
    CHECK(reruns == 2);
    CHECK(rerun_dirs(repo).empty());
    CHECK(repo.git({"fsck", "--strict"}).code == 0);
}

TEST_CASE("the code snapshot leaves out other cairn processes' temp files", "[e2e][run]") {
    Repo repo;
    repo.write("a.txt", "a");
    repo.commit();
    // What a concurrent cairn's atomic write looks like for a moment (then it is renamed away:
    // reading it for the snapshot would fail).
    repo.write("params.yaml.cairn-tmp.0123456789ab", "lr: 1\n");
    repo.write("untracked.txt", "u");
    repo.ok({"run", "--", "true"});
    std::string snapshot = repo.ok({"show", "last", "--json"}).json()["git"]["snapshot"];
    std::string files = repo.git({"ls-tree", "-r", "--name-only", snapshot}).out;
    CHECK(contains(files, "untracked.txt"));
    CHECK_FALSE(contains(files, "cairn-tmp"));
}

TEST_CASE("a run's declared outputs stay out of its code snapshot", "[e2e][run]") {
    Repo repo;
    repo.write_script("train.sh", "#!/bin/sh\nmkdir -p model\necho weights > model/w.bin\necho report > report.txt\n");
    repo.commit();
    std::string head = trim(repo.git({"rev-parse", "HEAD"}).out);
    repo.ok({"run", "-o", "model", "-o", "report.txt", "--", "./train.sh"});
    // Second run: the first one's outputs are in the work tree, untracked; they are this run's
    // outputs too, so the code is still exactly HEAD.
    repo.ok({"run", "-o", "model", "-o", "report.txt", "--", "./train.sh"});
    auto second = repo.ok({"show", "last", "--json"}).json();
    CHECK(second["git"]["snapshot"] == head);
    CHECK(second["git"]["dirty"] == false);
    // Without -o they are untracked files like any other, and part of the snapshot.
    repo.ok({"run", "--", "true"});
    auto third = repo.ok({"show", "last", "--json"}).json();
    CHECK(third["git"]["dirty"] == true);
    std::string files = repo.git({"ls-tree", "-r", "--name-only", third["git"]["snapshot"].get<std::string>()}).out;
    CHECK(contains(files, "model/w.bin"));
}

TEST_CASE("rerun restores tracked directories and compares directory outputs", "[e2e][rerun]") {
    Repo repo;
    repo.make_tree("data", 40, 10, 256);
    repo.ok({"add", "data"});
    repo.write_script("cat.sh", "#!/bin/sh\nmkdir -p out\nfind data -type f | sort | xargs cat > out/all.bin\n"
                         "find data -type f | wc -l > out/count.txt\n");
    repo.write(".gitignore", "out/\n");
    repo.commit();
    repo.ok({"run", "-n", "dirs", "-o", "out", "--", "./cat.sh"});
    std::filesystem::remove_all(repo.path("data")); // the work tree no longer has the data
    Result r = repo.cairn({"rerun", "dirs", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto step = r.json()["steps"][0];
    CHECK(step["verdict"] == "reproduced");
    CHECK(step["outputs"][0]["path"] == "out");
    CHECK(step["outputs"][0]["verdict"] == "identical");
    CHECK(step["outputs"][0]["old_size"].get<std::uint64_t>() > 40 * 256);
}

TEST_CASE("rerun --upstream feeds a diverged step's new output forward and names it as the cause", "[e2e][rerun]") {
    Repo repo;
    two_step_runs(repo, "date +%s%N > mid.txt");
    Result r = repo.cairn({"rerun", "use", "--upstream", "--json"});
    INFO(r.err);
    CHECK(r.code == 1);
    auto j = r.json();
    CHECK(j["verdict"] == "diverged");
    REQUIRE(j["steps"].size() == 2);
    CHECK(j["steps"][0]["verdict"] == "diverged");
    CHECK(j["steps"][0]["nondeterministic"] == true);
    auto second = j["steps"][1];
    CHECK(second["verdict"] == "diverged");
    REQUIRE(second["fed_inputs"].size() == 1);
    CHECK(second["fed_inputs"][0]["key"] == "mid.txt");
    CHECK(second["fed_inputs"][0]["new"] == j["steps"][0]["outputs"][0]["new"]);
    bool input_cause = false;
    for (const auto& c : second["causes"])
        if (c["key"] == "input mid.txt") input_cause = true;
    CHECK(input_cause);
    CHECK(second["nondeterministic"] == false);
}
