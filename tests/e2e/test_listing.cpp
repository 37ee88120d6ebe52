// Reading what is there: runs in progress in ls/show/metrics/diff, empty results, column
// headers, the table's width on a terminal, and the command as show prints it.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
        start = end + 1;
    }
    return out;
}

std::vector<std::string> csv_header(const std::string& csv) {
    std::vector<std::string> fields;
    std::string line = lines_of(csv).at(0), field;
    for (char c : line) {
        if (c == ',')
            fields.push_back(field), field.clear();
        else
            field += c;
    }
    fields.push_back(field);
    return fields;
}

// Every file under `dir` with its bytes and modification time.
std::map<std::string, std::pair<std::string, stdfs::file_time_type>>
snapshot(const stdfs::path& dir) {
    std::map<std::string, std::pair<std::string, stdfs::file_time_type>> out;
    for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        out[e.path().lexically_relative(dir).string()] = {bytes, e.last_write_time()};
    }
    return out;
}

// The staging directory of the one run in progress, once its command has written `ready`.
stdfs::path wait_for_staging(const Repo& repo) {
    for (int i = 0; i < 1000; ++i) {
        if (stdfs::exists(repo.path(".cairn/runs")))
            for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs")))
                if (stdfs::exists(e.path() / "ready")) return e.path();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
}

} // namespace

TEST_CASE("a run in progress is listed, shown, filtered and diffed with what it logged so far",
          "[e2e][listing]") {
    Repo repo;
    repo.ok({"run", "-n", "before", "-p", "lr=0.1", "--", "sh", "-c",
             "echo 'loss 0.9 0' >> \"$CAIRN_METRICS_FILE\""});
    // The last metrics line is left half written: a reader must not take it as a point.
    auto child =
        repo.spawn({"run", "-n", "live", "-p", "lr=0.5", "-t", "stage=dev", "--", "sh", "-c",
                    "echo 'loss 0.5 1' >> \"$CAIRN_METRICS_FILE\"; printf 'loss 0.4' >> "
                    "\"$CAIRN_METRICS_FILE\"; "
                    // cairn copies the output into the log itself: ready once it is there.
                    "echo live-output; until grep -q live-output \"$CAIRN_RUN_DIR/log.txt\"; do "
                    "sleep 0.02; done; "
                    "echo x > \"$CAIRN_RUN_DIR/ready\"; "
                    "while [ ! -e go ]; do sleep 0.02; done"});
    stdfs::path staging = wait_for_staging(repo);
    REQUIRE(!staging.empty());
    const std::string id = staging.filename().string();
    auto before = snapshot(staging);

    auto all = repo.ok({"ls", "--json"}).json();
    REQUIRE(all.size() == 2);
    CHECK(all[0]["id"] == id); // newest first
    CHECK(all[0]["name"] == "live");
    CHECK(all[0]["status"] == "running");
    CHECK(all[0]["end"].is_null());
    CHECK(all[0]["exit_code"].is_null());
    CHECK(all[0]["params"]["lr"] == 0.5);
    CHECK(all[0]["tags"]["stage"] == "dev");
    CHECK(all[0]["metrics"]["loss"]["last"] == 0.5);
    CHECK(all[0]["metrics"]["loss"]["count"] == 1);
    CHECK(all[1]["status"] == "finished");

    // Filters see it too.
    auto running = repo.ok({"ls", "--filter", "status = 'running'", "--json"}).json();
    REQUIRE(running.size() == 1);
    CHECK(running[0]["id"] == id);
    CHECK(repo.ok({"ls", "--filter", "metrics.loss < 0.6 and params.lr > 0.2", "--json"})
              .json()
              .size() == 1);
    CHECK(repo.ok({"ls", "live", "--json"}).json().size() == 1);
    CHECK(contains(repo.ok({"ls"}).out, "running"));

    // show, metrics and diff are read-only views: they work on it.
    Result show = repo.ok({"show", "live"});
    CHECK(contains(show.out, "running"));
    CHECK(contains(show.out, "live-output"));
    auto shown = repo.ok({"show", "last", "--json"}).json();
    CHECK(shown["id"] == id);
    CHECK(shown["status"] == "running");
    CHECK(shown["end"].is_null());
    auto series = repo.ok({"metrics", "live", "loss", "--json"}).json();
    REQUIRE(series["points"].size() == 1);
    CHECK(series["points"][0]["value"] == 0.5);
    auto diff = repo.ok({"diff", "before", "live", "--json"}).json();
    CHECK(diff["b"] == id);
    CHECK(diff["metrics"][0]["new"] == 0.5);

    // What needs its record is refused, naming why; nothing changes.
    Result tag = repo.cairn({"tag", "live", "k=v"});
    CHECK(tag.code == 7);
    CHECK(contains(tag.err, "still running"));
    Result rm = repo.cairn({"rm", "live"});
    CHECK(rm.code == 7);
    CHECK(contains(rm.err, "still running"));

    // Nothing was written into the live run's staging directory.
    CHECK(snapshot(staging) == before);

    repo.write("go", "");
    CHECK(child->wait() == 0);
    auto after = repo.ok({"ls", "--json"}).json();
    REQUIRE(after.size() == 2);
    CHECK(after[0]["id"] == id);
    CHECK(after[0]["status"] == "finished");
    CHECK(after[0]["exit_code"] == 0);
    CHECK(repo.ok({"show", "live", "--json"}).json()["status"] == "finished");
}

TEST_CASE("ls -n 0 lists no run and a negative -n is a usage error", "[e2e][listing]") {
    Repo repo;
    for (const char* name : {"a", "b", "c"})
        repo.ok({"run", "-n", name, "--", "true"});
    CHECK(repo.ok({"ls", "-n", "0", "--json"}).json().empty());
    CHECK(repo.ok({"ls", "-n", "0"}).out.empty());
    CHECK(lines_of(repo.ok({"ls", "-n", "0", "--csv"}).out).size() == 1); // the header only
    CHECK(repo.ok({"ls", "-n", "2", "--json"}).json().size() == 2);
    CHECK(repo.ok({"ls", "--json"}).json().size() == 3);
    for (const char* n : {"-1", "-5"}) {
        Result r = repo.cairn({"ls", "-n", n});
        CHECK(r.code == 2);
        CHECK(contains(r.err, "--limit"));
        CHECK(r.out.empty());
    }
}

TEST_CASE("a filter that matches nothing says so, not that there are no runs", "[e2e][listing]") {
    Repo repo;
    CHECK(contains(repo.ok({"ls"}).out, "No runs recorded yet"));
    CHECK(contains(repo.ok({"ls", "--filter", "metrics.loss > 100"}).out, "No runs recorded yet"));
    repo.ok({"run", "--", "sh", "-c", "echo 'loss 0.5 0' >> \"$CAIRN_METRICS_FILE\""});
    Result none = repo.ok({"ls", "--filter", "metrics.loss > 100"});
    CHECK(contains(none.out, "No run matches the filter"));
    CHECK_FALSE(contains(none.out, "No runs recorded yet"));
    CHECK(repo.ok({"ls", "--filter", "metrics.loss > 100", "--json"}).json().empty());
}

TEST_CASE("a param and a metric with one key get qualified headers, headers are unique",
          "[e2e][listing]") {
    Repo repo;
    // A param `lr` and a metric `lr`; a metric `name` (also the run name's column); a param `seed`.
    for (const char* v : {"1", "2"})
        repo.ok({"run", "-n", std::string("r") + v, "-p", std::string("lr=0.") + v, "-p",
                 std::string("seed=") + v, "--", "sh", "-c",
                 std::string("echo 'lr 0.") + v + " 0' >> \"$CAIRN_METRICS_FILE\"; echo 'name " +
                     v + " 0' >> \"$CAIRN_METRICS_FILE\""});
    auto header = csv_header(repo.ok({"ls", "--csv"}).out);
    CHECK(header == std::vector<std::string>{"id", "name", "status", "start", "duration",
                                             "params.lr", "seed", "metrics.lr", "metrics.name"});
    CHECK(std::set<std::string>(header.begin(), header.end()).size() == header.size());
    CHECK(contains(lines_of(repo.ok({"ls"}).out).at(0), "params.lr"));

    // Fixed columns are not repeated; a field named twice is shown once.
    CHECK(csv_header(
              repo.ok({"ls", "--csv", "--columns", "status,params.seed,status,params.seed"}).out) ==
          std::vector<std::string>{"id", "name", "status", "start", "duration", "seed"});
    CHECK(csv_header(repo.ok({"ls", "--csv", "--columns", "metrics.name,params.lr"}).out) ==
          std::vector<std::string>{"id", "name", "status", "start", "duration", "metrics.name",
                                   "lr"});
}

TEST_CASE(
    "on a terminal the table fits its width and names what it left out, elsewhere it is whole",
    "[e2e][listing]") {
    Repo repo;
    for (int i = 0; i < 3; ++i) {
        std::string v = std::to_string(i);
        repo.ok({"run", "-n", "a-rather-long-run-name-" + v, "-p",
                 "optimizer.learning_rate=0.00" + v, "-p", "seed=" + v, "-p",
                 "model=resnet-with-a-long-name-" + v, "--", "sh", "-c",
                 "echo 'accuracy: 0." + v + "'; echo 'validation_loss: 1." + v + "'"});
    }
    auto env = repo.env();
    env["COLUMNS"] = "60";
    env["NO_COLOR"] = "1";
    // Not a terminal (a pipe): every column, whatever $COLUMNS says.
    Result piped = run_process({CAIRN_EXE, "ls"}, repo.root(), env);
    REQUIRE(piped.code == 0);
    std::size_t widest = 0;
    for (const auto& l : lines_of(piped.out))
        widest = std::max(widest, l.size());
    CHECK(widest > 60);
    CHECK(contains(piped.out, "validation_loss"));
    CHECK_FALSE(contains(piped.out, "left out"));

    // A terminal, through script(1)'s pseudo-terminal, whose size is set by $COLUMNS.
    if (run_process({"sh", "-c", "command -v script"}, repo.root(), env).code != 0) {
        WARN("script(1) is not installed: the terminal half of this test did not run");
        return;
    }
    Result tty = run_process({"script", "-qec", std::string(CAIRN_EXE) + " ls", "/dev/null"},
                             repo.root(), env);
    REQUIRE(tty.code == 0);
    auto lines = lines_of(tty.out);
    REQUIRE(lines.size() >= 5); // header, 3 runs, the note (wrapped)
    for (const auto& l : lines)
        CHECK(l.size() <= 60);
    CHECK(lines[0].rfind("id", 0) == 0);
    CHECK(contains(lines[0], "status"));
    CHECK(contains(lines[1], "a-rather-long")); // cut, not dropped
    std::string note;
    for (std::size_t i = 4; i < lines.size(); ++i)
        note += lines[i] + "\n";
    CHECK(contains(note, "left out"));
    // Every column not in the header is named in the note.
    for (const char* column :
         {"model", "optimizer.learning_rate", "seed", "accuracy", "validation_loss"})
        CHECK(contains(lines[0], column) != contains(note, column));
    CHECK_FALSE(contains(lines[0], "validation_loss"));
    // Wider: more columns fit, and all of them at 300.
    env["COLUMNS"] = "300";
    Result wide = run_process({"script", "-qec", std::string(CAIRN_EXE) + " ls", "/dev/null"},
                              repo.root(), env);
    REQUIRE(wide.code == 0);
    CHECK(lines_of(wide.out).size() == 4);
    CHECK(contains(wide.out, "validation_loss"));
    CHECK(contains(wide.out, "a-rather-long-run-name-2"));
}

TEST_CASE("show prints the command quoted for a POSIX shell, so that it can be pasted",
          "[e2e][listing]") {
    Repo repo;
    repo.ok(
        {"run", "--", "printf", "%s|", "a b", "it's", "", "x=1", "plain", "$HOME", "tab\there"});
    std::string command;
    for (const auto& l : lines_of(repo.ok({"show", "last"}).out))
        if (l.rfind("command:", 0) == 0) command = l.substr(l.find_first_not_of(' ', 8));
    CHECK(command == "printf '%s|' 'a b' 'it'\\''s' '' x=1 plain '$HOME' 'tab\there'");
    Result pasted = run_process({"sh", "-c", command}, repo.root(), repo.env());
    CHECK(pasted.out == "a b|it's||x=1|plain|$HOME|tab\there|");
}
