// Reused run names (NAME is the latest, NAME~N the ones before), rerun --dry-run's exit status,
// apply --undo and checkout --object.
#include <csignal>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// No re-run left a worktree behind.
bool rerun_dirs_empty(const Repo& repo) {
    if (!repo.exists(".cairn/tmp")) return true;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp")))
        if (e.path().filename().string().rfind("rerun-", 0) == 0) return false;
    return true;
}

} // namespace

TEST_CASE("a reused name warns at run time and then names its latest run, NAME~N the earlier ones",
          "[e2e][undo]") {
    Repo repo;
    Result first = repo.cairn({"run", "-n", "base", "--", "true"});
    REQUIRE(first.code == 0);
    CHECK(!contains(first.err, "already used"));
    std::string old_id = repo.ok({"show", "last", "--json"}).json()["id"];

    Result second = repo.cairn({"run", "-n", "base", "--", "true"});
    REQUIRE(second.code == 0);
    CHECK(contains(second.err, "cairn: warning: the name 'base' is already used by run " +
                                   old_id.substr(0, 8)));
    CHECK(contains(second.err, "'base~1' the earlier one"));
    std::string new_id = repo.ok({"show", "last", "--json"}).json()["id"];
    REQUIRE(new_id != old_id);

    // NAME is the latest; the note goes to stderr and leaves --json stdout parseable.
    Result show = repo.cairn({"show", "base", "--json"});
    REQUIRE(show.code == 0);
    CHECK(show.json()["id"] == new_id);
    CHECK(contains(show.err, "'base' names 2 runs; using the latest, " + new_id.substr(0, 8)));
    CHECK(contains(show.err, "base~1  " + old_id.substr(0, 8)));

    // NAME~N counts back, with no note (it names one run exactly); past the end is an error.
    Result older = repo.cairn({"show", "base~1", "--json"});
    REQUIRE(older.code == 0);
    CHECK(older.json()["id"] == old_id);
    CHECK(older.err.empty());
    CHECK(repo.ok({"show", "base~0", "--json"}).json()["id"] == new_id);
    Result past = repo.cairn({"show", "base~2"});
    CHECK(past.code == 3);
    CHECK(contains(past.err, "only 2 run(s) are named 'base'"));
    Result junk = repo.cairn({"show", "base~x"});
    CHECK(junk.code == 3);
    CHECK(contains(junk.err, "expected base~N"));

    // Every command that takes a run resolves the same way.
    CHECK(repo.ok({"diff", "base~1", "base", "--json"}).out.size() > 0);
    Result ls = repo.cairn({"ls", "base~1", "--json"});
    REQUIRE(ls.code == 0);
    REQUIRE(ls.json().size() == 1);
    CHECK(ls.json()[0]["id"] == old_id);
    CHECK(repo.ok({"rerun", "base~1", "--dry-run", "--json"}).json()["steps"][0]["run"] == old_id);

    // A third run: the warning counts them and the note lists both others.
    Result third = repo.cairn({"run", "-n", "base", "--", "true"});
    REQUIRE(third.code == 0);
    CHECK(contains(third.err, "already used by 2 runs, the latest " + new_id.substr(0, 8)));
    CHECK(contains(third.err, "'base~1' to 'base~2' the earlier ones"));
    Result note = repo.cairn({"show", "base", "--json"});
    CHECK(contains(note.err, "base~1  " + new_id.substr(0, 8)));
    CHECK(contains(note.err, "base~2  " + old_id.substr(0, 8)));
    CHECK(repo.ok({"show", "base~2", "--json"}).json()["id"] == old_id);
}

TEST_CASE("a run named with a tilde is found by its own name first", "[e2e][undo]") {
    Repo repo;
    repo.ok({"run", "-n", "v", "--", "true"});
    repo.ok({"run", "-n", "v~1", "--", "true"});
    std::string tilde_id = repo.ok({"show", "last", "--json"}).json()["id"];
    CHECK(repo.ok({"show", "v~1", "--json"}).json()["id"] == tilde_id);
    CHECK(repo.ok({"show", "v", "--json"}).json()["id"] ==
          repo.ok({"show", "last~1", "--json"}).json()["id"]);
}

TEST_CASE("rerun --dry-run prints the plan and exits as the re-run would when objects are missing",
          "[e2e][undo]") {
    Repo repo;
    repo.write_script("gen.sh", "#!/bin/sh\ncat in.txt > out.txt\n");
    repo.write(".gitignore", "in.txt\nout.txt\n");
    repo.commit();
    repo.write("in.txt", "input bytes\n");
    repo.ok({"run", "-n", "gen", "-d", "in.txt", "-o", "out.txt", "--", "./gen.sh"});
    CHECK(repo.cairn({"rerun", "gen", "--dry-run"}).code == 0);
    std::string in_id = repo.ok({"show", "gen", "--json"}).json()["inputs"]["in.txt"];
    stdfs::remove(repo.path(Repo::object_rel(in_id)));

    Result real = repo.cairn({"rerun", "gen"});
    REQUIRE(real.code == 6);
    Result dry = repo.cairn({"rerun", "gen", "--dry-run"});
    CHECK(dry.code == real.code);
    CHECK(contains(dry.out, "missing: "));
    CHECK(contains(dry.err, "cairn: error: 1 object(s) needed to re-run are missing"));
    CHECK(contains(dry.err, in_id.substr(0, 19)));
    Result json = repo.cairn({"rerun", "gen", "--dry-run", "--json"});
    CHECK(json.code == 6);
    auto j = json.json(); // the plan is still printed, and parseable
    CHECK(j["dry_run"] == true);
    REQUIRE(j["steps"][0]["missing"].size() == 1);
    CHECK(contains(j["steps"][0]["missing"][0].get<std::string>(), in_id.substr(0, 19)));
    CHECK(rerun_dirs_empty(repo));
}

TEST_CASE("fsck separates the kind of a problem from the pointer it names", "[e2e][undo]") {
    Repo repo;
    repo.write("data/raw/wine.csv", "a,b\n1,2\n");
    repo.ok({"add", "data/raw/wine.csv"});
    repo.write("data/raw/wine.csv.cairn", "# broken\nversion: 9\n");
    Result r = repo.cairn({"fsck"});
    CHECK(r.code == 1);
    INFO(r.out);
    CHECK(contains(r.out, "bad pointer "));
    CHECK(contains(r.out, " data/raw/wine.csv.cairn:2: pointer version 9 is not supported"));
    CHECK(!contains(r.out, "pointerdata/"));
}

namespace {

std::string trimmed(const std::string& s) {
    std::string out = s;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
        out.pop_back();
    return out;
}

bool has_ref(const Repo& repo, const std::string& ref) {
    return repo.git({"rev-parse", "--verify", "-q", ref}).code == 0;
}

// gen.sh writes model.txt from p.txt; data.txt is tracked data. Run "good" at commit a (p.txt
// = a, data A), run "later" at commit b (p.txt = b, data B), which is HEAD.
void runs_with_data(const Repo& repo) {
    repo.write_script("gen.sh", "#!/bin/sh\necho \"model of $(cat p.txt)\" > model.txt\n");
    repo.write("p.txt", "a\n");
    repo.write(".gitignore", "model.txt\n");
    repo.write("data.txt", "data A\n");
    repo.ok({"add", "data.txt"});
    repo.commit("a");
    repo.ok({"run", "-n", "good", "-o", "model.txt", "--", "./gen.sh"});
    repo.write("p.txt", "b\n");
    repo.write("data.txt", "data B\n");
    repo.ok({"add", "data.txt"});
    repo.commit("b");
    repo.ok({"run", "-n", "later", "-o", "model.txt", "--", "./gen.sh"});
    REQUIRE(repo.read("model.txt") == "model of b\n");
}

} // namespace

TEST_CASE("apply --undo puts back the code and the data apply --force saved, then drops the stash",
          "[e2e][undo]") {
    Repo repo;
    runs_with_data(repo);
    const std::string pointer_b = repo.read("data.txt.cairn");
    repo.write_script("gen.sh", "#!/bin/sh\necho edited > model.txt\n"); // uncommitted edit
    repo.write("model.txt", "hand-made model\n"); // in no run, not in the cache
    repo.write("notes.txt", "my notes\n");        // untracked, not ignored

    Result forced = repo.cairn({"apply", "good", "--force"});
    INFO(forced.err);
    REQUIRE(forced.code == 0);
    CHECK(contains(forced.out, "get it back, code and data, with: cairn apply --undo"));
    CHECK(contains(forced.out, "cairn checkout --object "));
    REQUIRE(repo.read("model.txt") == "model of a\n");
    REQUIRE(repo.read("p.txt") == "a\n");
    REQUIRE(repo.read("data.txt") == "data A\n"); // tracked data followed its pointer
    REQUIRE(has_ref(repo, "refs/cairn/apply/stash"));
    std::string stash = trimmed(repo.git({"rev-parse", "refs/cairn/apply/stash"}).out);

    // gc keeps the saved bytes: the stash names them.
    repo.ok({"gc"});
    Result undo = repo.cairn({"apply", "--undo", "--json"});
    INFO(undo.err);
    REQUIRE(undo.code == 0);
    auto j = undo.json();
    CHECK(j["stash"]["commit"] == stash);
    CHECK(j["undone"] == repo.ok({"show", "good", "--json"}).json()["id"]);
    CHECK(repo.read("gen.sh") == "#!/bin/sh\necho edited > model.txt\n");
    CHECK(repo.read("p.txt") == "b\n");
    CHECK(repo.read("model.txt") == "hand-made model\n");
    CHECK(repo.read("notes.txt") == "my notes\n");
    CHECK(repo.read("data.txt.cairn") == pointer_b);
    CHECK(repo.read("data.txt") == "data B\n");
    // Data and pointers agree again, and the stash is dropped (as git stash pop does).
    CHECK(repo.cairn({"status", "--check"}).code == 0);
    CHECK(!has_ref(repo, "refs/cairn/apply/stash"));
    CHECK(trimmed(repo.git({"status", "--porcelain"}).out) == " M gen.sh\n?? notes.txt");

    Result again = repo.cairn({"apply", "--undo"});
    CHECK(again.code == 3);
    CHECK(contains(again.err, "nothing to undo"));
}

TEST_CASE("apply --undo refuses changes made since the apply unless --force, and removes outputs "
          "apply created",
          "[e2e][undo]") {
    Repo repo;
    runs_with_data(repo);
    repo.write_script("gen.sh", "#!/bin/sh\necho edited > model.txt\n");
    stdfs::remove(repo.path("model.txt")); // the apply creates it
    repo.ok({"apply", "good", "--force"});
    REQUIRE(repo.read("model.txt") == "model of a\n");

    repo.write("p.txt", "edited after the apply\n");
    repo.write("data.txt", "edited data\n");
    Result refused = repo.cairn({"apply", "--undo"});
    CHECK(refused.code == 3);
    CHECK(contains(refused.err, "would overwrite changes made since"));
    CHECK(contains(refused.err, "p.txt (changed since the apply)"));
    CHECK(contains(refused.err, "data data.txt"));
    CHECK(!contains(refused.err, "gen.sh")); // what apply wrote is not in the way
    // Nothing changed, the stash is kept.
    CHECK(repo.read("p.txt") == "edited after the apply\n");
    CHECK(repo.read("gen.sh") != "#!/bin/sh\necho edited > model.txt\n");
    CHECK(has_ref(repo, "refs/cairn/apply/stash"));

    Result forced = repo.cairn({"apply", "--undo", "--force", "--json"});
    INFO(forced.err);
    REQUIRE(forced.code == 0);
    CHECK(forced.json()["removed"] == nlohmann::json::array({"model.txt"}));
    CHECK(!repo.exists("model.txt"));
    CHECK(repo.read("p.txt") == "b\n");
    CHECK(repo.read("gen.sh") == "#!/bin/sh\necho edited > model.txt\n");
    CHECK(repo.read("data.txt") == "data B\n");
    CHECK(repo.cairn({"status", "--check"}).code == 0);
}

TEST_CASE("apply --undo and apply usage errors", "[e2e][undo]") {
    Repo repo;
    repo.ok({"run", "-n", "r", "--", "true"});
    CHECK(repo.cairn({"apply"}).code == 2);
    CHECK(repo.cairn({"apply", "--undo", "r"}).code == 2);
    CHECK(repo.cairn({"apply", "--undo", "--outputs-only"}).code == 2);
    Result none = repo.cairn({"apply", "--undo"});
    CHECK(none.code == 3);
    CHECK(contains(none.err, "nothing to undo: there is no refs/cairn/apply/stash"));
    // A stash without the record of saved data (a plain commit): says how to get the files back.
    repo.commit("base");
    REQUIRE(repo.git({"update-ref", "refs/cairn/apply/stash", "HEAD"}).code == 0);
    Result old = repo.cairn({"apply", "--undo"});
    CHECK(old.code == 3);
    CHECK(contains(old.err, "has no record of the data it saved"));
}

TEST_CASE("checkout --object writes a file or directory object by id at a path", "[e2e][undo]") {
    Repo repo;
    repo.write("model.bin", "weights v1\n");
    repo.write("dir/a.txt", "a\n");
    repo.write("dir/sub/b.txt", "b\n");
    repo.ok({"add", "model.bin", "dir"});
    std::string file_id = sha256_id_of_file(repo.path("model.bin"));
    std::string dir_pointer = repo.read("dir.cairn");
    auto hash_at = dir_pointer.find("sha256:");
    REQUIRE(hash_at != std::string::npos);
    std::string dir_id = dir_pointer.substr(hash_at, 71);

    // A file, by an 8-digit prefix without sha256:, into a new directory.
    Result r =
        repo.cairn({"checkout", "--object", file_id.substr(7, 8), "-o", "restored/model.bin"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(repo.read("restored/model.bin") == "weights v1\n");
    // A tree becomes a directory.
    Result d = repo.cairn({"checkout", "--object", dir_id.substr(0, 19), "-o", "copy", "--json"});
    INFO(d.err);
    REQUIRE(d.code == 0);
    CHECK(d.json()["object"] == dir_id);
    CHECK(repo.read("copy/a.txt") == "a\n");
    CHECK(repo.read("copy/sub/b.txt") == "b\n");
    // From a subdirectory, -o is relative to it.
    repo.ok({"checkout", "--object", file_id, "-o", "again.bin"}, "copy/sub");
    CHECK(repo.read("copy/sub/again.bin") == "weights v1\n");

    // Unsaved bytes at the target are refused unless --force.
    repo.write("restored/model.bin", "precious, never added\n");
    Result refused = repo.cairn({"checkout", "--object", file_id, "-o", "restored/model.bin"});
    CHECK(refused.code == 3);
    CHECK(contains(refused.err, "not in the cache"));
    CHECK(repo.read("restored/model.bin") == "precious, never added\n");
    repo.ok({"checkout", "--object", file_id, "-o", "restored/model.bin", "--force"});
    CHECK(repo.read("restored/model.bin") == "weights v1\n");

    // Bad ids and targets.
    CHECK(repo.cairn({"checkout", "--object", file_id.substr(0, 13), "-o", "x"}).code ==
          3); // 6 digits
    Result unknown = repo.cairn({"checkout", "--object", "sha256:0000000000", "-o", "x"});
    CHECK(unknown.code == 3);
    CHECK(contains(unknown.err, "the cache has no object"));
    CHECK(repo.cairn({"checkout", "--object", file_id}).code == 2);                   // no -o
    CHECK(repo.cairn({"checkout", "-o", "x"}).code == 2);                             // no --object
    CHECK(repo.cairn({"checkout", "dir", "--object", file_id, "-o", "x"}).code == 2); // both
    CHECK(repo.cairn({"checkout", "--object", file_id, "-o", "../outside"}).code != 0);
    CHECK(repo.cairn({"checkout", "--object", file_id, "-o", ".git/x"}).code != 0);
    CHECK(!repo.exists("x"));
}

TEST_CASE("SIGTERM during a rerun exits 128 + SIGTERM, as cairn run and a shell report it",
          "[e2e][undo]") {
    Repo repo;
    repo.write_script(
        "slow.sh",
        "#!/bin/sh\nif [ -n \"$SLOW\" ]; then echo $$ > \"$CAIRN_RUN_DIR/ready.tmp\"; "
        "mv \"$CAIRN_RUN_DIR/ready.tmp\" \"$CAIRN_RUN_DIR/ready\"; exec sleep 30; fi\necho done\n");
    repo.commit();
    repo.ok({"run", "-n", "slow", "--", "./slow.sh"});
    auto env = repo.env();
    env["SLOW"] = "1";
    Child child({CAIRN_EXE, "rerun", "slow"}, repo.root(), env);
    bool ready = false;
    for (int i = 0; i < 1000 && !ready; ++i) {
        if (repo.exists(".cairn/runs"))
            for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs")))
                ready |= stdfs::exists(e.path() / "ready");
        if (!ready) ::usleep(10000);
    }
    REQUIRE(ready);
    child.signal(SIGTERM);
    CHECK(child.wait() == 128 + SIGTERM);
    CHECK(repo.ok({"show", "last", "--json"}).json()["status"] == "interrupted");
    CHECK(rerun_dirs_empty(repo));
}

TEST_CASE("the secret names config.yaml's comment lists are the ones redacted", "[e2e][undo]") {
    Repo repo;
    std::string config = repo.read(".cairn/config.yaml");
    auto at = config.find("Values of names containing ");
    REQUIRE(at != std::string::npos);
    auto end = config.find(" are never recorded", at);
    REQUIRE(end != std::string::npos);
    std::string list = config.substr(at, end - at);
    std::vector<std::string> words;
    for (const char* w : {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH"}) {
        CHECK(contains(list, w));
        words.push_back(w);
    }
    // Each one, even allow-listed, is recorded as <redacted>.
    std::string env_list = "[PATH";
    auto env = repo.env();
    for (const auto& w : words) {
        env["MY_" + w + "_X"] = "s3cret";
        env_list += ", MY_" + w + "_X";
    }
    env_list += "]";
    auto line = config.find("  env: [");
    REQUIRE(line != std::string::npos);
    config.replace(line, config.find('\n', line) - line, "  env: " + env_list);
    repo.write(".cairn/config.yaml", config);
    Result r = run_process({CAIRN_EXE, "run", "--", "true"}, repo.root(), env);
    REQUIRE(r.code == 0);
    auto recorded = repo.ok({"show", "last", "--json"}).json()["env"];
    for (const auto& w : words)
        CHECK(recorded["MY_" + w + "_X"] == "<redacted>");
}

TEST_CASE("cairn's own work stopped by SIGTERM exits 143 and by SIGINT 130", "[e2e][undo]") {
    for (int sig : {SIGTERM, SIGINT}) {
        Repo repo;
        repo.write("f.txt", "x\n");
        // Hold the store lock, so that `cairn add` waits for it (checking for signals).
        stdfs::path lock_path = repo.path(".cairn/lock");
        int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                        0644); // not inherited: the child opens its own
        REQUIRE(fd >= 0);
        REQUIRE(::flock(fd, LOCK_EX) == 0);
        Child child({CAIRN_EXE, "add", "f.txt"}, repo.root(), repo.env());
        // It is waiting once it has the lock file open.
        bool waiting = false;
        for (int i = 0; i < 1000 && !waiting; ++i) {
            std::error_code ec;
            for (const auto& e :
                 stdfs::directory_iterator("/proc/" + std::to_string(child.pid()) + "/fd", ec))
                waiting |= stdfs::read_symlink(e.path(), ec) == lock_path;
            if (!waiting) ::usleep(10000);
        }
        REQUIRE(waiting);
        child.signal(sig);
        CHECK(child.wait() == 128 + sig);
        ::close(fd);
        CHECK(!repo.exists("f.txt.cairn"));
    }
}
