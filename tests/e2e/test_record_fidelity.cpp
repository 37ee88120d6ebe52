// The record holds what ran and nothing it must not: secrets redacted in every stored copy,
// user patterns that cannot hang cairn, unknown options refused, captured metrics surviving a
// crash, declared outputs that were not written making the run failed.
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Every byte cairn and git stored: the raw files under .git and .cairn (index, refs, logs,
// packs, staging, the run index) plus every git object uncompressed (loose ones are zlib'd).
std::string everything_stored(const Repo& repo) {
    std::string all = git_out(repo, {"cat-file", "--batch-all-objects", "--batch"});
    for (const char* dir : {".git", ".cairn"})
        for (const auto& e : stdfs::recursive_directory_iterator(repo.path(dir)))
            if (e.is_regular_file()) {
                std::ifstream in(e.path(), std::ios::binary);
                std::ostringstream bytes;
                bytes << in.rdbuf();
                all += bytes.str();
            }
    return all;
}

// Waits until the run in progress has written $CAIRN_RUN_DIR/ready; returns its staging directory.
stdfs::path wait_for_ready(const Repo& repo) {
    for (int i = 0; i < 1000; ++i) {
        for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs")))
            if (stdfs::exists(e.path() / "ready")) return e.path();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
}

// Waits until `file` exists and contains `text`.
bool wait_for_text(const stdfs::path& file, const std::string& text) {
    for (int i = 0; i < 1000; ++i) {
        std::ifstream in(file);
        std::ostringstream content;
        content << in.rdbuf();
        if (contains(content.str(), text)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

} // namespace

TEST_CASE("secrets on the command line and in URL variables are stored nowhere", "[e2e][record]") {
    Repo repo;
    repo.write(".cairn/config.yaml", "version: 1\nrun:\n  env: [PATH, DATABASE_URL]\n");
    repo.commit("config");
    // The program gets the real values: it checks them, and prints nothing secret.
    std::map<std::string, std::string> env = repo.env();
    env["DATABASE_URL"] = "postgres://u:dbpw-321@h/db";
    Result r = run_process({CAIRN_EXE, "run", "-n", "keyed", "-p", "user=me", "--", "sh", "-c",
                            "test \"$1 $2 $3 $4\" = '--api-key=sk-abc123 --token tok-xyz789 https://me:pw-456@host/x' "
                            "&& test \"$DATABASE_URL\" = postgres://u:dbpw-321@h/db && echo 'loss: 0.5'",
                            "sh", "--api-key=sk-abc123", "--token", "tok-xyz789", "https://{user}:pw-456@host/x"},
                           repo.root(), env);
    INFO(r.err);
    REQUIRE(r.code == 0);

    // A run in progress: its staging run.yaml is a stored copy too.
    auto child = repo.spawn({"run", "-n", "waiting", "--", "sh", "-c",
                             "echo x > \"$CAIRN_RUN_DIR/ready\"; while [ ! -f go ]; do sleep 0.02; done", "sh",
                             "-password", "hunter2"});
    stdfs::path staging = wait_for_ready(repo);
    REQUIRE(!staging.empty());
    std::string staged = repo.read((staging / "run.yaml").lexically_relative(repo.root()).string());
    CHECK(contains(staged, "<redacted>"));
    CHECK_FALSE(contains(staged, "hunter2"));
    repo.write("go", "");
    CHECK(child->wait() == 0);

    repo.ok({"ls"}); // writes the run index
    auto j = repo.ok({"show", "keyed", "--json"}).json();
    CHECK(j["command"] == nlohmann::json({"sh", "-c", j["command"][2], "sh", "--api-key=<redacted>", "--token", "<redacted>",
                                          "https://me:<redacted>@host/x"}));
    CHECK(j["env"]["DATABASE_URL"] == "postgres://u:<redacted>@h/db");
    CHECK(j["metrics"]["loss"]["last"] == 0.5);
    CHECK(contains(repo.ok({"show", "keyed"}).out, "--api-key=<redacted> --token <redacted>"));

    // rerun refuses, naming the argument and the way out, and runs nothing.
    Result rerun = run_process({CAIRN_EXE, "rerun", "keyed"}, repo.root(), env);
    CHECK(rerun.code == 3);
    CHECK(contains(rerun.err, "cannot be re-run: its command was recorded with a secret redacted ('"));
    CHECK(contains(rerun.err, "environment variable"));
    Result rerun2 = repo.cairn({"rerun", "waiting"});
    CHECK(rerun2.code == 3);
    CHECK(contains(rerun2.err, "'-password <redacted>'"));
    CHECK(repo.ok({"ls", "--json"}).json().size() == 2);

    std::string stored = everything_stored(repo);
    for (const char* secret : {"sk-abc123", "tok-xyz789", "pw-456", "dbpw-321", "hunter2"}) {
        INFO(secret);
        CHECK_FALSE(contains(stored, secret));
    }
}

TEST_CASE("a capture pattern that backtracks exponentially neither hangs cairn nor stops SIGTERM", "[e2e][record]") {
    Repo repo;
    repo.write(".cairn/config.yaml", "version: 1\nrun:\n  capture: ['(a+)+b=([0-9]+)']\n");
    repo.commit("config");
    // 30,000 a's and no b: exponential for a backtracking engine, linear for RE2.
    std::string line = "line=$(head -c 30000 /dev/zero | tr '\\0' a);";
    repo.ok({"run", "-n", "hostile", "--", "sh", "-c", line + " echo \"$line\"; echo \"$line!\"; echo aab=5"});
    auto j = repo.ok({"show", "hostile", "--json"}).json();
    CHECK(j["status"] == "finished");
    CHECK(j["metrics"].size() == 1);
    CHECK(j["metrics"]["aa"]["last"] == 5);

    // A command that prints such lines without end: cairn keeps up and still ends on SIGTERM.
    auto child = repo.spawn({"run", "-n", "busy", "--", "sh", "-c",
                             line + " echo x > \"$CAIRN_RUN_DIR/ready\"; while :; do echo \"$line\"; done"});
    REQUIRE(!wait_for_ready(repo).empty());
    child->signal(SIGTERM);
    CHECK(child->wait() == 128 + SIGTERM);
    CHECK(repo.ok({"show", "busy", "--json"}).json()["status"] == "interrupted");
}

TEST_CASE("unknown options and stray words of cairn run are usage errors that run nothing", "[e2e][record]") {
    Repo repo;
    repo.write("params.yaml", "train:\n  lr: 0.1\n");
    repo.commit("params");
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    std::vector<Case> cases = {
        {{"run", "--parm", "train.lr=0.9", "--", "touch", "ran"}, "unknown option '--parm' (did you mean '--param'?)"},
        {{"run", "--outt", "model.pkl", "--", "touch", "ran"}, "unknown option '--outt' (did you mean '--out'?)"},
        {{"run", "--bogus", "touch", "ran"}, "unknown option '--bogus'"},
        {{"run", "touch", "ran", "--", "echo", "b"}, "unexpected argument 'touch' before '--'"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.message) {
            Result r = repo.cairn(c.args);
            CHECK(r.code == 2);
            CHECK(contains(r.err, c.message));
            CHECK_FALSE(repo.exists("ran"));
            CHECK(repo.ok({"ls", "--json"}).json().empty());
        }
    }
    SECTION("without -- the command starts at the first word, as before") {
        repo.ok({"run", "-n", "plain", "sh", "-c", "touch ran", "sh", "--lr"});
        CHECK(repo.exists("ran"));
        CHECK(repo.ok({"show", "plain", "--json"}).json()["command"] ==
              nlohmann::json({"sh", "-c", "touch ran", "sh", "--lr"}));
    }
    SECTION("commands and other commands' options") {
        Result r = repo.cairn({"stauts"});
        CHECK(r.code == 2);
        CHECK(contains(r.err, "unknown command 'stauts' (did you mean 'status'?)"));
        Result ls = repo.cairn({"ls", "--filtr", "status=finished"});
        CHECK(ls.code == 2);
        CHECK(contains(ls.err, "unknown option '--filtr' (did you mean '--filter'?)"));
        Result diff = repo.cairn({"diff", "last"});
        CHECK(diff.code == 2);
        CHECK(contains(diff.err, "cairn diff: missing <run_b> (usage: cairn diff <run_a> <run_b> [options])"));
        Result rtol = repo.cairn({"rerun", "last", "--rtol", "-1"});
        CHECK(rtol.code == 2);
        CHECK(contains(rtol.err, "--rtol: must be >= 0"));
        CHECK(rtol.err.size() < 100); // no range up to the largest double
    }
}

TEST_CASE("metrics printed on stdout survive cairn being killed", "[e2e][record]") {
    Repo repo;
    auto child = repo.spawn({"run", "-n", "doomed", "--", "sh", "-c",
                             "echo 'loss: 0.3'; echo 'acc: 0.9 (step 2)'; exec sleep 30"});
    // Captured points reach the staging metrics file as they arrive.
    stdfs::path runs = repo.path(".cairn/runs");
    stdfs::path metrics;
    for (int i = 0; i < 1000 && metrics.empty(); ++i) {
        for (const auto& e : stdfs::directory_iterator(runs))
            if (e.path().filename().string()[0] != '.') metrics = e.path() / "metrics.tsv";
        if (metrics.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(wait_for_text(metrics, "acc"));
    child->signal(SIGKILL);
    child->wait();
    ::kill(-child->pid(), SIGKILL); // the orphaned sleep, in cairn's process group

    auto j = repo.ok({"show", "doomed", "--json"}).json();
    CHECK(j["status"] == "crashed");
    CHECK(j["metrics"]["loss"]["last"] == 0.3);
    CHECK(j["metrics"]["acc"]["last"] == 0.9);
    CHECK(j["metrics"]["acc"]["step"] == 2);
}

TEST_CASE("indented lines such as a printed config are not captured as metrics", "[e2e][record]") {
    Repo repo;
    repo.ok({"run", "-n", "cfg", "--", "sh", "-c", "printf 'config:\\n  lr: 0.3\\n  epochs: 5\\nloss: 0.5\\n'"});
    auto metrics = repo.ok({"show", "cfg", "--json"}).json()["metrics"];
    CHECK(metrics.size() == 1);
    CHECK(metrics["loss"]["last"] == 0.5);
}

TEST_CASE("a declared output or metrics file that was not written makes the run failed", "[e2e][record]") {
    Repo repo;
    Result r = repo.cairn({"run", "-n", "lazy", "-o", "model.pkl", "-m", "m.json", "--", "true"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, "failed: declared output model.pkl was not written; declared metrics file m.json was not written"));
    CHECK(contains(r.err, "run ") );
    CHECK_FALSE(contains(r.err, "finished"));
    auto j = repo.ok({"show", "lazy", "--json"}).json();
    CHECK(j["status"] == "failed");
    CHECK(j["exit_code"] == 0); // the command's own
    CHECK(j["reason"] == "declared output model.pkl was not written; declared metrics file m.json was not written");
    std::string run_yaml = git_out(repo, {"show", "refs/cairn/runs/" + j["id"].get<std::string>() + ":run.yaml"});
    CHECK(contains(run_yaml, "status: failed\nreason: declared output model.pkl was not written"));
    CHECK(contains(repo.ok({"show", "lazy"}).out, "failed (exit 0): declared output model.pkl was not written"));
    CHECK(repo.ok({"ls", "--filter", "status = \"failed\"", "--json"}).json().size() == 1);
    CHECK(repo.ok({"ls", "--json"}).json()[0]["reason"] == j["reason"]); // from the run index too

    // A command that failed on its own keeps its exit code and needs no reason.
    Result failing = repo.cairn({"run", "-n", "broken", "-o", "model.pkl", "--", "false"});
    CHECK(failing.code == 1);
    auto b = repo.ok({"show", "broken", "--json"}).json();
    CHECK(b["status"] == "failed");
    CHECK(b["reason"].is_null());
}

TEST_CASE("untracked -d inputs stay out of the code snapshot", "[e2e][record]") {
    Repo repo;
    repo.write("train.sh", "cat data/in.csv > out.txt\n");
    repo.commit("code");
    repo.write("data/in.csv", "a,b\n1,2\n");
    repo.write("notes.txt", "untracked code-side file\n");
    repo.ok({"run", "-n", "with-data", "-d", "data", "-o", "out.txt", "--", "sh", "train.sh"});
    auto j = repo.ok({"show", "with-data", "--json"}).json();
    CHECK(j["inputs"].contains("data"));
    std::string snapshot = j["git"]["snapshot"];
    std::string files = git_out(repo, {"ls-tree", "-r", "--name-only", snapshot});
    CHECK(contains(files, "notes.txt"));
    CHECK_FALSE(contains(files, "data/in.csv"));
    // The input is restored from the cache by a re-run.
    auto rerun = repo.ok({"rerun", "with-data", "--json"}).json();
    CHECK(rerun["verdict"] == "reproduced");
}
