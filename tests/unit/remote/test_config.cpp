#include <catch2/catch.hpp>

#include "core/remote/config.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;
using namespace cairn::remote;

namespace {

std::string error_of(const std::string& text, const std::string& display = ".cairn/config.yaml") {
    try {
        (void)parse_remotes(text, display);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::input);
        return e.what();
    }
    FAIL("accepted: " << text);
    return "";
}

} // namespace

TEST_CASE("remote config parses remotes and the default", "[remote][config]") {
    auto c = parse_remotes("version: 1\ncache:\n  type: copy\ndefault_remote: team\nremotes:\n"
                           "  team:\n    url: /mnt/share\n    jobs: 4\n"
                           "  s3:\n    url: s3://bucket/pre\n    endpoint: http://127.0.0.1:9000\n    region: eu-west-1\n    path_style: true\n",
                           "x");
    REQUIRE(c.remotes.size() == 2);
    CHECK(c.default_remote == "team");
    CHECK(c.remotes[0].name == "team");
    CHECK(c.remotes[0].url == "/mnt/share");
    CHECK(c.remotes[0].jobs == 4);
    CHECK(c.remotes[1].endpoint == "http://127.0.0.1:9000");
    CHECK(c.remotes[1].region == "eu-west-1");
    CHECK(c.remotes[1].path_style == std::optional<bool>(true));
    CHECK(&c.select("") == &c.remotes[0]);
    CHECK(&c.select("s3") == &c.remotes[1]);
    CHECK(remote_kind(c.remotes[1].url) == RemoteKind::s3);
    CHECK(parse_remotes("", "x").remotes.empty());
    CHECK(parse_remotes("version: 1\n", "x").remotes.empty());
}

TEST_CASE("remote config refuses credentials, unknown keys and bad values", "[remote][config]") {
    CHECK_THAT(error_of("remotes:\n  s3:\n    url: s3://b\n    secret_access_key: abc\n"),
               Catch::Contains(".cairn/config.yaml:4") && Catch::Contains("secret_access_key") && Catch::Contains("credential"));
    CHECK_THAT(error_of("remotes:\n  s3:\n    url: s3://b\n    access_key_id: AKIA\n", ".cairn/config.local.yaml"),
               Catch::Contains(".cairn/config.local.yaml") && Catch::Contains("access_key_id"));
    CHECK_THAT(error_of("aws:\n  session_token: x\n"), Catch::Contains("session_token"));
    CHECK_THAT(error_of("remotes:\n  a:\n    password: x\n"), Catch::Contains("password"));
    CHECK_THAT(error_of("remotes:\n  a:\n    url: /x\n    colour: red\n"), Catch::Contains("unknown key 'colour'"));
    CHECK_THAT(error_of("remotes:\n  a:\n    url: /x\n    jobs: many\n"), Catch::Contains("jobs"));
    CHECK_THAT(error_of("remotes:\n  a:\n    url: /x\n    path_style: maybe\n"), Catch::Contains("path_style"));
    CHECK_THAT(error_of("remotes:\n  a:\n    url: /x\n    endpoint: ftp://x\n"), Catch::Contains("endpoint"));
    CHECK_THAT(error_of("remotes:\n  ../x:\n    url: /x\n"), Catch::Contains("not a valid remote name"));
    CHECK_THAT(error_of("remotes: [a, b]\n"), Catch::Contains("mapping"));
    CHECK_THAT(error_of("remotes:\n  a: /x\n"), Catch::Contains("mapping"));
    CHECK_THAT(error_of("remotes:\n  a:\n    url: s3://\n"), Catch::Contains("s3://BUCKET"));
    // A URL of a kind cairn does not speak is refused, not taken for a directory path.
    CHECK_THAT(error_of("remotes:\n  a:\n    url: http://host/x\n"), Catch::Contains("not a kind of remote"));
    CHECK_THAT(error_of("remotes:\n  a:\n    url: gs://bucket\n"), Catch::Contains("not a kind of remote"));
    CHECK_THAT(error_of("remotes:\n  a:\n    url: file://host/x\n"), Catch::Contains("file:///absolute/path"));
    CHECK(parse_remotes("remotes:\n  a:\n    url: file:///srv/x\n", "x").remotes.size() == 1);
    CHECK(parse_remotes("remotes:\n  a:\n    url: file://localhost/srv/x\n", "x").remotes.size() == 1);
    CHECK(directory_of("file://localhost/srv/x", "/w") == "/srv/x");
    CHECK(parse_remotes("remotes:\n  a:\n    url: ../shared:store\n", "x").remotes.size() == 1);
    // Bytes that are not UTF-8 would not survive cairn's rewrite of the file (found by fuzzing).
    CHECK_THAT(error_of("remotes:\n  a:\n    url: s3://b\n    region: eu-\x89\x9a\n"), Catch::Contains("not UTF-8"));
    CHECK(looks_like_credential_key("AWS_SECRET_ACCESS_KEY"));
    CHECK(looks_like_credential_key("token"));
    CHECK_FALSE(looks_like_credential_key("author"));
    CHECK_FALSE(looks_like_credential_key("endpoint"));
}

TEST_CASE("remote selection explains what is missing", "[remote][config]") {
    RemotesConfig none;
    CHECK_THROWS_WITH(none.select(""), Catch::Contains("cairn remote add NAME URL --default"));
    RemotesConfig two = parse_remotes("remotes:\n  a:\n    url: /a\n  b:\n    url: /b\n", "x");
    CHECK_THROWS_WITH(two.select(""), Catch::Contains("no default"));
    CHECK_THROWS_WITH(two.select("c"), Catch::Contains("no remote named 'c'"));
}

TEST_CASE("local remote config overrides the committed one key by key", "[remote][config]") {
    auto committed = parse_remotes("default_remote: a\nremotes:\n  a:\n    url: /a\n    region: r1\n", "x");
    auto local = parse_remotes("default_remote: b\nremotes:\n  a:\n    url: /mnt/a\n  b:\n    url: /b\n", "y");
    auto merged = merge_remotes(committed, local);
    REQUIRE(merged.remotes.size() == 2);
    CHECK(merged.remotes[0].url == "/mnt/a");
    CHECK(merged.remotes[0].region == "r1");
    CHECK(merged.default_remote == "b");
}

TEST_CASE("rewriting the remote blocks keeps the rest of the file", "[remote][config]") {
    std::string text = "# cairn configuration\nversion: 1\nremotes:\n  old:\n    url: /old\n  # a comment\ncache:\n  type: copy\n"
                       "default_remote: old\n";
    RemotesConfig c;
    RemoteConfig r;
    r.name = "new";
    set_remote_key(r, "url", "/data/with: colon #hash");
    set_remote_key(r, "path_style", "false");
    c.remotes.push_back(r);
    c.default_remote = "new";
    std::string updated = replace_remote_blocks(text, render_remotes(c));
    CHECK_THAT(updated, Catch::StartsWith("# cairn configuration\nversion: 1\ncache:\n  type: copy\n"));
    auto back = parse_remotes(updated, "x");
    REQUIRE(back.remotes.size() == 1);
    CHECK(back.remotes[0].url == "/data/with: colon #hash");
    CHECK(back.remotes[0].path_style == std::optional<bool>(false));
    CHECK(back.default_remote == "new");
    CHECK(replace_remote_blocks(updated, "") == "# cairn configuration\nversion: 1\ncache:\n  type: copy\n");
}

TEST_CASE("edit_remotes writes the config file atomically", "[remote][config]") {
    test::TempDir dir;
    test::write_text(dir / "config.yaml", "version: 1\n");
    edit_remotes(dir.path(), ConfigScope::committed, [](RemotesConfig& c) {
        RemoteConfig r;
        r.name = "a";
        r.url = "/a";
        c.remotes.push_back(r);
    });
    edit_remotes(dir.path(), ConfigScope::local, [](RemotesConfig& c) { c.default_remote = "a"; });
    auto merged = load_remotes(dir.path());
    REQUIRE(merged.remotes.size() == 1);
    CHECK(merged.default_remote == "a");
    CHECK_THAT(test::read_text(dir / "config.yaml"), Catch::StartsWith("version: 1\nremotes:\n"));
}

TEST_CASE("directory URLs resolve against the workspace root", "[remote][config]") {
    CHECK(directory_of("/abs/dir", "/ws") == "/abs/dir");
    CHECK(directory_of("../share", "/ws/root") == "/ws/share");
    CHECK(directory_of("file:///mnt/x", "/ws") == "/mnt/x");
    CHECK_THROWS_AS(directory_of("file://host/x", "/ws"), Error);
}
