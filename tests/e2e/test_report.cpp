// cairn report: one self-contained HTML page, checked as text and in headless Chromium.
#include <cstdlib>
#include <map>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {
std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}
// A run `name` with param lr and three loss points ending at `last` (and acc for all but "c").
std::string make_run(const Repo& repo, const std::string& name, const std::string& lr, const std::string& last, bool acc = true) {
    std::string script = "echo 'loss 1.0 0' >> \"$CAIRN_METRICS_FILE\"; echo 'loss 0.7 1' >> \"$CAIRN_METRICS_FILE\"; "
                         "echo 'loss " + last + " 2' >> \"$CAIRN_METRICS_FILE\";" +
                         (acc ? std::string(" echo 'acc 0.5 2' >> \"$CAIRN_METRICS_FILE\";") : std::string());
    auto j = repo.ok({"run", "-n", name, "-p", "lr=" + lr, "-p", "model=mlp", "--json", "--", "sh", "-c", script}).json();
    return j["id"];
}
// The run ids of the table rows, in page order.
std::vector<std::string> row_order(const std::string& html) {
    std::vector<std::string> out;
    const std::string tag = "<tr data-run=\"";
    for (auto at = html.find(tag); at != std::string::npos; at = html.find(tag, at + 1))
        out.push_back(html.substr(at + tag.size(), 32));
    return out;
}
// The text of the chart figures for metric `key`.
std::string figure_of(const std::string& html, const std::string& key) {
    auto at = html.find("<figure class=\"chart\" data-metric=\"" + key + "\"");
    if (at == std::string::npos) return {};
    return html.substr(at, html.find("</figure>", at) - at);
}
std::string chromium() {
    for (const char* dir : {"/usr/bin/", "/usr/local/bin/"})
        for (const char* name : {"chromium", "chromium-browser"})
            if (access((std::string(dir) + name).c_str(), X_OK) == 0) return std::string(dir) + name;
    return {};
}
} // namespace

TEST_CASE("report writes one self-contained page: table, charts, parallel coordinates, sections", "[e2e][report]") {
    Repo repo;
    std::string a = make_run(repo, "a", "0.1", "0.3");
    std::string b = make_run(repo, "b", "0.3", "0.9");
    std::string c = make_run(repo, "c", "0.2", "0.5", false);
    Result r = repo.ok({"report", "-o", "report.html", "--title", "lr <sweep>", "--json"});
    auto j = r.json();
    CHECK(j["runs"] == 3);
    CHECK(j["charts"] == 2);
    std::string html = repo.read("report.html");
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(contains(html, "<title>lr &lt;sweep&gt;</title>"));
    CHECK(!contains(html, "http://"));
    CHECK(!contains(html, "https://"));
    CHECK(!contains(html, " src=")); // nothing to load
    CHECK(row_order(html) == std::vector<std::string>{c, b, a}); // newest first, as ls lists
    // Only the params that change get a column: lr, not model.
    CHECK(contains(html, "data-key=\"params.lr\""));
    CHECK(!contains(html, "data-key=\"params.model\""));
    CHECK(contains(html, "data-key=\"metrics.loss\""));
    CHECK(count(figure_of(html, "loss"), "<path class=\"series\"") == 3);
    CHECK(count(figure_of(html, "acc"), "<path class=\"series\"") == 2);
    CHECK(count(html, "<path class=\"pc\"") == 3); // parallel coordinates: params -> loss (the metric most runs have)
    repo.ok({"report", "-o", "acc.html", "--metric", "acc"});
    CHECK(count(repo.read("acc.html"), "<path class=\"pc\"") == 2); // c has no acc
    for (const char* id : {"runs", "charts", "parallel", "pipelines", "plots", "lineage", "reruns", "registry", "drift"})
        CHECK(contains(html, std::string("<section id=\"") + id + "\""));

    // Selection as ls: --filter, --sort, -n; an explicit list of runs.
    repo.ok({"report", "--filter", "params.lr >= 0.2", "--sort", "metrics.loss", "-o", "two.html"});
    std::string two = repo.read("two.html");
    CHECK(row_order(two) == std::vector<std::string>{c, b});
    repo.ok({"report", "a", "-o", "one.html", "-n", "1"});
    CHECK(row_order(repo.read("one.html")) == std::vector<std::string>{a});
    Result none = repo.cairn({"report", "--filter", "params.lr > 5", "-o", "none.html"});
    CHECK(none.code == 3);
    CHECK(!repo.exists("none.html"));
    CHECK(repo.cairn({"report", "a"}).code == 2); // -o is required
    CHECK(repo.cairn({"report", "-o", "x.html", "--metric", "nosuch"}).code == 3);

    // The cut series are cached per run commit; gc drops those of removed runs.
    auto cached = [&] {
        std::size_t n = 0;
        for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/state/series"))) n += e.is_regular_file();
        return n;
    };
    std::size_t before = cached();
    CHECK(before >= 3);
    repo.ok({"report", "-o", "again.html"});
    CHECK(row_order(repo.read("again.html")) == row_order(html));
    CHECK(count(figure_of(repo.read("again.html"), "loss"), "<path class=\"series\"") == 3);
    repo.ok({"rm", "a"});
    repo.ok({"gc"});
    CHECK(cached() < before);
}

TEST_CASE("report draws the pipeline DAG, its plots, a run's lineage, reruns, models and drift", "[e2e][report]") {
    Repo repo;
    repo.write("dvc.yaml", "stages:\n"
                           "  prepare:\n    cmd: cp raw.txt prepared.txt\n    deps: [raw.txt]\n    outs: [prepared.txt]\n"
                           "  train:\n    cmd: cp prepared.txt model.bin\n    deps: [prepared.txt]\n    outs: [model.bin]\n"
                           "    plots:\n      - curve.csv:\n          x: epoch\n          y: loss\n          title: Training curve\n"
                           "plots:\n  - curve.csv\n");
    repo.write("curve.csv", "epoch,loss\n1,0.9\n2,0.5\n3,0.2\n");
    repo.write("ref.csv", "x,kind\n1,a\n2,a\n3,b\n4,b\n5,a\n6,b\n7,a\n8,b\n9,a\n10,b\n");
    repo.write("cur.csv", "x,kind\n101,a\n102,a\n103,a\n104,a\n105,a\n106,a\n107,a\n108,a\n109,a\n110,a\n");
    repo.commit("pipeline");
    repo.write("raw.txt", "raw\n");
    repo.ok({"add", "raw.txt"});
    repo.commit("track raw");
    std::string prep = repo.ok({"run", "-n", "prep", "-d", "raw.txt", "-o", "prepared.txt", "--json", "--", "sh", "-c",
                                "cp raw.txt prepared.txt; echo 'loss 0.4' >> \"$CAIRN_METRICS_FILE\""})
                           .json()["id"];
    repo.ok({"run", "-n", "train", "-d", "prepared.txt", "-o", "model.bin", "--", "sh", "-c",
             "cp prepared.txt model.bin; echo 'loss 0.2' >> \"$CAIRN_METRICS_FILE\""});
    repo.ok({"model", "register", "clf", "train:model.bin"});
    Result rerun = repo.cairn({"rerun", "prep"});
    INFO(rerun.err);
    repo.ok({"report", "-o", "report.html", "--lineage", "train", "--drift", "cur.csv", "--against", "ref.csv"});
    std::string html = repo.read("report.html");
    auto section = [&](const std::string& id) {
        auto at = html.find("<section id=\"" + id + "\"");
        return at == std::string::npos ? std::string() : html.substr(at, html.find("</section>", at) - at);
    };
    std::string dag = section("pipelines");
    CHECK(contains(dag, "dvc.yaml (2 stages)"));
    CHECK(count(dag, "<g class=\"node stage\">") == 2);
    CHECK(count(dag, "class=\"edge\"") == 1);
    std::string plots = section("plots");
    CHECK(contains(plots, "Training curve"));
    CHECK(count(plots, "<path class=\"series\"") == 1);
    std::string lineage = section("lineage");
    CHECK(contains(lineage, "<g class=\"node run\"><title>run " + prep));
    CHECK(contains(lineage, ">prepared.txt</text>"));
    std::string registry = section("registry");
    CHECK(contains(registry, "<td>clf</td><td>v1</td>"));
    if (rerun.code == 0) {
        CHECK(contains(section("reruns"), "reproduced"));
    } else {
        WARN("cairn rerun prep failed here, the re-run section was not checked: " << rerun.err);
    }
    std::string drift = section("drift");
    CHECK(contains(drift, "dataset drift"));
    CHECK(count(drift, "<svg class=\"hist\"") == 2);

    // --against (and --drift) name tables as `cairn drift` does: RUN:PATH, model:NAME@ALIAS.
    repo.write("train.csv", repo.read("ref.csv"));
    repo.ok({"add", "train.csv"});
    repo.ok({"run", "-n", "fit", "-d", "train.csv", "-o", "m.bin", "--", "sh", "-c", "echo m > m.bin"});
    repo.ok({"model", "register", "churn", "fit:m.bin", "--alias", "prod"});
    for (const std::string against : {"fit:train.csv", "model:churn@prod"}) {
        INFO(against);
        repo.ok({"report", "fit", "-o", "drift.html", "--drift", "cur.csv", "--against", against});
        std::string page = repo.read("drift.html");
        auto at = page.find("<section id=\"drift\"");
        std::string d = page.substr(at, page.find("</section>", at) - at);
        CHECK(contains(d, "dataset drift"));
        CHECK(contains(d, against));
        CHECK(count(d, "<svg class=\"hist\"") == 2);
    }
    repo.ok({"report", "fit", "-o", "same.html", "--drift", "fit:train.csv", "--against", "model:churn@prod"});
    CHECK(contains(repo.read("same.html"), "no dataset drift"));
    CHECK(repo.cairn({"report", "fit", "-o", "bad.html", "--drift", "cur.csv", "--against", "fit:nosuch.csv"}).code == 3);
    CHECK(!contains(html, "http://"));
    CHECK(!contains(html, "https://"));
}

TEST_CASE("report in headless Chromium: rows, one path per run, sorting by the URL fragment, no script error, a screenshot",
          "[e2e][report][browser]") {
    std::string browser = chromium();
    if (browser.empty()) {
        WARN("skipped: chromium is not installed (scripts/install-deps.sh installs Debian's chromium)");
        return;
    }
    Repo repo;
    std::string a = make_run(repo, "a", "0.1", "0.3");
    std::string b = make_run(repo, "b", "0.3", "0.9");
    std::string c = make_run(repo, "c", "0.2", "0.5");
    repo.ok({"report", "-o", "report.html"});
    std::string url = "file://" + repo.path("report.html").string();
    auto env = repo.env();
    std::vector<std::string> base = {browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--no-first-run", "--user-data-dir=" + repo.path(".chromium").string()};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> argv = base;
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    };
    Result dom = run_process(with({"--dump-dom", url + "#sort=-metrics.loss"}), repo.root(), env);
    INFO(dom.err.substr(0, 2000));
    REQUIRE(dom.code == 0);
    CHECK(contains(dom.out, "data-js=\"ok\"")); // the script ran to its end
    CHECK(contains(dom.out, "<pre id=\"js-errors\" hidden=\"\"></pre>")); // and window.onerror saw nothing
    CHECK(contains(dom.out, "data-sorted=\"-metrics.loss\""));
    CHECK(row_order(dom.out) == std::vector<std::string>{b, c, a}); // by loss, highest first (the page lists c, b, a)
    CHECK(count(figure_of(dom.out, "loss"), "<path class=\"series\"") == 3);
    CHECK(count(figure_of(dom.out, "acc"), "<path class=\"series\"") == 3);

    Result asc = run_process(with({"--dump-dom", url + "#sort=params.lr"}), repo.root(), env);
    CHECK(row_order(asc.out) == std::vector<std::string>{a, c, b});
    Result filtered = run_process(with({"--dump-dom", url + "#filter=0.9"}), repo.root(), env);
    CHECK(count(filtered.out, "<tr data-run=\"" + b + "\">") == 1);
    CHECK(count(filtered.out, "hidden=\"\"><td>") == 2); // a and c are hidden

    std::string shot = repo.path("report.png").string();
    Result png = run_process(with({"--screenshot=" + shot, "--window-size=1280,900", "--hide-scrollbars", url}), repo.root(), env);
    INFO(png.err.substr(0, 2000));
    REQUIRE(repo.exists("report.png"));
    std::string bytes = repo.read("report.png");
    CHECK(bytes.size() > 1000);
    CHECK(bytes.substr(1, 3) == "PNG");
}

TEST_CASE("the recorder cuts the chart series and report reads them without any metrics.tsv", "[e2e][report]") {
    Repo repo;
    std::string a = make_run(repo, "a", "0.1", "0.3");
    std::string b = make_run(repo, "b", "0.3", "0.9", false);
    auto rev = [&](const std::string& what) {
        std::string out = git_out(repo, {"rev-parse", what});
        return out.substr(0, out.find_first_of(" \n"));
    };
    auto commit_of = [&](const std::string& id) { return rev("refs/cairn/runs/" + id); };
    // Right after `cairn run`: the run's series, cut for each column count a report uses.
    for (const auto& id : {a, b})
        for (const char* columns : {"32", "150", "600"}) {
            std::string file = ".cairn/state/series/" + commit_of(id) + "." + columns;
            REQUIRE(repo.exists(file));
            CHECK(repo.read(file).rfind("cairn-series 1\n", 0) == 0);
            CHECK(contains(repo.read(file), "\nloss\t"));
        }
    CHECK(contains(repo.read(".cairn/state/series/" + commit_of(a) + ".32"), "\nacc\t"));
    CHECK(!contains(repo.read(".cairn/state/series/" + commit_of(b) + ".32"), "\nacc\t"));

    // A tag rewrites the run's commit (same metrics.tsv): the series follow it.
    repo.ok({"tag", "a", "best=yes"});
    for (const char* columns : {"32", "150", "600"})
        CHECK(repo.exists(".cairn/state/series/" + commit_of(a) + "." + columns));

    // The run index (`cairn ls`) is built from the records once; a run recorded after that is
    // added to it by the recorder (so no listing reads its metrics.tsv either).
    repo.ok({"ls"});
    std::string c = make_run(repo, "c", "0.2", "0.5", false);
    // The report needs no metrics.tsv: with both blobs gone from the object store it still
    // draws every series, the same as one whose cache the report cut itself.
    std::map<std::string, std::string> blobs; // object file -> its bytes
    for (const auto& id : {a, b, c}) {
        std::string oid = rev("refs/cairn/runs/" + id + ":metrics.tsv");
        std::string file = ".git/objects/" + oid.substr(0, 2) + "/" + oid.substr(2);
        REQUIRE(repo.exists(file));
        blobs[file] = repo.read(file);
        stdfs::remove(repo.path(file));
    }
    CHECK(repo.git({"cat-file", "-e", "refs/cairn/runs/" + a + ":metrics.tsv"}).code != 0);
    auto listed = repo.ok({"ls", "--json"}).json();
    REQUIRE(listed.size() == 3);
    CHECK(listed[0]["id"] == c);
    CHECK(listed[0]["metrics"]["loss"]["last"] == 0.5);
    repo.ok({"report", "-o", "cached.html"});
    std::string cached = repo.read("cached.html");
    CHECK(count(figure_of(cached, "loss"), "<path class=\"series\"") == 3);
    CHECK(count(figure_of(cached, "acc"), "<path class=\"series\"") == 1);
    for (const auto& [file, bytes] : blobs) repo.write(file, bytes);
    stdfs::remove_all(repo.path(".cairn/state/series"));
    repo.ok({"report", "-o", "cut.html"});
    std::string cut = repo.read("cut.html");
    CHECK(figure_of(cut, "loss") == figure_of(cached, "loss"));
    CHECK(figure_of(cut, "acc") == figure_of(cached, "acc"));
    CHECK(repo.exists(".cairn/state/series/" + commit_of(a) + ".600")); // the report cut it again (2 runs: 600 columns)

    // The hidden `fill-series-cache` (bench/report.sh) fills them as the recorder does.
    stdfs::remove_all(repo.path(".cairn/state/series"));
    auto j = repo.ok({"fill-series-cache", "--json"}).json();
    CHECK(j["filled"] == 3);
    CHECK(j["failed"] == 0);
    for (const auto& id : {a, b, c})
        for (const char* columns : {"32", "150", "600"}) CHECK(repo.exists(".cairn/state/series/" + commit_of(id) + "." + columns));
    CHECK(repo.ok({"fill-series-cache", "--json"}).json()["filled"] == 0);
    repo.ok({"report", "-o", "filled.html"});
    CHECK(figure_of(repo.read("filled.html"), "loss") == figure_of(cached, "loss"));
}

TEST_CASE("report: a run has one colour in every chart, its place in the table", "[e2e][report]") {
    Repo repo;
    std::string a = make_run(repo, "a", "0.1", "0.3");
    std::string b = make_run(repo, "b", "0.3", "0.9", false); // no acc
    std::string c = make_run(repo, "c", "0.2", "0.5");
    repo.ok({"report", "-o", "report.html"});
    std::string html = repo.read("report.html");
    REQUIRE(row_order(html) == std::vector<std::string>{c, b, a});
    // The table's order gives the colours: c #1f77b4, b #d62728, a #2ca02c, in both charts.
    for (const char* key : {"loss", "acc"}) {
        INFO(key);
        CHECK(contains(figure_of(html, key), "stroke=\"#1f77b4\" data-run=\"" + c + "\""));
        CHECK(contains(figure_of(html, key), "stroke=\"#2ca02c\" data-run=\"" + a + "\""));
    }
    CHECK(contains(figure_of(html, "loss"), "stroke=\"#d62728\" data-run=\"" + b + "\""));
    CHECK(!contains(figure_of(html, "acc"), "#d62728")); // b's colour is not given to another run
}
