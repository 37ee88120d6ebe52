// What the record keeps of a command's stdout (ScalarCapture) and of its command line (redaction).
#include <string>

#include <catch2/catch.hpp>

#include "core/run/record.hpp"
#include "core/util/error.hpp"

using namespace cairn;

TEST_CASE("a pattern that backtracks exponentially runs in linear time on a long line", "[run][capture]") {
    // std::regex took minutes on this line (nested quantifiers, no match): RE2 does not backtrack.
    run::ScalarCapture c({"(a+)+b=([0-9]+)"});
    c.feed(std::string(30000, 'a') + "!\n");
    c.feed(std::string(30000, 'a') + "b=7\n");
    c.feed("aab=5\n");
    auto points = c.finish();
    REQUIRE(points.size() == 2);
    CHECK(points[0].key == std::string(30000, 'a'));
    CHECK(points[0].value == 7);
    CHECK(points[1].key == "aa");
    CHECK(points[1].value == 5);
}

TEST_CASE("capture patterns use RE2 syntax; invalid ones and too few groups are errors", "[run][capture]") {
    run::ScalarCapture c({R"(\[(\w+)\] = (\d+(?:\.\d+)?) @ (\d+))"});
    c.feed("[acc] = 0.5 @ 3\n");
    auto points = c.finish();
    REQUIRE(points.size() == 1);
    CHECK(points[0].step == 3);
    // Backreferences and lookaround are not RE2 (they need backtracking).
    for (std::string bad : {"(unclosed", R"((\w+)=(\d+)\1)", "(?=x)(a)(b)"}) {
        DYNAMIC_SECTION(bad) {
            CHECK_THROWS_WITH(run::ScalarCapture({bad}, "config.yaml: run.capture"),
                              Catch::Contains("config.yaml: run.capture: invalid pattern"));
        }
    }
    CHECK_THROWS_WITH(run::ScalarCapture({"(a)b"}), Catch::Contains("needs two groups"));
}

TEST_CASE("only lines that start with the key are captured by default", "[run][capture]") {
    run::ScalarCapture c;
    c.feed("config:\n  lr: 0.3\n\tepochs: 5\n    loss: 9\nloss: 0.5\n lr : 1\n");
    auto points = c.finish();
    REQUIRE(points.size() == 1);
    CHECK(points[0].key == "loss");
    CHECK(points[0].value == 0.5);
}

TEST_CASE("take() hands out each point once; lines over the limit are skipped whole", "[run][capture]") {
    run::ScalarCapture c;
    c.feed("loss: 1\nlo");
    auto first = c.take();
    REQUIRE(first.size() == 1);
    CHECK(c.take().empty());
    c.feed("ss: 2\n");
    auto second = c.take();
    REQUIRE(second.size() == 1);
    CHECK(second[0].step == 1);
    // A line longer than the limit could match on its first part: it is not matched at all.
    c.feed("acc: 3" + std::string(run::ScalarCapture::k_line_limit, '0') + "\nacc: 4\n");
    auto points = c.finish();
    REQUIRE(points.size() == 1);
    CHECK(points[0].value == 4);
}

TEST_CASE("names that look secret", "[run][redact]") {
    for (const char* name : {"API_KEY", "api-key", "GITHUB_TOKEN", "db_password", "PASSWD", "client-secret",
                             "AWS_CREDENTIALS", "auth", "OAUTH_TOKEN", "authorization", "keyfile"})
        CHECK(run::looks_secret(name));
    for (const char* name : {"PATH", "lr", "author", "GIT_AUTHOR_NAME", "XAUTHORITY", "epochs"})
        CHECK_FALSE(run::looks_secret(name));
}

TEST_CASE("URL passwords are redacted, the rest of the URL kept", "[run][redact]") {
    CHECK(run::redact_urls("postgres://u:pw@h/db") == "postgres://u:<redacted>@h/db");
    CHECK(run::redact_urls("--db=https://me:p@ss@host:5432/x?y=1") == "--db=https://me:<redacted>@host:5432/x?y=1");
    CHECK(run::redact_urls("a https://u:1@h b http://v:2@k") == "a https://u:<redacted>@h b http://v:<redacted>@k");
    CHECK(run::redact_urls("https://user@host/path") == "https://user@host/path");
    CHECK(run::redact_urls("https://host/a:b@c") == "https://host/a:b@c"); // '@' after the path
    CHECK(run::redact_urls("no url: a:b@c") == "no url: a:b@c");
}

TEST_CASE("secret values on a command line are redacted in the stored copy", "[run][redact]") {
    using V = std::vector<std::string>;
    CHECK(run::redact_command({"python3", "train.py", "--api-key=sk-abc123", "--lr=0.1"}) ==
          V{"python3", "train.py", "--api-key=<redacted>", "--lr=0.1"});
    CHECK(run::redact_command({"tool", "--token", "abc", "--password", "--verbose", "-secret", "x", "file"}) ==
          V{"tool", "--token", "<redacted>", "--password", "--verbose", "-secret", "<redacted>", "file"});
    CHECK(run::redact_command({"env", "API_TOKEN=abc", "model.key_dim=64", "./run"}) ==
          V{"env", "API_TOKEN=<redacted>", "model.key_dim=64", "./run"});
    CHECK(run::redact_command({"psql", "postgres://u:pw@h/db", "--no-auth", "data.csv"}) ==
          V{"psql", "postgres://u:<redacted>@h/db", "--no-auth", "data.csv"});
    // Inside a shell script, word by word; spacing kept.
    CHECK(run::redact_command({"sh", "-c", "python3 t.py --api-key=sk-1  --token  x && TOKEN=y ./go"}) ==
          V{"sh", "-c", "python3 t.py --api-key=<redacted>  --token  <redacted> && TOKEN=<redacted> ./go"});
    CHECK(run::redact_command({"tool", "--password", "two words"}) == V{"tool", "--password", "<redacted>"});
    CHECK(run::redact_command({"sh", "-c", "t '--api-key=sk-1' --token \"x\" \"\""}) ==
          V{"sh", "-c", "t '--api-key=<redacted>' --token \"<redacted>\" \"\""});
    // Nothing to redact: unchanged, and no redacted argument found.
    V plain = {"python3", "train.py", "--lr", "0.1", "-n", "5"};
    CHECK(run::redact_command(plain) == plain);
    CHECK_FALSE(run::redacted_argument(plain));
    CHECK(run::redacted_argument(run::redact_command({"t", "--key=v"})) == std::string("--key=<redacted>"));
}
