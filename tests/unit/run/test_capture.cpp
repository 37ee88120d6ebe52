// What the record keeps of a command line: secrets redacted.
#include <string>

#include <catch2/catch.hpp>

#include "core/run/record.hpp"
#include "core/util/error.hpp"

using namespace cairn;

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
