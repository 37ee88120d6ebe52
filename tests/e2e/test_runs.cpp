// cairn run, log, ls, show: the first slice of run tracking.
#include <csignal>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Waits until the command of a run in progress has written $CAIRN_RUN_DIR/ready.
bool wait_for_ready(const Repo& repo) {
    for (int i = 0; i < 1000; ++i) {
        for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs")))
            if (stdfs::exists(e.path() / "ready")) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

std::string trim(const std::string& s) { return std::string(cairn::util::trim(s)); }

} // namespace

TEST_CASE("run records a commit on its own ref with params, metrics, data and log", "[e2e][run]") {
    Repo repo;
    repo.write("in.txt", "input bytes");
    repo.commit("base");
    std::string head = trim(git_out(repo, {"rev-parse", "HEAD"}));
    Result r = repo.cairn({"run", "-n", "base-run", "-e", "exp1", "-p", "lr=0.1", "-p", "epochs=3", "-p", "deep=true",
                           "-p", "model=resnet", "-t", "team=a", "-d", "in.txt", "-o", "out.txt", "--", "sh", "-c",
                           "echo to-stdout; echo to-stderr >&2; cp in.txt out.txt; "
                           "echo \"loss 0.5 1\" >> \"$CAIRN_METRICS_FILE\"; "
                           "cairn_exe=$CAIRN_EXE; echo \"loss nan 2\" >> \"$CAIRN_METRICS_FILE\"; "
                           "echo lr=$CAIRN_PARAM_LR; exit 3"});
    CHECK(r.code == 3); // the command's exit code
    CHECK(contains(r.out, "to-stdout\n"));
    CHECK(contains(r.err, "to-stderr\n"));
    CHECK(contains(r.out, "lr=0.1\n"));

    std::string refs = git_out(repo, {"for-each-ref", "--format=%(refname)", "refs/cairn/runs/"});
    REQUIRE(std::count(refs.begin(), refs.end(), '\n') == 1);
    std::string ref = trim(refs);
    std::string id = ref.substr(std::string("refs/cairn/runs/").size());
    CHECK(id.size() == 32);
    // Clean work tree: the run's parent is HEAD itself; message names the run and command.
    CHECK(trim(git_out(repo, {"rev-parse", ref + "^"})) == head);
    CHECK(contains(git_out(repo, {"log", "-1", "--format=%s", ref}), "run " + id.substr(0, 8) + ": sh -c"));
    std::string files = git_out(repo, {"ls-tree", "--name-only", ref});
    for (const char* f : {"run.yaml", "params.yaml", "metrics.tsv", "inputs.yaml", "outputs.yaml", "log.txt"})
        CHECK(contains(files, f));
    CHECK(contains(git_out(repo, {"show", ref + ":log.txt"}), "to-stdout"));
    CHECK(contains(git_out(repo, {"show", ref + ":metrics.tsv"}), "loss\t2\tnan\t"));
    // The staging directory is gone once recorded.
    CHECK(stdfs::is_empty(repo.path(".cairn/runs")));

    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["id"] == id);
    CHECK(j["name"] == "base-run");
    CHECK(j["experiment"] == "exp1");
    CHECK(j["status"] == "failed");
    CHECK(j["exit_code"] == 3);
    CHECK(j["params"]["lr"] == 0.1);
    CHECK(j["params"]["epochs"] == 3);
    CHECK(j["params"]["deep"] == true);
    CHECK(j["params"]["model"] == "resnet");
    CHECK(j["tags"]["team"] == "a");
    CHECK(j["metrics"]["loss"]["count"] == 2);
    CHECK(j["metrics"]["loss"]["last"] == "nan");
    CHECK(j["metrics"]["loss"]["min"] == 0.5);
    CHECK(j["git"]["commit"] == head);
    CHECK(j["git"]["dirty"] == false);
    CHECK(j["git"]["branch"] == "main");
    CHECK(j["inputs"]["in.txt"] == sha256_id_of_file(repo.path("in.txt")));
    CHECK(j["outputs"]["out.txt"] == sha256_id_of_file(repo.path("out.txt")));
    CHECK(contains(j["executable"]["path"].get<std::string>(), "/sh"));
    // gc keeps what runs reference.
    repo.ok({"gc"});
    CHECK(repo.exists(Repo::object_rel(j["outputs"]["out.txt"].get<std::string>())));
}

TEST_CASE("run on a dirty tree snapshots it without touching the index or work tree", "[e2e][run]") {
    Repo repo;
    repo.write("train.py", "v1\n");
    repo.commit("base");
    std::string head = trim(git_out(repo, {"rev-parse", "HEAD"}));
    repo.write("train.py", "v2 uncommitted\n");
    repo.write("notes.txt", "untracked\n");
    repo.write("staged.txt", "staged\n");
    repo.git({"add", "staged.txt"});
    std::string status_before = git_out(repo, {"status", "--porcelain"});
    std::string index_before = repo.read(".git/index");

    repo.ok({"run", "--", "true"});
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["git"]["dirty"] == true);
    std::string snapshot = j["git"]["snapshot"];
    CHECK(snapshot != head);
    CHECK(trim(git_out(repo, {"rev-parse", snapshot + "^"})) == head);
    CHECK(git_out(repo, {"show", snapshot + ":train.py"}) == "v2 uncommitted\n");
    CHECK(git_out(repo, {"show", snapshot + ":notes.txt"}) == "untracked\n");
    CHECK(git_out(repo, {"show", snapshot + ":staged.txt"}) == "staged\n");
    // Internal store files are not part of the snapshot.
    CHECK(repo.git({"show", snapshot + ":.cairn/state/stat"}).code != 0);
    std::string run_ref = "refs/cairn/runs/" + j["id"].get<std::string>();
    CHECK(trim(git_out(repo, {"rev-parse", run_ref + "^"})) == snapshot);
    CHECK(git_out(repo, {"status", "--porcelain"}) == status_before);
    CHECK(repo.read(".git/index") == index_before);
    CHECK(trim(git_out(repo, {"rev-parse", "HEAD"})) == head);
}

TEST_CASE("cairn log metric from inside a run, with and without steps, and from stdin", "[e2e][run]") {
    Repo repo;
    repo.ok({"run", "--", "sh", "-c",
             std::string(CAIRN_EXE) + " log metric acc 0.5 && " +
                 CAIRN_EXE + " log metric acc 0.7 && " + CAIRN_EXE + " log metric acc 0.9 --step 10 && printf 'f1 0.1\\nf1 0.2 7\\n' | " +
                 CAIRN_EXE + " log metric -"});
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["metrics"]["acc"]["count"] == 3);
    CHECK(j["metrics"]["acc"]["last"] == 0.9);
    CHECK(j["metrics"]["acc"]["step"] == 10);
    CHECK(j["metrics"]["f1"]["count"] == 2);
    CHECK(j["metrics"]["f1"]["step"] == 7);
    std::string tsv = git_out(repo, {"show", "refs/cairn/runs/" + j["id"].get<std::string>() + ":metrics.tsv"});
    CHECK(contains(tsv, "acc\t0\t0.5\t"));
    CHECK(contains(tsv, "acc\t1\t0.7\t"));
    CHECK(contains(tsv, "f1\t0\t0.1\t"));

    Result outside = repo.cairn({"log", "metric", "acc", "1"});
    CHECK(outside.code == 2);
    CHECK(contains(outside.err, "inside 'cairn run'"));
    Result bad = repo.cairn({"run", "--", "sh", "-c", std::string(CAIRN_EXE) + " log metric acc notanumber"});
    CHECK(bad.code == 3);
}

TEST_CASE("naming runs: prefix, name, last~N, unknown and ambiguous names", "[e2e][run]") {
    Repo repo;
    for (const char* name : {"alpha", "beta", "gamma"}) repo.ok({"run", "-n", name, "--", "true"});
    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == 3);
    CHECK(all[0]["name"] == "gamma"); // newest first
    CHECK(repo.ok({"show", "last", "--json"}).json()["name"] == "gamma");
    CHECK(repo.ok({"show", "last~2", "--json"}).json()["name"] == "alpha");
    CHECK(repo.ok({"show", "beta", "--json"}).json()["name"] == "beta");
    std::string id = all[1]["id"];
    CHECK(repo.ok({"show", id.substr(0, 6), "--json"}).json()["id"] == id);
    Result unknown = repo.cairn({"show", "nope"});
    CHECK(unknown.code == 3);
    CHECK(contains(unknown.err, "no run named 'nope'"));
    Result past = repo.cairn({"show", "last~7"});
    CHECK(past.code == 3);
    // A reused name means its latest run (test_names_undo.cpp has the rest).
    repo.ok({"run", "-n", "alpha", "--", "true"});
    Result reused = repo.cairn({"show", "alpha", "--json"});
    CHECK(reused.code == 0);
    CHECK(reused.json()["id"] == repo.ok({"show", "last", "--json"}).json()["id"]);
}

TEST_CASE("ls skips a malformed ref under refs/cairn/runs with a warning", "[e2e][run]") {
    Repo repo;
    repo.ok({"run", "-n", "good", "--", "true"});
    repo.write("junk.txt", "not a run");
    repo.git({"add", "junk.txt"});
    repo.git({"commit", "-q", "-m", "junk"});
    repo.git({"update-ref", "refs/cairn/runs/0123456789abcdef0123456789abcdef", "HEAD"});
    repo.git({"update-ref", "refs/cairn/runs/not-an-id", "HEAD"});
    Result r = repo.cairn({"ls", "--json"});
    CHECK(r.code == 0);
    CHECK(r.json().size() == 1);
    CHECK(contains(r.err, "cairn: warning: skipping"));
}

TEST_CASE("environment: allow-listed values kept, others by name only, secrets never stored", "[e2e][run]") {
    Repo repo;
    auto env = repo.env();
    env["MY_API_TOKEN"] = "s3cr3t-value-123";
    Result r = run_process({CAIRN_EXE, "run", "--", "true"}, repo.root(), env);
    REQUIRE(r.code == 0);
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["env"].contains("PATH"));
    std::string ref = "refs/cairn/runs/" + j["id"].get<std::string>();
    std::string run_yaml = git_out(repo, {"show", ref + ":run.yaml"});
    CHECK(contains(run_yaml, "MY_API_TOKEN"));
    CHECK_FALSE(contains(run_yaml, "s3cr3t-value-123"));
    CHECK(repo.git({"grep", "s3cr3t-value-123", ref}).code != 0);
}

TEST_CASE("SIGTERM to cairn run is forwarded and the run is recorded as interrupted", "[e2e][run]") {
    Repo repo;
    auto child = repo.spawn({"run", "-n", "long", "--", "sleep", "30"});
    // Wait until the run is staged (its command is about to start or running).
    for (int i = 0; i < 500 && stdfs::is_empty(repo.path(".cairn/runs")); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    child->signal(SIGTERM);
    int code = child->wait();
    CHECK(code == 128 + SIGTERM);
    auto j = repo.ok({"show", "long", "--json"}).json();
    CHECK(j["status"] == "interrupted");
    CHECK(j["exit_code"] == 128 + SIGTERM);
}

TEST_CASE("a run whose cairn is killed with SIGKILL is recorded as crashed by the next reader", "[e2e][run][crash]") {
    Repo repo;
    auto child = repo.spawn({"run", "-n", "doomed", "--", "sh", "-c",
                             "echo \"loss 0.25 1\" >> \"$CAIRN_METRICS_FILE\"; echo partial-output; "
                             "echo ready > \"$CAIRN_RUN_DIR/ready\"; exec sleep 30"});
    stdfs::path runs = repo.path(".cairn/runs");
    REQUIRE(wait_for_ready(repo));
    child->signal(SIGKILL);
    child->wait();
    ::kill(-child->pid(), SIGKILL); // the orphaned sleep, in cairn's process group

    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == 1);
    CHECK(all[0]["name"] == "doomed");
    CHECK(all[0]["status"] == "crashed");
    CHECK(all[0]["metrics"]["loss"]["last"] == 0.25);
    CHECK(contains(repo.ok({"show", "doomed"}).out, "partial-output"));
    CHECK(stdfs::is_empty(runs));
    // Recovered once: a second reader sees the same single run.
    CHECK(repo.ok({"ls", "--json"}).json().size() == 1);
    CHECK(repo.git({"fsck", "--no-progress"}).code == 0);
}

TEST_CASE("a running run is not mistaken for a crashed one", "[e2e][run]") {
    Repo repo;
    auto child = repo.spawn({"run", "-n", "alive", "--", "sh", "-c", "echo x > \"$CAIRN_RUN_DIR/ready\"; sleep 5"});
    stdfs::path runs = repo.path(".cairn/runs");
    REQUIRE(wait_for_ready(repo));
    auto live = repo.ok({"ls", "--json"}).json(); // still running: listed as such, not recovered
    REQUIRE(live.size() == 1);
    CHECK(live[0]["status"] == "running");
    CHECK(child->wait() == 0);
    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == 1);
    CHECK(all[0]["status"] == "finished");
}

TEST_CASE("sixteen runs started at once are all recorded with every metric point", "[e2e][run][concurrency]") {
    Repo repo;
    repo.write("code.py", "print('hi')\n");
    repo.write("dirty.txt", "untracked, so every run snapshots the work tree\n");
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 16; ++i)
        children.push_back(repo.spawn({"run", "-n", "r" + std::to_string(i), "-p", "i=" + std::to_string(i), "--", "sh",
                                       "-c", "for s in $(seq 1 50); do echo \"m $s $s\" >> \"$CAIRN_METRICS_FILE\"; done"}));
    for (auto& c : children) CHECK(c->wait() == 0);
    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == 16);
    std::set<std::string> names;
    for (const auto& r : all) {
        names.insert(r["name"].get<std::string>());
        CHECK(r["status"] == "finished");
        CHECK(r["metrics"]["m"]["count"] == 50);
        CHECK(r["metrics"]["m"]["last"] == 50);
    }
    CHECK(names.size() == 16);
    CHECK(repo.git({"fsck", "--no-progress", "--strict"}).code == 0);
}

TEST_CASE("placeholders fill the command, stdout scalars are metrics unless --no-capture", "[e2e][run]") {
    Repo repo;
    Result r = repo.ok({"run", "-p", "lr=0.05", "-p", "name=net", "--", "sh", "-c",
                        "echo \"lr={lr} name={name}\"; echo 'loss: 0.5'; echo 'step: 2'; echo 'loss: 0.25'"});
    CHECK(contains(r.out, "lr=0.05 name=net"));
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["command"][2] == "echo \"lr=0.05 name=net\"; echo 'loss: 0.5'; echo 'step: 2'; echo 'loss: 0.25'");
    CHECK(j["metrics"]["loss"]["count"] == 2);
    CHECK(j["metrics"]["loss"]["last"] == 0.25);
    CHECK(j["metrics"]["loss"]["step"] == 2);
    repo.ok({"run", "--no-capture", "--", "sh", "-c", "echo 'loss: 0.5'"});
    CHECK(repo.ok({"show", "last", "--json"}).json()["metrics"].empty());
}

TEST_CASE("params.yaml is flattened, -p overrides it for the run and it is restored", "[e2e][run][params]") {
    Repo repo;
    const std::string original = "# training settings\ntrain:\n  lr: 0.1   # learning rate\n  epochs: 3\nmodel: \"resnet\"\n";
    repo.write("params.yaml", original);
    repo.ok({"run", "-p", "train.lr=0.5", "-p", "extra=1", "--", "sh", "-c", "cat params.yaml > seen.yaml"});
    CHECK(repo.read("params.yaml") == original); // byte for byte
    CHECK(contains(repo.read("seen.yaml"), "lr: 0.5"));
    CHECK(contains(repo.read("seen.yaml"), "epochs: 3"));
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["params"]["train.lr"] == 0.5);
    CHECK(j["params"]["train.epochs"] == 3);
    CHECK(j["params"]["model"] == "resnet");
    CHECK(j["params"]["extra"] == 1);
    // The code snapshot holds the user's file, not the override.
    CHECK(repo.git({"show", j["git"]["snapshot"].get<std::string>() + ":params.yaml"}).out == original);
    // A run without -p records the file's own values.
    repo.ok({"run", "--", "true"});
    CHECK(repo.ok({"show", "last", "--json"}).json()["params"]["train.lr"] == 0.1);

    repo.write("other.yaml", "batch: 32\n");
    repo.ok({"run", "--params", "other.yaml", "--", "true"});
    auto k = repo.ok({"show", "last", "--json"}).json();
    CHECK(k["params"]["batch"] == 32);
    CHECK_FALSE(k["params"].contains("train.lr"));

    repo.write("bad.yaml", "a: [1,\n");
    Result bad = repo.cairn({"run", "--params", "bad.yaml", "--", "true"});
    CHECK(bad.code == 3);
    CHECK(contains(bad.err, "bad.yaml:"));
}

TEST_CASE("an overridden params file is restored after SIGTERM and after cairn is killed", "[e2e][run][params]") {
    Repo repo;
    const std::string original = "lr: 0.1\n";
    repo.write("params.yaml", original);
    {
        auto child = repo.spawn({"run", "-p", "lr=9", "--", "sh", "-c", "echo x > \"$CAIRN_RUN_DIR/ready\"; exec sleep 30"});
        REQUIRE(wait_for_ready(repo));
        CHECK(contains(repo.read("params.yaml"), "9"));
        child->signal(SIGTERM);
        child->wait();
        CHECK(repo.read("params.yaml") == original);
    }
    {
        auto child = repo.spawn({"run", "-p", "lr=7", "--", "sh", "-c", "echo x > \"$CAIRN_RUN_DIR/ready\"; exec sleep 30"});
        REQUIRE(wait_for_ready(repo));
        child->signal(SIGKILL);
        child->wait();
        ::kill(-child->pid(), SIGKILL);
        CHECK(contains(repo.read("params.yaml"), "7")); // left overridden by the dead cairn...
        auto all = repo.ok({"ls", "--json"}).json();     // ...until the next reader recovers it
        CHECK(repo.read("params.yaml") == original);
        CHECK(all[0]["status"] == "crashed");
        CHECK(all[0]["params"]["lr"] == 7);
    }
}

TEST_CASE("two runs overriding the same params file take turns", "[e2e][run][params]") {
    Repo repo;
    repo.write("params.yaml", "lr: 0.1\n");
    auto a = repo.spawn({"run", "-p", "lr=1", "--", "sh", "-c", "cat params.yaml > a.txt; sleep 0.5; cat params.yaml >> a.txt"});
    auto b = repo.spawn({"run", "-p", "lr=2", "--", "sh", "-c", "cat params.yaml > b.txt; sleep 0.5; cat params.yaml >> b.txt"});
    CHECK(a->wait() == 0);
    CHECK(b->wait() == 0);
    CHECK(repo.read("a.txt") == "lr: 1\nlr: 1\n");
    CHECK(repo.read("b.txt") == "lr: 2\nlr: 2\n");
    CHECK(repo.read("params.yaml") == "lr: 0.1\n");
}

TEST_CASE("tag, metrics and rm on recorded runs", "[e2e][run]") {
    Repo repo;
    repo.ok({"run", "-n", "one", "-t", "stage=dev", "--", "sh", "-c", "echo 'loss: 3'; echo 'loss: 2'; echo 'loss: 1'"});
    repo.ok({"run", "-n", "two", "--", "true"});
    auto before = repo.ok({"show", "one", "--json"}).json();

    auto tagged = repo.ok({"tag", "one", "reviewed=yes", "stage=prod", "--json"}).json();
    CHECK(tagged["tags"]["reviewed"] == "yes");
    CHECK(tagged["tags"]["stage"] == "prod");
    auto after = repo.ok({"show", "one", "--json"}).json();
    CHECK(after["tags"]["stage"] == "prod");
    CHECK(after["metrics"] == before["metrics"]); // everything else unchanged
    CHECK(after["git"] == before["git"]);
    repo.ok({"tag", "one", "--remove", "reviewed"});
    CHECK_FALSE(repo.ok({"show", "one", "--json"}).json()["tags"].contains("reviewed"));
    CHECK(repo.cairn({"tag", "one", "--remove", "nope"}).code == 3);

    auto series = repo.ok({"metrics", "one", "loss", "--json"}).json();
    REQUIRE(series["points"].size() == 3);
    CHECK(series["points"][0]["value"] == 3);
    CHECK(series["points"][2]["step"] == 2);
    Result csv = repo.ok({"metrics", "one", "loss", "--csv"});
    CHECK(csv.out.rfind("step,value,time\n0,3,", 0) == 0);
    Result missing = repo.cairn({"metrics", "one", "acc"});
    CHECK(missing.code == 3);
    CHECK(contains(missing.err, "it has: loss"));

    // rm resolves every name before deleting anything.
    CHECK(repo.cairn({"rm", "two", "nope"}).code == 3);
    CHECK(repo.ok({"ls", "--json"}).json().size() == 2);
    repo.ok({"rm", "two"});
    auto left = repo.ok({"ls", "--json"}).json();
    REQUIRE(left.size() == 1);
    CHECK(left[0]["name"] == "one");
    CHECK(repo.git({"fsck", "--no-progress"}).code == 0);
}

TEST_CASE("ls --filter and --sort select and order runs, a bad filter is a usage error", "[e2e][run]") {
    Repo repo;
    for (const char* spec : {"a:0.3:resnet", "b:0.9:vgg", "c:0.6:resnet"}) {
        std::string s = spec;
        std::string name = s.substr(0, 1), acc = s.substr(2, 3), model = s.substr(6);
        repo.ok({"run", "-n", name, "-p", "model=" + model, "--", "sh", "-c", "echo 'acc: " + acc + "'"});
    }
    auto top = repo.ok({"ls", "--filter", "metrics.acc > 0.5", "--sort", "-metrics.acc", "--json"}).json();
    REQUIRE(top.size() == 2);
    CHECK(top[0]["name"] == "b");
    CHECK(top[1]["name"] == "c");
    auto resnet = repo.ok({"ls", "--filter", "params.model = 'resnet' and metrics.acc < 0.5", "--json"}).json();
    REQUIRE(resnet.size() == 1);
    CHECK(resnet[0]["name"] == "a");
    CHECK(repo.ok({"ls", "--sort", "metrics.acc", "-n", "1", "--json"}).json()[0]["name"] == "a");
    Result table = repo.ok({"ls", "--sort", "name"});
    CHECK(contains(table.out, "model"));
    CHECK(contains(table.out, "acc"));
    Result bad = repo.cairn({"ls", "--filter", "metrics.acc >> 1"});
    CHECK(bad.code == 2);
    CHECK(contains(bad.err, "column"));
}

TEST_CASE("diff of two runs: params, metrics, data, environment and code", "[e2e][run]") {
    Repo repo;
    repo.write("train.py", "v1\n");
    repo.write("data.txt", "same data\n");
    repo.commit("v1");
    repo.ok({"run", "-n", "old", "-p", "lr=0.1", "-p", "gone=1", "-d", "data.txt", "-o", "out.txt", "--", "sh", "-c",
             "echo one > out.txt; echo 'acc: 0.5'"});
    repo.write("train.py", "v2\n");
    auto env = repo.env();
    env["OMP_NUM_THREADS"] = "4";
    Result r = run_process({CAIRN_EXE, "run", "-n", "new", "-p", "lr=0.2", "-p", "fresh=x", "-d", "data.txt", "-o",
                            "out.txt", "--", "sh", "-c", "echo two > out.txt; echo 'acc: 0.75'"},
                           repo.root(), env);
    REQUIRE(r.code == 0);
    auto d = repo.ok({"diff", "old", "new", "--json", "--patch"}).json();
    std::map<std::string, std::string> params;
    for (const auto& p : d["params"]) params[p["key"]] = p["change"];
    CHECK(params == std::map<std::string, std::string>{{"fresh", "added"}, {"gone", "removed"}, {"lr", "changed"}});
    REQUIRE(d["metrics"].size() == 1);
    CHECK(d["metrics"][0]["old"] == 0.5);
    CHECK(d["metrics"][0]["new"] == 0.75);
    CHECK(d["metrics"][0]["delta"] == 0.25);
    CHECK(d["inputs"][0]["change"] == "same");
    CHECK(d["outputs"][0]["change"] == "changed");
    bool saw_env = false;
    for (const auto& e : d["environment"])
        if (e["key"] == "env.OMP_NUM_THREADS") saw_env = e["new"] == "4" && e["old"].is_null();
    CHECK(saw_env);
    // The second run's snapshot has the edited script; the first run's output, untracked but a
    // declared output of this run too, is data, not code.
    std::map<std::string, std::string> code;
    for (const auto& f : d["code"]) code[f["path"]] = f["status"];
    CHECK(code == std::map<std::string, std::string>{{"train.py", "M"}});
    CHECK(contains(d["patch"].get<std::string>(), "+v2"));
    Result human = repo.ok({"diff", "old", "new"});
    CHECK(contains(human.out, "lr"));
    CHECK(contains(human.out, "+0.25"));
    CHECK(contains(human.out, "M train.py"));
}

TEST_CASE("cairn log param, tag and artifact from inside a run", "[e2e][run]") {
    Repo repo;
    std::string c = CAIRN_EXE;
    Result r = repo.cairn({"run", "-p", "lr=0.1", "--", "sh", "-c",
                           c + " log param seed 42 && " + c + " log param seed 42 && " + c + " log tag stage dev && " +
                               c + " log tag stage test && echo weights > model.bin && " + c +
                               " log artifact model.bin && " + c + " log param seed 43; echo \"second=$?\"; " + c +
                               " log param lr 0.5; echo \"third=$?\""});
    CHECK(r.code == 0);
    CHECK(contains(r.out, "second=3"));
    CHECK(contains(r.out, "third=3"));
    CHECK(contains(r.err, "params cannot change once logged"));
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["params"]["seed"] == 42);
    CHECK(j["params"]["lr"] == 0.1);
    CHECK(j["tags"]["stage"] == "test");
    CHECK(j["outputs"]["model.bin"] == sha256_id_of_file(repo.path("model.bin")));
    CHECK(repo.cairn({"log", "tag", "a", "b"}).code == 2); // outside a run
}

TEST_CASE("metrics files named with -m are read when the command ends", "[e2e][run]") {
    Repo repo;
    repo.ok({"run", "-m", "metrics.json", "-m", "history.csv", "--", "sh", "-c",
             "echo '{\"eval\": {\"acc\": 0.875}}' > metrics.json; printf 'step,loss\\n1,0.5\\n2,0.25\\n' > history.csv"});
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["metrics"]["eval.acc"]["last"] == 0.875);
    CHECK(j["metrics"]["loss"]["count"] == 2);
    CHECK(j["metrics"]["loss"]["step"] == 2);
    Result missing = repo.cairn({"run", "-m", "nope.json", "--", "true"});
    CHECK(missing.code == 3);
    CHECK(contains(missing.err, "nope.json"));
    CHECK(repo.ok({"ls", "--json"}).json().size() == 2); // recorded all the same
}

TEST_CASE("the environment allow-list comes from config.yaml and never records secrets", "[e2e][run]") {
    Repo repo;
    repo.write(".cairn/config.yaml", "version: 1\nrun:\n  env: [MY_SETTING, AWS_SECRET_ACCESS_KEY]\n");
    auto env = repo.env();
    env["MY_SETTING"] = "fast";
    env["AWS_SECRET_ACCESS_KEY"] = "hunter2-secret";
    REQUIRE(run_process({CAIRN_EXE, "run", "--", "true"}, repo.root(), env).code == 0);
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["env"]["MY_SETTING"] == "fast");
    CHECK(j["env"]["AWS_SECRET_ACCESS_KEY"] == "<redacted>");
    CHECK_FALSE(j["env"].contains("PATH")); // not in this allow-list: name only
    std::string ref = "refs/cairn/runs/" + j["id"].get<std::string>();
    CHECK(repo.git({"grep", "hunter2-secret", ref}).code != 0);
    repo.write(".cairn/config.yaml", "version: 1\nrun:\n  env: PATH\n");
    Result bad = repo.cairn({"run", "--", "true"});
    CHECK(bad.code == 3);
    CHECK(contains(bad.err, ".cairn/config.yaml:3: 'run.env' must be a list"));
}

TEST_CASE("the run index is derived: same listing without it, follows ref changes, survives corruption", "[e2e][run][index]") {
    Repo repo;
    for (int i = 0; i < 3; ++i)
        repo.ok({"run", "-n", "r" + std::to_string(i), "-p", "i=" + std::to_string(i), "--", "sh", "-c",
                 "echo 'acc: 0." + std::to_string(i + 1) + "'"});
    std::string with_fresh_index = repo.ok({"ls", "--json"}).out;
    REQUIRE(repo.exists(".cairn/index/runs"));
    CHECK(repo.ok({"ls", "--json"}).out == with_fresh_index); // served from the index
    stdfs::remove(repo.path(".cairn/index/runs"));
    CHECK(repo.ok({"ls", "--json"}).out == with_fresh_index); // rebuilt from the refs alone

    repo.ok({"tag", "r1", "best=yes"}); // moves r1's ref to a new commit
    auto tagged = repo.ok({"ls", "--filter", "tags.best = 'yes'", "--json"}).json();
    REQUIRE(tagged.size() == 1);
    CHECK(tagged[0]["name"] == "r1");

    // A ref moved by plain git (another machine's push, say) is noticed too.
    std::string r2 = repo.ok({"show", "r2", "--json"}).json()["id"];
    repo.git({"update-ref", "-d", "refs/cairn/runs/" + r2});
    CHECK(repo.ok({"ls", "--json"}).json().size() == 2);

    repo.write(".cairn/index/runs", "cairn-run-index 3\nR\tgarbage\n");
    auto after = repo.ok({"ls", "--json"}).json();
    CHECK(after.size() == 2);
    CHECK(after[0]["metrics"]["acc"]["last"].is_number());
}

TEST_CASE("ls: runs named on the command line, --columns and --csv", "[e2e][run]") {
    Repo repo;
    repo.ok({"run", "-n", "x", "-p", "lr=0.1", "-p", "same=1", "--", "sh", "-c", "echo 'acc: 0.5'; echo 'acc: 0.25'"});
    repo.ok({"run", "-n", "y", "-p", "lr=0.2", "-p", "same=1", "--", "sh", "-c", "echo 'acc: 0.75'"});
    repo.ok({"run", "-n", "z", "--", "true"});
    Result table = repo.ok({"ls", "x", "y"});
    CHECK(contains(table.out, "lr"));
    CHECK_FALSE(contains(table.out, "same")); // equal in every listed run: no column
    CHECK_FALSE(contains(table.out, " z "));
    Result csv = repo.ok({"ls", "x", "y", "--columns", "params.lr, max(metrics.acc), tags.none", "--csv"});
    auto lines = cairn::util::split(trim(csv.out), '\n');
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "id,name,status,start,duration,lr,max(metrics.acc),none");
    CHECK(contains(lines[1], ",y,finished,"));
    CHECK(lines[1].substr(lines[1].size() - 10) == ",0.2,0.75,");
    CHECK(lines[2].substr(lines[2].size() - 9) == ",0.1,0.5,");
    CHECK(repo.cairn({"ls", "--columns", "bogus"}).code == 2);
    CHECK(repo.cairn({"ls", "nope"}).code == 3);
}

TEST_CASE("untracked files over 10 MiB go to the cache instead of the code snapshot, with a warning", "[e2e][run]") {
    Repo repo;
    repo.write("small.txt", "code\n");
    repo.write("big.bin", std::string((10u << 20) + 1, 'x'));
    Result r = repo.cairn({"run", "--", "true"});
    REQUIRE(r.code == 0);
    CHECK(contains(r.err, "cairn: warning: 1 untracked file(s) over 10.0 MiB"));
    CHECK(contains(r.err, "big.bin"));
    auto j = repo.ok({"show", "last", "--json"}).json();
    std::string snapshot = j["git"]["snapshot"];
    CHECK(repo.git({"show", snapshot + ":small.txt"}).code == 0);
    CHECK(repo.git({"show", snapshot + ":big.bin"}).code != 0);
    std::string ref = "refs/cairn/runs/" + j["id"].get<std::string>();
    std::string large = repo.git({"show", ref + ":large_files.yaml"}).out;
    std::string id = sha256_id_of_file(repo.path("big.bin"));
    CHECK(contains(large, "big.bin: " + id));
    CHECK(repo.exists(Repo::object_rel(id)));
    repo.ok({"gc"});
    CHECK(repo.exists(Repo::object_rel(id))); // referenced by the run
}

TEST_CASE("SIGINT sent to cairn run reaches the command, exit 130, status interrupted", "[e2e][run]") {
    Repo repo;
    auto child = repo.spawn({"run", "-n", "ctrl-c", "--", "sh", "-c", "echo x > \"$CAIRN_RUN_DIR/ready\"; exec sleep 30"});
    REQUIRE(wait_for_ready(repo));
    child->signal(SIGINT);
    CHECK(child->wait() == 130);
    auto j = repo.ok({"show", "ctrl-c", "--json"}).json();
    CHECK(j["status"] == "interrupted");
    CHECK(j["exit_code"] == 130);
}

TEST_CASE("stdout capture patterns come from config.yaml", "[e2e][run]") {
    Repo repo;
    repo.write(".cairn/config.yaml", "version: 1\nrun:\n  capture: ['\\[(\\w+)\\] = ([0-9.]+) @ (\\d+)']\n");
    repo.ok({"run", "--", "sh", "-c", "echo '[acc] = 0.5 @ 3'; echo 'loss: 1'"});
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["metrics"]["acc"]["last"] == 0.5);
    CHECK(j["metrics"]["acc"]["step"] == 3);
    CHECK_FALSE(j["metrics"].contains("loss")); // the built-in pattern is replaced
    repo.write(".cairn/config.yaml", "version: 1\nrun:\n  capture: ['(unclosed']\n");
    Result bad = repo.cairn({"run", "--", "true"});
    CHECK(bad.code == 3);
    CHECK(contains(bad.err, "run.capture: invalid pattern"));
    CHECK(stdfs::is_empty(repo.path(".cairn/runs"))); // nothing staged
}

TEST_CASE("a large log goes to the cache, the run keeps its tail in git", "[e2e][run]") {
    Repo repo;
    repo.ok({"run", "-n", "chatty", "--", "sh", "-c", "i=0; while [ $i -lt 60000 ]; do echo \"line $i of a long log\"; i=$((i+1)); done"});
    auto j = repo.ok({"show", "chatty", "--json"}).json();
    std::string ref = "refs/cairn/runs/" + j["id"].get<std::string>();
    std::string run_yaml = git_out(repo, {"show", ref + ":run.yaml"});
    auto pos = run_yaml.find("log: sha256:");
    REQUIRE(pos != std::string::npos);
    std::string id = run_yaml.substr(pos + 5, 71);
    std::string blob = git_out(repo, {"show", ref + ":log.txt"});
    CHECK(blob.size() < 80 * 1024);
    CHECK(contains(blob, "line 59999 of a long log"));
    CHECK(contains(blob, id));
    CHECK(repo.exists(Repo::object_rel(id)));
    CHECK(contains(repo.read(Repo::object_rel(id)), "line 0 of a long log\n"));
    CHECK(contains(repo.ok({"show", "chatty"}).out, "line 59999 of a long log"));
    repo.ok({"gc"});
    CHECK(repo.exists(Repo::object_rel(id)));
}

TEST_CASE("run from a subdirectory: the command runs there, paths are relative to it", "[e2e][run]") {
    Repo repo;
    repo.write("exp/in.txt", "input");
    Result r = repo.ok({"run", "-d", "in.txt", "-o", "out.txt", "--", "sh", "-c", "pwd; cp in.txt out.txt"}, "exp");
    CHECK(contains(r.out, "/exp\n"));
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["cwd"] == "exp");
    CHECK(j["inputs"].contains("exp/in.txt"));
    CHECK(j["outputs"]["exp/out.txt"] == sha256_id_of_file(repo.path("exp/out.txt")));
    Result outside = repo.cairn({"run", "-d", "../../elsewhere", "--", "true"}, "exp");
    CHECK(outside.code == 3);
    CHECK(contains(outside.err, "outside the workspace"));
}

TEST_CASE("ls --json and show --json are valid JSON for awkward strings", "[e2e][run]") {
    Repo repo;
    std::string name = "q\"uote\\back\tslash \xc3\xa9"; // é: a record is UTF-8 (other bytes are refused)
    repo.ok({"run", "-n", name, "-p", "s=a\"b", "-t", "k=line", "--", "sh", "-c", "echo 'v: nan'; echo 'w: -inf'"});
    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == 1);
    CHECK(all[0]["name"] == name);
    CHECK(all[0]["params"]["s"] == "a\"b");
    CHECK(all[0]["metrics"]["v"]["last"] == "nan");
    CHECK(all[0]["metrics"]["w"]["min"] == "-inf");
    auto one = repo.ok({"show", "last", "--json"}).json();
    CHECK(one["id"] == all[0]["id"]);
    CHECK(one.contains("env"));
    CHECK_FALSE(all[0].contains("env"));
    CHECK(repo.ok({"ls", "--json", "--filter", "name = 'nobody'"}).json() == nlohmann::json::array());
}

TEST_CASE("gc sweeps runs that died before they were staged, not live ones", "[e2e][run][gc]") {
    Repo repo;
    stdfs::create_directories(repo.path(".cairn/runs/.0123456789abcdef0123456789abcdef"));
    repo.write(".cairn/runs/.0123456789abcdef0123456789abcdef/run.yaml", "half made");
    auto live = repo.spawn({"run", "--", "sh", "-c", "echo x > \"$CAIRN_RUN_DIR/ready\"; sleep 5"});
    REQUIRE(wait_for_ready(repo));
    auto r = repo.ok({"gc", "--json"}).json();
    CHECK(r["temp_files"] == 1);
    CHECK_FALSE(repo.exists(".cairn/runs/.0123456789abcdef0123456789abcdef"));
    CHECK(live->wait() == 0);
    CHECK(repo.ok({"ls", "--json"}).json().size() == 1);
}

TEST_CASE("a nested git repository is left out of the code snapshot, with a warning", "[e2e][run]") {
    Repo repo;
    repo.write("code.py", "x\n");
    stdfs::create_directories(repo.path("vendor/lib"));
    REQUIRE(run_process({"git", "init", "-q"}, repo.path("vendor/lib"), repo.env()).code == 0);
    repo.write("vendor/lib/f.txt", "nested");
    Result r = repo.cairn({"run", "--", "true"});
    CHECK(r.code == 0);
    CHECK(contains(r.err, "cairn: warning: nested git repositories are not part of the code snapshot: vendor/lib/"));
    std::string snapshot = repo.ok({"show", "last", "--json"}).json()["git"]["snapshot"];
    CHECK(repo.git({"show", snapshot + ":code.py"}).code == 0);
    CHECK(repo.git({"show", snapshot + ":vendor/lib/f.txt"}).code != 0);
}

TEST_CASE("the run index: a recorded run is appended to index/runs.log, not a rewrite of index/runs", "[e2e][run][index]") {
    Repo repo;
    repo.ok({"run", "-n", "first", "--", "true"});
    repo.ok({"ls"}); // builds index/runs
    std::string base = repo.read(".cairn/index/runs");
    for (int i = 0; i < 3; ++i) repo.ok({"run", "-n", "r" + std::to_string(i), "-p", "i=" + std::to_string(i), "--", "true"});
    CHECK(repo.read(".cairn/index/runs") == base); // untouched by the recorder
    REQUIRE(repo.exists(".cairn/index/runs.log"));
    CHECK(repo.read(".cairn/index/runs.log").rfind("cairn-run-index 3\n", 0) == 0);
    std::string listed = repo.ok({"ls", "--json"}).out;
    CHECK(repo.ok({"ls", "--json"}).json().size() == 4);
    stdfs::remove(repo.path(".cairn/index/runs"));
    stdfs::remove(repo.path(".cairn/index/runs.log"));
    CHECK(repo.ok({"ls", "--json"}).out == listed); // the same as rebuilt from the refs
    CHECK(!repo.exists(".cairn/index/runs.log"));    // a full rewrite folds the log in
}
