// cairn push / pull / on-demand fetch through an S3 remote: s3rver on 127.0.0.1, read back and
// written by another client (curl --aws-sigv4), and a remote that answers 500 at first.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"
#include "tests/support/s3rver.hpp"

using namespace cairn::e2e;
namespace s3 = cairn::test::s3;

namespace {

std::string key_of(const std::string& id) { return Repo::object_rel(id).substr(std::string(".cairn/cache/").size()); }

// s3rver's key in the environment (never in a config file).
void s3_credentials(Repo& repo) {
    repo.set_env("AWS_ACCESS_KEY_ID", "S3RVER");
    repo.set_env("AWS_SECRET_ACCESS_KEY", "S3RVER");
    repo.set_env("CAIRN_S3_RETRY_BASE_MS", "1");
}

// A workspace whose default remote is `s3://bucket/team` at `endpoint` (committed in
// .cairn/config.yaml, so a clone has it too).
void use_s3(Repo& repo, const std::string& endpoint) {
    s3_credentials(repo);
    repo.ok({"remote", "add", "store", "s3://bucket/team", "--default"});
    repo.ok({"remote", "modify", "store", "endpoint", endpoint});
}

// curl with an AWS SigV4 signature, as another S3 client; exit code and stdout.
Result curl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "S3RVER:S3RVER",
                                  "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, stdfs::temp_directory_path(), {{"PATH", "/usr/bin:/bin"}});
}

} // namespace

TEST_CASE("push and pull data through an S3 remote, interoperable with curl", "[e2e][share][s3]") {
    if (auto why = s3::s3rver_missing(); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    s3::S3rver server;
    Repo a;
    use_s3(a, server.endpoint());
    std::string big = random_bytes(300 * 1024, 7);
    a.write("data/big.bin", big);
    a.make_tree("data/set", 6, 3, 200);
    a.ok({"add", "data"});
    a.commit("data");
    auto pushed = a.ok({"push", "--data-only", "--json"}).json();
    CHECK(pushed["problems"].empty());
    CHECK(pushed["objects"].get<int>() >= 7);
    CHECK(contains(a.ok({"push", "--data-only"}).out, "pushed 0 objects"));

    // Another client reads what cairn uploaded, byte for byte, under the cache's layout.
    std::string id = sha256_id_of_file(a.path("data/big.bin"));
    Result got = curl({server.endpoint() + "/bucket/team/" + key_of(id)});
    INFO(got.err);
    REQUIRE(got.code == 0);
    CHECK(got.out == big);

    // A second workspace, its cache empty: pull, and checkout's on-demand fetch.
    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    s3_credentials(b);
    b.ok({"pull", "--data-only"});
    b.ok({"checkout"});
    CHECK(b.read("data/big.bin") == big);
    CHECK(b.read("data/set/d1/f4") == a.read("data/set/d1/f4"));

    // An object put there by curl is pulled by cairn: a file tracked in a third workspace that
    // never pushed, its object uploaded by hand.
    Repo c;
    c.write("extra.csv", "x,y\n1,2\n");
    c.ok({"add", "extra.csv"});
    std::string extra_id = sha256_id_of_file(c.path("extra.csv"));
    Result put = curl({"-T", c.path(Repo::object_rel(extra_id)).string(), server.endpoint() + "/bucket/team/" + key_of(extra_id)});
    INFO(put.err);
    REQUIRE(put.code == 0);
    b.write("extra.csv.cairn", c.read("extra.csv.cairn"));
    Result fetched = b.ok({"checkout", "extra.csv"});
    CHECK(b.read("extra.csv") == "x,y\n1,2\n");

    // gc --remote from a clone whose cache lacks a run's output directory: the tree is looked at
    // on the remote (a ranged GET of its first bytes), fetched and followed, so its files count
    // as referenced; only an object nothing names is listed.
    a.write_script("make.sh", "#!/bin/sh\nmkdir -p out && echo one > out/a && echo two > out/b\n");
    a.commit("make");
    a.ok({"run", "-n", "make", "-o", "out", "--", "./make.sh"});
    a.ok({"push", "--data-only", "--all"});
    b.git({"fetch", "-q", a.root().string(), "refs/cairn/*:refs/cairn/*"});
    REQUIRE_FALSE(b.exists(Repo::object_rel(sha256_id_of_file(a.path("out/a")))));
    Result orphan = curl({"-T", c.path("extra.csv.cairn").string(), server.endpoint() + "/bucket/team/sha256/00/orphan"});
    REQUIRE(orphan.code == 0);
    auto listed = b.ok({"gc", "--remote", "store", "--json"}).json();
    INFO(listed.dump());
    CHECK(listed["not_readable"].empty());
    REQUIRE(listed["unreferenced"].size() == 1);
    CHECK(listed["unreferenced"][0]["key"] == "sha256/00/orphan");
}

TEST_CASE("an S3 remote answering 500 at first, and a corrupt S3 object", "[e2e][share][s3]") {
    if (auto why = s3::s3rver_missing(); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    s3::S3rver server;
    cairn::test::TempDir logs;
    s3::Proxy flaky(server.server.port(), {"--fail", "3"}, logs / "proxy.log");
    Repo a;
    use_s3(a, flaky.endpoint());
    a.write("model.bin", random_bytes(5000, 3));
    a.ok({"add", "model.bin"});
    a.commit("model");
    // The first three requests get 500; the retries carry the push through.
    auto pushed = a.ok({"push", "--data-only", "--json"}).json();
    CHECK(pushed["problems"].empty());
    std::string id = sha256_id_of_file(a.path("model.bin"));
    CHECK(curl({server.endpoint() + "/bucket/team/" + key_of(id)}).out == a.read("model.bin"));

    // The object replaced on the remote by other bytes: pull names it and stores nothing.
    cairn::test::TempDir tmp;
    {
        std::FILE* f = std::fopen((tmp / "bad").c_str(), "wb");
        REQUIRE(f);
        std::fputs("not the model", f);
        std::fclose(f);
    }
    REQUIRE(curl({"-T", (tmp / "bad").string(), server.endpoint() + "/bucket/team/" + key_of(id)}).code == 0);
    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    s3_credentials(b);
    b.ok({"remote", "modify", "store", "endpoint", server.endpoint(), "--local"}); // around the proxy
    Result r = b.cairn({"pull", "--data-only"});
    CHECK(r.code != 0);
    CHECK(contains(r.err + r.out, id.substr(7, 12)));
    CHECK_FALSE(b.exists(Repo::object_rel(id)));

    // fsck --remote finds it; --repair from the workspace that has a good copy puts it back.
    a.ok({"remote", "modify", "store", "endpoint", server.endpoint(), "--local"});
    Result found = a.cairn({"fsck", "--remote", "store", "--json"});
    CHECK(found.code == 1);
    REQUIRE(found.json()["problems"].size() == 1);
    CHECK(found.json()["problems"][0]["key"] == key_of(id));
    a.ok({"fsck", "--remote", "store", "--repair"});
    CHECK(curl({server.endpoint() + "/bucket/team/" + key_of(id)}).out == a.read("model.bin"));
    b.ok({"pull", "--data-only"});
    CHECK(b.exists(Repo::object_rel(id)));
}
