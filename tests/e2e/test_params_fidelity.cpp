// Parameters: what a run records is what its command read (issues 8 and 9): locks between
// concurrent runs, overrides that edit one value only, typing, and a full disk.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string read_file(const stdfs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string log_of(const Repo& repo, const std::string& id) {
    Result r = repo.git({"show", "refs/cairn/runs/" + id + ":log.txt"});
    REQUIRE(r.code == 0);
    return r.out;
}

} // namespace

TEST_CASE("64 concurrent runs, some overriding: every record holds what its command read", "[e2e][params]") {
    Repo repo;
    const std::string original = "# shared by every run\nx: 0   # the value\ny: keep\n";
    repo.write("params.yaml", original);
    repo.commit("params");
    // Each command prints the value it reads, twice with a pause between, so that a file
    // changing under it would show.
    const std::string cmd = "sed -n 's/^x: \\([^ ]*\\).*/seen \\1/p' params.yaml; sleep 0.02; "
                            "sed -n 's/^x: \\([^ ]*\\).*/seen \\1/p' params.yaml";
    constexpr int k_runs = 64, k_at_once = 16;
    std::set<std::string> overridden;
    for (int batch = 0; batch < k_runs / k_at_once; ++batch) {
        std::vector<std::unique_ptr<Child>> children;
        for (int i = 0; i < k_at_once; ++i) {
            int n = batch * k_at_once + i;
            std::vector<std::string> args = {"run", "--no-capture"};
            if (n % 4 == 1) {
                args.push_back("-p");
                args.push_back("x=" + std::to_string(1000 + n));
                overridden.insert(std::to_string(1000 + n));
            }
            for (const char* a : {"--", "sh", "-c"}) args.push_back(a);
            args.push_back(cmd);
            children.push_back(repo.spawn(args));
        }
        for (auto& c : children) CHECK(c->wait() == 0);
    }
    CHECK(repo.read("params.yaml") == original);
    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == k_runs);
    std::set<std::string> recorded_overrides;
    for (const auto& run : all) {
        std::string id = run["id"];
        CHECK(run["status"] == "finished");
        std::string x = run["params"]["x"].dump();
        std::string printed = log_of(repo, id);
        INFO("run " << id << " recorded x=" << x << ", its command printed:\n" << printed);
        CHECK(printed == "seen " + x + "\nseen " + x + "\n");
        CHECK(run["params"]["y"] == "keep");
        if (x != "0") recorded_overrides.insert(x);
    }
    CHECK(recorded_overrides == overridden);
    // No lock or kept original is left behind.
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn")))
        CHECK(e.path().extension() != ".orig");
}

TEST_CASE("an override changes the bytes of its value only, other values read as recorded", "[e2e][params]") {
    Repo repo;
    const std::string original = "# settings\nversion: \"1.10\"\nrun_id: \"007\"\nflag: \"yes\"   # quoted on purpose\n"
                                 "train:\n  lr: 0.1  # learning rate\n  epochs: 3\n";
    repo.write("params.yaml", original);
    repo.ok({"run", "-p", "train.lr=0.5", "--", "sh", "-c", "cat params.yaml > seen.yaml"});
    std::string expected = original;
    expected.replace(expected.find("0.1  #"), 3, "0.5");
    CHECK(repo.read("seen.yaml") == expected);
    CHECK(repo.read("params.yaml") == original);
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["params"]["version"] == "1.10");
    CHECK(j["params"]["run_id"] == "007");
    CHECK(j["params"]["flag"] == "yes");
    CHECK(j["params"]["train.lr"] == 0.5);

    // A string that would re-type in YAML is written quoted; the program reads what was typed.
    repo.ok({"run", "-p", "train.epochs='007'", "-p", "flag=no", "--", "sh", "-c", "cat params.yaml > seen.yaml"});
    CHECK(contains(repo.read("seen.yaml"), "  epochs: \"007\"\n"));
    CHECK(contains(repo.read("seen.yaml"), "flag: \"no\"   # quoted on purpose\n"));
    auto k = repo.ok({"show", "last", "--json"}).json();
    CHECK(k["params"]["train.epochs"] == "007");
    CHECK(k["params"]["flag"] == "no");

    // --params files are edited the same way.
    const std::string other = "model:\n  name: 'resnet'  # backbone\n  depth: 50\n";
    repo.write("conf/other.yaml", other);
    repo.ok({"run", "--params", "conf/other.yaml", "-p", "model.depth=101", "--", "sh", "-c", "cat conf/other.yaml > seen.yaml"});
    CHECK(repo.read("seen.yaml") == "model:\n  name: 'resnet'  # backbone\n  depth: 101\n");
    CHECK(repo.read("conf/other.yaml") == other);
}

TEST_CASE("override values are typed by YAML 1.2 and passed on as typed", "[e2e][params]") {
    Repo repo;
    repo.write("params.yaml", "train:\n  lr: 0.1\n");
    repo.ok({"run", "-p", "train.lr=1.0", "-p", "c=1e3", "-p", "e=007", "-p", "s='1.0'", "--", "sh", "-c",
             "cat params.yaml > seen.yaml; echo \"$CAIRN_PARAM_TRAIN_LR $CAIRN_PARAM_C $CAIRN_PARAM_E $CAIRN_PARAM_S\" > env.txt"});
    CHECK(repo.read("seen.yaml") == "train:\n  lr: 1.0\n");
    CHECK(repo.read("env.txt") == "1.0 1e3 007 1.0\n");
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["params"]["train.lr"].is_number_float());
    CHECK(j["params"]["train.lr"] == 1.0);
    CHECK(j["params"]["c"].is_number_float());
    CHECK(j["params"]["c"] == 1000.0);
    CHECK(j["params"]["e"].is_number_integer());
    CHECK(j["params"]["e"] == 7);
    CHECK(j["params"]["s"] == "1.0");
    // The record's own params.yaml keeps the text, and filters still compare numbers.
    std::string recorded = repo.git({"show", "refs/cairn/runs/" + j["id"].get<std::string>() + ":params.yaml"}).out;
    CHECK(contains(recorded, "train.lr: 1.0\n"));
    CHECK(contains(recorded, "e: 007\n"));
    CHECK(contains(recorded, "s: \"1.0\"\n"));
    CHECK(repo.ok({"ls", "--filter", "params.e = 7 and params.c > 999", "--json"}).json().size() == 1);
    // A re-run writes the recorded text back.
    repo.commit("params");
    Result rerun = repo.cairn({"rerun", "last", "--keep"});
    INFO(rerun.err);
    CHECK(rerun.code == 0);
    int replicas = 0;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp"))) {
        if (!stdfs::exists(e.path() / "work" / "seen.yaml")) continue;
        ++replicas;
        CHECK(read_file(e.path() / "work" / "seen.yaml") == "train:\n  lr: 1.0\n");
        CHECK(read_file(e.path() / "work" / "env.txt") == "1.0 1e3 007 1.0\n");
    }
    CHECK(replicas == 1);
}

TEST_CASE("an override equal to the file's value changes nothing", "[e2e][params]") {
    Repo repo;
    const std::string original = "lr: 0.1\nname: \"a\"\n";
    repo.write("params.yaml", original);
    struct stat before {};
    REQUIRE(::stat(repo.path("params.yaml").c_str(), &before) == 0);
    // While this run's command reads the file, a second run that only reads it may start: the
    // first holds no exclusive lock.
    const std::string wait_for_second = "stat -c %i params.yaml > inode.txt; "
                                        "for i in $(seq 1 500); do [ -f second.txt ] && exit 0; sleep 0.01; done; exit 1";
    auto first = repo.spawn({"run", "-p", "lr=0.1", "-p", "name=a", "--", "sh", "-c", wait_for_second});
    repo.ok({"run", "--", "sh", "-c", "touch second.txt"});
    CHECK(first->wait() == 0);
    CHECK(trim(repo.read("inode.txt")) == std::to_string(before.st_ino));
    struct stat after {};
    REQUIRE(::stat(repo.path("params.yaml").c_str(), &after) == 0);
    CHECK(after.st_ino == before.st_ino);
    CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
    CHECK(repo.read("params.yaml") == original);
}

TEST_CASE("an override of a key no params file holds warns, naming the files and the nearest key", "[e2e][params]") {
    Repo repo;
    repo.write("params.yaml", "train:\n  lr: 0.1\n  epochs: 3\nseed: 1\n");
    Result nested = repo.ok({"run", "-p", "train.lrr=0.9", "--", "sh", "-c", "cat params.yaml > seen.yaml"});
    CHECK(contains(nested.err, "'train.lrr' is not in params.yaml (nearest: train.lr): added to it for this run"));
    // Added at its nesting, so that the record says what the file said.
    CHECK(repo.read("seen.yaml") == "train:\n  lr: 0.1\n  epochs: 3\n  lrr: 0.9\nseed: 1\n");
    auto j = repo.ok({"show", "last", "--json"}).json();
    CHECK(j["params"]["train.lr"] == 0.1);
    CHECK(j["params"]["train.lrr"] == 0.9);

    Result top = repo.ok({"run", "-p", "sed=2", "--", "true"});
    CHECK(contains(top.err, "parameter 'sed' is in no parameter file (searched: params.yaml; nearest: seed)"));
    // A key used as {KEY} in the command is meant for it: no warning.
    Result used = repo.ok({"run", "-p", "sed=2", "--", "echo", "{sed}"});
    CHECK_FALSE(contains(used.err, "no parameter file"));
}

TEST_CASE("a nested cairn run that needs a params lock its enclosing run holds fails at once", "[e2e][params]") {
    Repo repo;
    repo.write("params.yaml", "x: 1\n");
    const std::string cairn = CAIRN_EXE;
    // Reading under a run that reads: fine.
    repo.ok({"run", "--", "sh", "-c", cairn + " run -- true"});
    // Overriding under a run that reads, or reading under a run that overrides: would wait forever.
    Result a = repo.cairn({"run", "--", "sh", "-c", cairn + " run -p x=2 -- true"});
    CHECK(a.code == 7);
    CHECK(contains(a.err, "params.yaml is locked by the run this command runs inside"));
    Result b = repo.cairn({"run", "-p", "x=3", "--", "sh", "-c", cairn + " run -- true"});
    CHECK(b.code == 7);
    CHECK(contains(b.err, "overrides values in it"));
    CHECK(repo.read("params.yaml") == "x: 1\n");
}

TEST_CASE("a disk that fills up during a run: params restored, real exit status kept, reading still works", "[e2e][params][diskfull]") {
    if (::geteuid() != 0) {
        WARN("skipped: mounting a small tmpfs needs root");
        return;
    }
    cairn::test::TempDir mount_point;
    if (::mount("tmpfs", mount_point.path().c_str(), "tmpfs", 0, "size=24m") != 0) {
        WARN("skipped: cannot mount a tmpfs here: " << std::strerror(errno));
        return;
    }
    struct Unmount {
        stdfs::path path;
        ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
    } unmount{mount_point.path()};
    const char* tmpdir = std::getenv("TMPDIR");
    std::string saved = tmpdir ? tmpdir : "";
    ::setenv("TMPDIR", mount_point.path().c_str(), 1);
    Repo repo;
    if (saved.empty())
        ::unsetenv("TMPDIR");
    else
        ::setenv("TMPDIR", saved.c_str(), 1);

    repo.write("params.yaml", "lr: 0.1\n");
    repo.write("data.txt", "some data\n");
    repo.ok({"add", "data.txt"});
    repo.commit("work");
    repo.ok({"run", "-n", "before", "--", "true"});
    // Same bytes, new mtime: `status` hashes it again and wants to save its stat cache.
    repo.write("data.txt", "some data\n");

    // The command fills the disk, then goes on printing (the log cannot take it) and succeeds.
    const std::string script = "echo model > out; dd if=/dev/zero of=filler bs=64k 2>/dev/null; "
                               "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done; exit 0";
    Result full = repo.cairn({"run", "-p", "lr=0.5", "-o", "out", "--", "sh", "-c", script});
    INFO(full.err);
    CHECK(full.code == 5);
    CHECK(contains(full.err, "cairn: error: run "));
    CHECK(contains(full.err, "its command finished (exit 0), but it cannot be recorded now"));
    CHECK(contains(full.out, "line 2999\n")); // the command ran to its end
    CHECK(repo.read("params.yaml") == "lr: 0.1\n");
    int staged = 0;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs"))) staged += e.path().filename().string().size() == 32;
    CHECK(staged == 1);

    // Reading works on the full disk.
    for (std::vector<std::string> args : {std::vector<std::string>{"ls"}, {"ls", "--json"}, {"show", "before"},
                                          {"diff", "before", "before"}, {"status"}}) {
        Result r = repo.cairn(args);
        INFO(args[0] << ": " << r.err);
        CHECK(r.code == 0);
    }
    CHECK(repo.ok({"ls", "--json"}).json().size() == 1);

    // Once there is space again, the next reader records the run with its real outcome.
    stdfs::remove(repo.path("filler"));
    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == 2);
    auto run = all[0];
    CHECK(run["status"] == "finished");
    CHECK(run["exit_code"] == 0);
    CHECK(run["params"]["lr"] == 0.5);
    CHECK(run["outputs"]["out"] == sha256_id_of_file(repo.path("out")));
    std::string log = log_of(repo, run["id"]);
    CHECK(contains(log, "[cairn: the log stops here; the command ran on:"));
    CHECK(contains(log, "[cairn: recorded after its cairn process ended"));
    CHECK(repo.read("params.yaml") == "lr: 0.1\n");
}
