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

TEST_CASE("report plots: a bad x, a missing y, a file that does not parse, nan values, a file given twice: notes and warnings",
          "[e2e][report][plots]") {
    Repo repo;
    repo.write("dvc.yaml", "stages:\n"
                           "  train:\n    cmd: 'true'\n"
                           "    plots:\n      - curve.csv:\n          x: epoch\n          y: loss\n"
                           "plots:\n"
                           "  - curve.csv:\n      title: The curve\n"
                           "  - badx.csv:\n      x: epochs\n      y: loss\n"
                           "  - missing.csv:\n      y: [loss, nosuch]\n"
                           "  - broken.json\n"
                           "  - ragged.csv\n"
                           "  - nan.csv:\n      x: epoch\n"
                           "  - cm.json:\n      template: confusion\n");
    repo.write("curve.csv", "epoch,loss\n1,0.9\n2,0.5\n3,0.2\n");
    repo.write("badx.csv", "epoch,loss\n1,0.9\n2,0.5\n");
    repo.write("missing.csv", "epoch,loss\n1,0.9\n2,0.5\n");
    repo.write("broken.json", "{\"roc\": [{\"fpr\": 0,");
    repo.write("ragged.csv", "a,b\n1,2\n3\n");
    repo.write("nan.csv", "epoch,loss\n1,0.9\n2,nan\n3,inf\n4,0.1\n");
    repo.write("cm.json", "[{\"actual\": \"a\", \"predicted\": \"b\"}]");
    repo.commit("pipeline");
    repo.ok({"run", "--", "true"});
    Result r = repo.ok({"report", "-o", "report.html", "--json"});
    std::string html = repo.read("report.html");
    std::string plots = section(html, "plots");
    INFO(r.err);
    INFO(plots);
    auto noted = [&](const std::string& id, const std::string& what) {
        INFO(id << ": " << what);
        CHECK(contains(r.err, "cairn: warning: plot " + id + ": " + what));
        std::string escaped;
        for (char c : what) escaped += c == '\'' ? std::string("&#39;") : std::string(1, c);
        CHECK(contains(plots, "<p class=\"note\">plot <b>" + id + "</b>: " + escaped));
    };
    // Given twice: drawn once, the top-level title over the stage's x and y, and said so.
    CHECK(count(plots, "data-file=\"curve.csv\"") == 1);
    CHECK(contains(plot_of(html, "curve.csv"), ">The curve</text>"));
    CHECK(contains(plot_of(html, "curve.csv"), ">epoch</text>"));
    noted("curve.csv", "in the top-level plots of dvc.yaml and in stage 'train' of dvc.yaml: drawn once");
    // A bad x: drawn against the row number, with a note.
    noted("badx.csv", "x column 'epochs' is not in badx.csv (its columns: epoch, loss); loss drawn against the row number");
    CHECK(count(plot_of(html, "badx.csv"), "<path class=\"series\"") == 1);
    CHECK(contains(plot_of(html, "badx.csv"), ">row</text>"));
    // A y the file lacks: the others drawn.
    noted("missing.csv", "y column 'nosuch' is not in missing.csv (its columns: epoch, loss)");
    CHECK(count(plot_of(html, "missing.csv"), "<path class=\"series\"") == 1);
    // Files that do not parse: left out, with the parser's words.
    noted("broken.json", "broken.json:");
    CHECK(plot_of(html, "broken.json").empty());
    noted("ragged.csv", "ragged.csv:3:");
    CHECK(plot_of(html, "ragged.csv").empty());
    // nan and inf are left out, counted.
    noted("nan.csv", "2 points with nan or inf left out");
    CHECK(count(plot_of(html, "nan.csv"), "<path class=\"series\"") == 1);
    noted("cm.json", "template 'confusion' is not drawn by cairn report");
    auto j = r.json();
    CHECK(j["charts"] == 4); // curve, badx, missing, nan
    CHECK(j["notes"].size() == 7);
}
