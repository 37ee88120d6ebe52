// cairn report's "Pipeline plots": DVC's plot definitions (x, y as columns, lists or mappings
// of files), and every problem with one shown as a note and a warning, never dropped silently.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {
std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}
std::string section(const std::string& html, const std::string& id) {
    auto at = html.find("<section id=\"" + id + "\"");
    return at == std::string::npos ? std::string() : html.substr(at, html.find("</section>", at) - at);
}
// The figure of the plot whose id (file or name) is `id`.
std::string plot_of(const std::string& html, const std::string& id) {
    auto at = html.find("<figure class=\"plot\" data-file=\"" + id + "\"");
    if (at == std::string::npos) return {};
    return html.substr(at, html.find("</figure>", at) - at);
}
} // namespace

TEST_CASE("report plots: y lists, x lists, mappings of files to columns, labels, title, scatter", "[e2e][report][plots]") {
    Repo repo;
    repo.write("dvc.yaml", "stages:\n"
                           "  train:\n    cmd: 'true'\n"
                           "    plots:\n      - curve.csv:\n          x: [epoch]\n          y: [loss, acc]\n"
                           "plots:\n"
                           "  - roc.json:\n      x: fpr\n      y: tpr\n      template: scatter\n"
                           "  - Loss by split:\n"
                           "      x: {train.csv: epoch, test.csv: epoch}\n"
                           "      y: {train.csv: loss, test.csv: loss}\n"
                           "      y_label: the loss\n      x_label: the epoch\n"
                           "  - Train curves:\n"
                           "      x: {train.csv: epoch}\n"
                           "      y:\n        train.csv: [loss, acc]\n"
                           "      title: Both on train\n");
    repo.write("curve.csv", "epoch,loss,acc\n10,0.9,0.1\n20,0.5,0.4\n30,0.2,0.8\n");
    repo.write("train.csv", "epoch,loss,acc\n1,0.8,0.2\n2,0.4,0.6\n3,0.3,0.7\n");
    repo.write("test.csv", "epoch,loss,acc\n1,0.9,0.1\n2,0.6,0.5\n3,0.5,0.6\n");
    repo.write("roc.json", "{\"roc\": [{\"fpr\": 0, \"tpr\": 0}, {\"fpr\": 0.5, \"tpr\": 0.8}, {\"fpr\": 1, \"tpr\": 1}]}");
    repo.commit("pipeline");
    repo.ok({"run", "--", "true"}); // a report needs a run; this one logs no metric
    Result r = repo.ok({"report", "-o", "report.html", "--json"});
    INFO(r.err);
    CHECK(!contains(r.err, "warning"));
    std::string html = repo.read("report.html");
    std::string plots = section(html, "plots");
    CHECK(!contains(plots, "class=\"note\""));

    // A stage's y list draws each column; x given as a one-item list is the x column.
    std::string curve = plot_of(html, "curve.csv");
    CHECK(count(curve, "<path class=\"series\"") == 2);
    CHECK(contains(curve, ">loss</text>"));
    CHECK(contains(curve, ">acc</text>"));
    CHECK(contains(curve, ">epoch</text>")); // the x label: the x column
    CHECK(contains(curve, ">30</text>"));    // ticks of the epochs, not of the rows 0..2

    // A JSON file's records (DVC's sklearn format), drawn as dots.
    std::string roc = plot_of(html, "roc.json");
    CHECK(count(roc, "<path class=\"series\"") == 1);
    CHECK(count(roc, "h0") == 3);
    CHECK(contains(roc, ">fpr</text>"));

    // y a mapping of files: the id names the plot; one series a file, x per file.
    std::string split = plot_of(html, "Loss by split");
    CHECK(count(split, "<path class=\"series\"") == 2);
    CHECK(contains(split, ">train.csv</text>"));
    CHECK(contains(split, ">test.csv</text>"));
    CHECK(contains(split, ">the loss</text>"));
    CHECK(contains(split, ">the epoch</text>"));
    CHECK(contains(split, ">Loss by split</text>"));

    std::string both = plot_of(html, "Train curves");
    CHECK(count(both, "<path class=\"series\"") == 2);
    CHECK(contains(both, ">Both on train</text>"));
    CHECK(contains(both, ">loss</text>"));
    CHECK(contains(both, ">acc</text>"));
    CHECK(r.json()["charts"] == 4); // the run logged no metric: the 4 plots alone

    // A stage's plot cannot map other files, and a column must be a name.
    repo.write("dvc.yaml", "stages:\n  train:\n    cmd: 'true'\n    plots:\n      - curve.csv:\n          y: {a.csv: loss}\n");
    Result bad = repo.ok({"report", "-o", "bad.html"});
    CHECK(contains(bad.err, "a mapping of files is for the top-level plots"));
    repo.write("dvc.yaml", "plots:\n  - curve.csv:\n      y: [[loss]]\n");
    Result nested = repo.ok({"report", "-o", "bad.html"});
    CHECK(contains(nested.err, "expected a column name, got a"));
}
