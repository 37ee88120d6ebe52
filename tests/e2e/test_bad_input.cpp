// Bad input from disk and from the command line: deep filters, strict pointer fields, pointer
// files that are not regular files, FIFOs, run records of another version or malformed, and
// control characters from stored data on the terminal.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

// cairn under `timeout`: a command that would block on a FIFO fails the test (exit 124)
// instead of hanging the suite.
Result cairn_bounded(const Repo& repo, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"timeout", "60", CAIRN_EXE};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, repo.root(), repo.env());
}

std::string last_run_id(const Repo& repo) { return repo.ok({"ls", "--json", "-n", "1"}).json()[0]["id"]; }


std::string pointer(const std::string& path, const std::string& hash, const std::string& size,
                    const std::string& extra = "") {
    return "version: 1\npath: " + path + "\nhash: " + hash + "\nsize: " + size + "\n" + extra;
}

bool has_raw_control(const std::string& text) {
    for (char c : text)
        if (c == '\x1b' || c == '\x07' || c == '\x7f' || c == '\r') return true;
    return false;
}

} // namespace

TEST_CASE("deeply nested filters are refused with the limit, not a stack overflow", "[e2e][badinput]") {
    Repo repo;
    repo.ok({"run", "-n", "a", "--", "true"});
    struct Case {
        std::string name, filter;
    };
    for (const auto& c : {Case{"parentheses", repeat("(", 10000) + "status = 'finished'" + repeat(")", 10000)},
                          Case{"not", repeat("not ", 30000) + "status = 'finished'"},
                          Case{"unclosed", repeat("(", 10000)}}) {
        DYNAMIC_SECTION(c.name) {
            Result r = repo.cairn({"ls", "--filter", c.filter});
            CHECK(r.code == 2);
            CHECK(contains(r.err, "cairn: error: filter: expression nested deeper than 100 levels"));
            CHECK(r.err.size() < 1000);
        }
    }
    // A long flat chain is not nesting.
    std::string chain = "status = 'x'" + repeat(" or status = 'x'", 5000) + " or name = 'a'";
    CHECK(repo.ok({"ls", "--json", "--filter", chain}).json().size() == 1);
}

TEST_CASE("pointer fields are validated: version, hash case, duplicates, numbers", "[e2e][badinput]") {
    Repo repo;
    repo.write("f.txt", "data");
    repo.ok({"add", "f.txt"});
    std::string id = sha256_id_of_file(repo.path("f.txt"));
    std::string upper = id;
    for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
    struct Case {
        std::string text, expect;
    };
    for (const auto& c : {
             Case{"path: f.txt\nhash: " + id + "\nsize: 4\n", "f.txt.cairn: missing 'version'"},
             Case{"version: 2\npath: f.txt\nhash: " + id + "\nsize: 4\n", "f.txt.cairn:1: pointer version 2 is not supported"},
             Case{pointer("f.txt", upper, "4"), "f.txt.cairn:3: malformed hash"},
             Case{pointer("f.txt", id, "4", "size: 5\n"), "f.txt.cairn:5: duplicate field 'size'"},
             Case{pointer("f.txt", id, "4", "colour: red\n"), "f.txt.cairn:5: unknown field 'colour'"},
             Case{pointer("f.txt", id, "-4"), "f.txt.cairn:4: 'size' must be a non-negative integer, not '-4'"},
             Case{pointer("f.txt", id, "4", "files: 1.5\n"), "f.txt.cairn:5: 'files' must be a non-negative integer"},
         }) {
        DYNAMIC_SECTION(c.expect) {
            repo.write("f.txt.cairn", c.text);
            for (const char* cmd : {"status", "checkout"}) {
                Result r = repo.cairn({cmd});
                CHECK(r.code == 3);
                CHECK(contains(r.err, "cairn: error: " + c.expect));
                CHECK_FALSE(contains(r.err, "bad conversion"));
            }
            Result fsck = repo.cairn({"fsck"});
            CHECK(fsck.code == 1);
            CHECK(contains(fsck.out, c.expect));
        }
    }
}

TEST_CASE("a pointer whose size or kind contradicts its object is refused by status, checkout and fsck",
          "[e2e][badinput]") {
    Repo repo;
    repo.write("f.txt", "data");
    repo.make_tree("dir", 3, 3, 10);
    repo.ok({"add", "f.txt"});
    std::string file_id = sha256_id_of_file(repo.path("f.txt"));
    std::string tree_id = repo.ok({"add", "dir", "--json"}).json()["paths"][0]["hash"];
    std::string tree_pointer = repo.read("dir.cairn");
    stdfs::remove(repo.path("f.txt"));
    stdfs::remove_all(repo.path("dir"));

    struct Case {
        std::string name, pointer_file, text, expect;
        int code = 3;
    };
    for (const auto& c : {
             Case{"wrong size", "f.txt.cairn", pointer("f.txt", file_id, "5"),
                  "f.txt.cairn: 'size' is 5 but the object " + file_id + " holds 4 bytes"},
             Case{"file pointer naming a tree", "f.txt.cairn", pointer("f.txt", tree_id, "30"),
                  "f.txt.cairn: 'hash' " + tree_id + " names a directory tree but has no files: field"},
             Case{"directory pointer naming a file", "dir.cairn", pointer("dir", file_id, "4", "files: 1\n"),
                  "dir.cairn: 'hash' " + file_id + " does not name a directory tree, but the pointer has a files: field: "
                  "tree object " + file_id + ": line 1: not a cairn tree object", 6},
             Case{"wrong file count", "dir.cairn", pointer("dir", tree_id, "30", "files: 4\n"),
                  "dir.cairn: 'files' is 4 but the tree " + tree_id + " lists 3 files"},
             Case{"wrong directory size", "dir.cairn", pointer("dir", tree_id, "31", "files: 3\n"),
                  "dir.cairn: 'size' is 31 but the tree " + tree_id + " holds 30 bytes"},
         }) {
        DYNAMIC_SECTION(c.name) {
            repo.write(c.pointer_file, c.text);
            Result checkout = repo.cairn({"checkout"});
            CHECK(checkout.code == c.code);
            CHECK(contains(checkout.err, "cairn: error: " + c.expect));
            CHECK_FALSE(repo.exists("f.txt")); // the tree's text is never written out as the file
            CHECK_FALSE(repo.exists("dir"));
            Result status = repo.cairn({"status"});
            CHECK(status.code == c.code);
            CHECK(contains(status.err, c.expect));
            Result fsck = repo.cairn({"fsck", "--json"});
            CHECK(fsck.code == 1);
            bool found = false;
            nlohmann::json report = fsck.json();
            for (const auto& p : report["problems"])
                found |= p["kind"] == "bad pointer" && contains(p["detail"].get<std::string>(), c.expect);
            CHECK(found);
            // Put the good pointers back for the next case.
            repo.write("f.txt.cairn", pointer("f.txt", file_id, "4"));
            repo.write("dir.cairn", tree_pointer);
        }
    }
    repo.ok({"checkout"});
    CHECK(repo.read("f.txt") == "data");
}

TEST_CASE("pointer files that are symlinks, directories or FIFOs", "[e2e][badinput]") {
    Repo repo;
    repo.write("f.txt", "data");
    repo.ok({"add", "f.txt"});

    SECTION("a symlink is refused") {
        stdfs::rename(repo.path("f.txt.cairn"), repo.path("real.txt"));
        stdfs::create_symlink("real.txt", repo.path("f.txt.cairn"));
        for (const char* cmd : {"status", "checkout", "fsck", "gc"}) {
            Result r = repo.cairn({cmd});
            CHECK(r.code == 3);
            CHECK(contains(r.err, "f.txt.cairn is a symlink; a pointer file must be a regular file"));
        }
        CHECK(repo.cairn({"status", "f.txt"}).code == 3);
    }
    SECTION("a FIFO is skipped with a warning and never opened") {
        stdfs::remove(repo.path("f.txt.cairn"));
        REQUIRE(::mkfifo(repo.path("f.txt.cairn").c_str(), 0644) == 0);
        for (const char* cmd : {"status", "checkout", "fsck"}) {
            Result r = cairn_bounded(repo, {cmd});
            CHECK(r.code == 0);
            CHECK(contains(r.err, "cairn: warning: f.txt.cairn is not a regular file (a FIFO, socket or device); skipped"));
        }
        // Named on the command line it is an error.
        Result named = cairn_bounded(repo, {"status", "f.txt"});
        CHECK(named.code == 3);
        CHECK(contains(named.err, "f.txt.cairn is not a regular file"));
        // lineage returns at once with an error, whether the data or the pointer is the FIFO.
        stdfs::remove(repo.path("f.txt"));
        Result lineage = cairn_bounded(repo, {"lineage", "f.txt"});
        CHECK(lineage.code == 3);
        CHECK(contains(lineage.err, "f.txt.cairn is a FIFO, socket or device, so not a pointer file"));
        REQUIRE(::mkfifo(repo.path("data.fifo").c_str(), 0644) == 0);
        Result data = cairn_bounded(repo, {"lineage", "data.fifo"});
        CHECK(data.code == 3);
        CHECK(contains(data.err, "'data.fifo' is not a regular file or directory"));
    }
    SECTION("a directory named like a pointer is searched as a directory, with a warning") {
        repo.write("odd.cairn/g.txt", "more");
        repo.ok({"add", "odd.cairn/g.txt"});
        Result r = repo.cairn({"status", "--json"});
        CHECK(r.code == 0);
        CHECK(contains(r.err, "cairn: warning: odd.cairn is a directory, not a pointer file"));
        CHECK(r.json()["paths"].size() == 2);
    }
}

TEST_CASE("metric and parameter files that are FIFOs fail the run's reading, never block", "[e2e][badinput]") {
    Repo repo;
    REQUIRE(::mkfifo(repo.path("params.fifo").c_str(), 0644) == 0);
    Result params = cairn_bounded(repo, {"run", "--params", "params.fifo", "--", "true"});
    CHECK(params.code == 3);
    CHECK(contains(params.err, "params.fifo is a FIFO, not a regular file"));
    REQUIRE(::mkfifo(repo.path("metrics.fifo").c_str(), 0644) == 0);
    Result metrics = cairn_bounded(repo, {"run", "-m", "metrics.fifo", "--", "true"});
    CHECK(metrics.code == 3);
    CHECK(contains(metrics.err, "metrics.fifo is a FIFO, not a regular file"));
    CHECK(contains(metrics.err, "recorded without the metrics of"));
    CHECK(repo.ok({"ls", "--json"}).json().size() == 1); // the run itself is kept
}

TEST_CASE("run records of another version or malformed are refused, naming ref, file and field", "[e2e][badinput]") {
    Repo repo;
    repo.ok({"run", "-n", "good", "--", "true"});
    repo.ok({"run", "-n", "odd", "--", "true"});
    std::string id = last_run_id(repo);
    std::string ref = "refs/cairn/runs/" + id;
    std::string run_yaml = repo.git({"show", ref + ":run.yaml"}).out;
    auto replace = [](std::string text, const std::string& from, const std::string& to) {
        auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        return text.replace(at, from.size(), to);
    };
    struct Case {
        std::string name, file, content, expect;
    };
    for (const auto& c : {
             Case{"newer version", "run.yaml", replace(run_yaml, "version: 1", "version: 2"),
                  ref + ":run.yaml:1: run record version 2 is not supported by this cairn (it reads version 1); upgrade cairn"},
             Case{"no version", "run.yaml", replace(run_yaml, "version: 1\n", ""), ref + ":run.yaml: missing 'version'"},
             Case{"text version", "run.yaml", replace(run_yaml, "version: 1", "version: one"),
                  ref + ":run.yaml:1: 'version' must be 1, not 'one'"},
             Case{"exit code", "run.yaml", replace(run_yaml, "exit_code: 0", "exit_code: [0]"),
                  "'exit_code' must be an integer"},
             Case{"git.dirty", "run.yaml", replace(run_yaml, "dirty: ", "dirty: maybe #"), "'git.dirty' must be true or false"},
             Case{"start", "run.yaml", replace(run_yaml, "start: ", "start: yesterday #"), "'start' must be a UTC time"},
             Case{"params", "params.yaml", "lr: [1, 2]\n", ref + ":params.yaml:1: expected 'key: value' with a single value"},
             Case{"outputs", "outputs.yaml", "model.bin: sha256:NOPE\n",
                  ref + ":outputs.yaml:1: expected 'path: sha256:<64 lowercase hex>'"},
             Case{"metrics", "metrics.tsv", "loss\t1\tbanana\t0\n", ref + ":metrics.tsv:1: malformed metric line"},
         }) {
        DYNAMIC_SECTION(c.name) {
            forge_record_file(repo, id, c.file, c.content);
            // Listing skips it with a warning; the good run is still listed.
            Result ls = repo.cairn({"ls", "--json"});
            CHECK(ls.code == 0);
            CHECK(contains(ls.err, "cairn: warning: skipping " + ref));
            CHECK(contains(ls.err, c.expect));
            REQUIRE(ls.json().size() == 1);
            CHECK(ls.json()[0]["name"] == "good");
            // Naming it says why it cannot be read, not that there is no such run.
            for (const std::string& name : {id, id.substr(0, 8)}) {
                Result show = repo.cairn({"show", name});
                CHECK(show.code == 3);
                CHECK(contains(show.err, "run " + id.substr(0, 8) + " cannot be read: "));
                CHECK(contains(show.err, c.expect));
                CHECK_FALSE(contains(show.err, "no run named"));
            }
            CHECK(contains(repo.cairn({"diff", "good", id}).err, c.expect));
            CHECK(contains(repo.cairn({"rerun", id}).err, c.expect));
        }
    }
    // A broken run can still be removed by its id.
    forge_record_file(repo, id, "run.yaml", replace(run_yaml, "version: 1", "version: 2"));
    repo.ok({"rm", id});
    CHECK(repo.git({"show-ref", ref}).code != 0);
    CHECK(repo.cairn({"ls"}).err.empty());
}

TEST_CASE("control characters from stored data are escaped on the terminal", "[e2e][badinput]") {
    Repo repo;
    std::string evil = "x\x1b]0;pwned\x07\x1b[31mred\x7f\xc2\x9b" "2J";
    repo.ok({"run", "-n", evil, "-t", "note=" + evil, "-p", "who=" + evil, "--", "true"});
    std::string id = last_run_id(repo);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"ls"}, {"ls", "--csv"}, {"show", id}, {"tag", id, "more=" + evil}, {"diff", id, id}, {"lineage", id}}) {
        DYNAMIC_SECTION(args[0]) {
            Result r = repo.cairn(args);
            CHECK(r.code == 0);
            CHECK_FALSE(has_raw_control(r.out));
            CHECK_FALSE(contains(r.out, "\xc2\x9b"));
        }
    }
    std::string show = repo.ok({"show", id}).out;
    CHECK(contains(show, "x\\x1b]0;pwned\\x07\\x1b[31mred\\x7f\\u009b2J"));
    // JSON keeps the bytes, escaped the JSON way.
    CHECK(repo.ok({"show", id, "--json"}).json()["name"] == evil);
    CHECK_FALSE(has_raw_control(repo.ok({"show", id, "--json"}).out));
    // Errors that quote stored or typed text.
    Result filter = repo.cairn({"ls", "--filter", "name = 'a' \x1b[2J"});
    CHECK(filter.code == 2);
    CHECK_FALSE(has_raw_control(filter.err));
    CHECK(contains(filter.err, "\\x1b"));
    repo.write("f.txt.cairn", "version: 1\npath: f.txt\nhash: \"\\e[31m\"\nsize: 1\n");
    Result pointer_error = repo.cairn({"status"});
    CHECK(pointer_error.code == 3);
    CHECK_FALSE(has_raw_control(pointer_error.err));
    CHECK(contains(pointer_error.err, "malformed hash '\\x1b[31m'"));
}

TEST_CASE("a command, parameter or name that is not UTF-8 is refused before anything runs", "[e2e][badinput]") {
    Repo repo;
    Result arg = repo.cairn({"run", "--", "touch", "ran-\xff"});
    CHECK(arg.code == 3);
    CHECK(contains(arg.err, "argument 2 of the command is not UTF-8 text"));
    Result param = repo.cairn({"run", "-p", "x=\xfe", "--", "touch", "ran"});
    CHECK(param.code == 3);
    CHECK(contains(param.err, "parameter 'x' is not UTF-8 text"));
    Result name = repo.cairn({"run", "-n", "n\xc3", "--", "touch", "ran"});
    CHECK(name.code == 3);
    CHECK_FALSE(repo.exists("ran"));
    CHECK(repo.ok({"ls", "--json"}).json().empty());
}

TEST_CASE("run records that are not UTF-8 are refused by readers", "[e2e][badinput]") {
    Repo repo;
    repo.ok({"run", "-n", "good", "--", "true"});
    std::string id = repo.ok({"ls", "--json"}).json()[0]["id"];
    forge_record_file(repo, id, "params.yaml", "x: \"a\xfc\xd2\"\n");
    Result show = repo.cairn({"show", id});
    CHECK(show.code == 3);
    CHECK(contains(show.err, "params.yaml: not UTF-8 text"));
}
