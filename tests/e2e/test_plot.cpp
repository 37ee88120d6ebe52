// cairn plot: braille charts of real runs, run selection, errors, --json and --svg.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {
// A run named `name` logging loss (steps 0..n-1, falling from `start`) and, with acc, acc.
void make_run(const Repo& repo, const std::string& name, double lr, int n, bool acc = true) {
    std::string script = "i=0; while [ $i -lt " + std::to_string(n) + " ]; do "
                         "echo \"loss $(awk \"BEGIN{print 1/($i+1)*" + std::to_string(lr * 10) + "}\") $i\" >> \"$CAIRN_METRICS_FILE\"; " +
                         (acc ? std::string("echo \"acc 0.$i $i\" >> \"$CAIRN_METRICS_FILE\"; ") : std::string()) +
                         "i=$((i+1)); done";
    repo.ok({"run", "-n", name, "-p", "lr=" + std::to_string(lr), "--", "sh", "-c", script});
}
std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}
} // namespace

TEST_CASE("plot draws runs as braille lines with a legend, axis and title", "[e2e][plot]") {
    Repo repo;
    make_run(repo, "slow", 0.1, 8);
    make_run(repo, "fast", 0.3, 8);
    Result r = repo.ok({"plot", "slow", "fast", "-m", "loss", "--width", "40", "--height", "8"});
    INFO(r.out);
    CHECK(r.out.rfind("loss\n", 0) == 0);
    CHECK(contains(r.out, "* slow")); // not a terminal: marker symbols, no colour
    CHECK(contains(r.out, "+ fast"));
    CHECK(!contains(r.out, "\x1b["));
    CHECK(contains(r.out, "step"));
    CHECK(contains(r.out, "\u2514"));
    CHECK(contains(r.out, "\xe2\xa0")); // braille cells (U+2800..U+283F start with e2 a0)

    // Two metrics: two charts. --filter chooses runs as ls does.
    Result two = repo.ok({"plot", "--filter", "params.lr > 0.2", "-m", "loss", "-m", "acc", "--width", "30"});
    CHECK(count(two.out, "fast") == 2);
    CHECK(!contains(two.out, "slow"));
    CHECK(contains(two.out, "\nacc\n"));
}

TEST_CASE("plot --json prints the downsampled series, --svg writes a file", "[e2e][plot]") {
    Repo repo;
    make_run(repo, "a", 0.1, 5);
    make_run(repo, "b", 0.2, 5);
    auto j = repo.ok({"plot", "-m", "loss", "--json", "--smooth", "2"}).json();
    REQUIRE(j.size() == 1);
    CHECK(j[0]["metric"] == "loss");
    REQUIRE(j[0]["series"].size() == 2);
    CHECK(j[0]["series"][0]["points"] == 5);
    CHECK(j[0]["series"][0]["data"].size() == 5);
    CHECK(j[0]["smooth"] == 2);

    Result svg = repo.ok({"plot", "a", "b", "-m", "loss", "--svg", "loss.svg"});
    std::string text = repo.read("loss.svg");
    CHECK(text.rfind("<?xml", 0) == 0);
    CHECK(count(text, "<path class=\"series\"") == 2);
    CHECK(contains(text, ">a</text>"));
    CHECK(contains(svg.err, "wrote"));
    CHECK(!contains(svg.out, "<svg"));

    CHECK(repo.cairn({"plot", "a", "-m", "loss", "--svg", "x.svg", "--json"}).code == 2);
    auto t = repo.ok({"plot", "a", "-m", "loss", "--x", "time", "--json"}).json();
    CHECK(t[0]["x"] == "time");
    CHECK(t[0]["series"][0]["data"][0][0].get<double>() >= 0); // seconds since the run started
    repo.ok({"plot", "a", "-m", "loss", "-m", "acc", "--svg", "both.svg"});
    CHECK(count(repo.read("both.svg"), "<path class=\"series\"") == 2);
}

TEST_CASE("plot errors: unknown run, missing metric, runs without the key skipped, log scale notes", "[e2e][plot]") {
    Repo repo;
    Result none = repo.cairn({"plot", "-m", "loss"});
    CHECK(none.code == 3);
    CHECK(contains(none.err, "no runs recorded yet"));
    make_run(repo, "with", 0.1, 4);
    make_run(repo, "without", 0.1, 4, false);
    repo.ok({"run", "-n", "nothing", "--", "true"});

    Result unknown = repo.cairn({"plot", "nosuchrun", "-m", "loss"});
    CHECK(unknown.code == 3);
    CHECK(contains(unknown.err, "nosuchrun"));

    Result missing = repo.cairn({"plot", "nothing", "-m", "loss"});
    CHECK(missing.code == 3);
    CHECK(contains(missing.err, "has no metric 'loss'"));
    CHECK(count(missing.err, "\n") == 1);

    Result skipped = repo.ok({"plot", "with", "without", "-m", "acc"});
    CHECK(contains(skipped.err, "warning: metric 'acc': skipping 1 run without it: without"));
    CHECK(contains(skipped.out, "with"));

    Result all_missing = repo.cairn({"plot", "without", "nothing", "-m", "acc"});
    CHECK(all_missing.code == 3);
    CHECK(contains(all_missing.err, "none of the 2 runs has metric 'acc'"));

    Result log = repo.ok({"plot", "with", "-m", "acc", "--log-y"}); // acc 0.0 at step 0
    CHECK(contains(log.err, "1 value <= 0 left out of the log scale"));
    CHECK(contains(log.out, "acc (log scale)"));

    Result filtered = repo.cairn({"plot", "--filter", "params.lr > 5", "-m", "loss"});
    CHECK(filtered.code == 3);
    CHECK(contains(filtered.err, "no run matches"));
    CHECK(repo.cairn({"plot", "with"}).code == 2); // -m is required
}

TEST_CASE("plot on a terminal: one ANSI colour per run, none with NO_COLOR", "[e2e][plot]") {
    Repo repo;
    make_run(repo, "a", 0.1, 6);
    make_run(repo, "b", 0.3, 6);
    auto env = repo.env();
    if (run_process({"sh", "-c", "command -v script"}, repo.root(), env).code != 0) {
        WARN("skipped: script(1) is not installed, so no terminal to plot on");
        return;
    }
    env.erase("NO_COLOR");
    env["TERM"] = "xterm";
    env["COLUMNS"] = "60";
    const std::string cmd = std::string(CAIRN_EXE) + " plot a b -m loss --height 6";
    Result tty = run_process({"script", "-qec", cmd, "/dev/null"}, repo.root(), env);
    REQUIRE(tty.code == 0);
    CHECK(contains(tty.out, "\x1b[34m")); // the first run's colour
    CHECK(contains(tty.out, "\x1b[31m")); // the second's
    CHECK(!contains(tty.out, "* a"));     // colours, not marker symbols
    env["NO_COLOR"] = "1";
    Result plain = run_process({"script", "-qec", cmd, "/dev/null"}, repo.root(), env);
    REQUIRE(plain.code == 0);
    CHECK(!contains(plain.out, "\x1b[3"));
    CHECK(contains(plain.out, "* a"));
}

TEST_CASE("plot: -m takes one key, a key given twice is one chart, --smooth must not be negative", "[e2e][plot]") {
    Repo repo;
    make_run(repo, "slow", 0.1, 8);
    make_run(repo, "fast", 0.3, 8);
    // The word after -m KEY is a run, not a second metric.
    Result r = repo.ok({"plot", "-m", "loss", "fast", "--width", "30"});
    CHECK(contains(r.out, "fast"));
    CHECK_FALSE(contains(r.out, "slow"));
    Result twice = repo.ok({"plot", "fast", "-m", "loss", "-m", "loss", "--json"});
    auto j = twice.json();
    REQUIRE(j.size() == 1);
    CHECK(j[0]["metric"] == "loss");
    CHECK(j[0]["series"].size() == 1);
    Result negative = repo.cairn({"plot", "fast", "-m", "loss", "--smooth", "-1"});
    CHECK(negative.code == 2);
}

TEST_CASE("plot: a run keeps its marker in every chart (its place in the selection), a lone run shows its marker", "[e2e][plot]") {
    Repo repo;
    make_run(repo, "a", 0.1, 6, false); // no acc
    make_run(repo, "b", 0.2, 6);
    make_run(repo, "c", 0.3, 6);
    Result r = repo.ok({"plot", "a", "b", "c", "-m", "loss", "-m", "acc", "--width", "40"});
    INFO(r.out);
    auto at = r.out.find("\nacc\n");
    REQUIRE(at != std::string::npos);
    std::string loss = r.out.substr(0, at), acc = r.out.substr(at);
    CHECK(contains(loss, "* a   + b   o c"));
    CHECK(contains(acc, "+ b   o c")); // not "* b   + c": b and c keep their markers without a
    CHECK(!contains(acc, "* b"));
    CHECK(count(acc, "o") >= 2); // c's marker on its line, not only in the legend
    Result one = repo.ok({"plot", "b", "-m", "loss", "--width", "40"});
    CHECK(contains(one.out, "* b"));
    CHECK(count(one.out, "*") >= 2); // the line carries the marker the legend shows
}

TEST_CASE("plot and report: output paths, option values and nan/inf values give plain messages", "[e2e][plot]") {
    Repo repo;
    make_run(repo, "a", 0.1, 4);
    repo.ok({"run", "-n", "odd", "--", "sh", "-c", "for v in 1 nan 0.5 inf 0.2; do echo \"loss $v\" >> \"$CAIRN_METRICS_FILE\"; done"});
    stdfs::create_directories(repo.path("out"));
    for (const std::vector<std::string>& args : {std::vector<std::string>{"plot", "a", "-m", "loss", "--svg", ""},
                                                 std::vector<std::string>{"report", "-o", ""}}) {
        Result r = repo.cairn(args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(contains(r.err, "needs a file name"));
        CHECK(r.out.empty()); // no chart drawn in the terminal instead
    }
    for (const std::vector<std::string>& args : {std::vector<std::string>{"plot", "a", "-m", "loss", "--svg", "out"},
                                                 std::vector<std::string>{"report", "-o", "out"}}) {
        Result r = repo.cairn(args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(contains(r.err, "out: is a directory"));
        CHECK(!contains(r.err, "tmp"));
    }
    Result nodir = repo.cairn({"report", "-o", "nosuch/r.html"});
    CHECK(nodir.code == 5);
    CHECK(contains(nodir.err, "the directory nosuch does not exist"));
    // Option values: cairn's words, not CLI11's.
    auto usage = [&](std::vector<std::string> extra, const std::string& words) {
        std::vector<std::string> args = {"plot", "a", "-m", "loss"};
        args.insert(args.end(), extra.begin(), extra.end());
        Result r = repo.cairn(args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(contains(r.err, "cairn: error: " + words));
    };
    usage({"--width", "1.5"}, "--width: '1.5': must be a whole number from 1 to 4000");
    usage({"--height", "0"}, "--height: '0': must be a whole number from 1 to 4000");
    usage({"--smooth", "99999999999999999999999"}, "--smooth: '99999999999999999999999': must be a whole number");
    usage({"--x", "epoch"}, "--x: expected step or time, not 'epoch'");
    usage({"--sort"}, "--sort: needs a value");
    // nan and inf are left out with a warning, and not counted as points.
    Result odd = repo.ok({"plot", "odd", "-m", "loss", "--json"});
    CHECK(contains(odd.err, "cairn: warning: metric 'loss': 2 nan or inf values left out: odd (2)"));
    auto j = odd.json();
    CHECK(j[0]["series"][0]["points"] == 3);
    CHECK(j[0]["series"][0]["non_finite"] == 2);
    // The report writes a range as "A to B": "-1.5 to -0.9", not "-1.5–-0.9".
    repo.ok({"run", "-n", "neg", "--", "sh", "-c", "echo 'loss -1.5' >> \"$CAIRN_METRICS_FILE\"; echo 'loss -0.9' >> \"$CAIRN_METRICS_FILE\""});
    repo.ok({"report", "neg", "-o", "neg.html"});
    CHECK(contains(repo.read("neg.html"), "<small> -1.5 to -0.9</small>"));
}
