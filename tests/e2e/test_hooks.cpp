// cairn hooks install / uninstall, the hooks themselves run by git, and .pre-commit-hooks.yaml
// run by the pre-commit framework.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

bool executable(const stdfs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && (st.st_mode & 0100);
}

std::string action_of(const nlohmann::json& j, const std::string& hook) {
    for (const auto& h : j["hooks"])
        if (h["hook"] == hook) return h["action"];
    return "";
}

// A workspace with data/a.txt tracked and committed, hooks installed, cairn on PATH for git.
Repo tracked_repo() {
    Repo repo;
    repo.put_cairn_on_path();
    repo.write("data/a.txt", "version one\n");
    repo.ok({"add", "data/a.txt"});
    repo.commit("data v1");
    return repo;
}

} // namespace

TEST_CASE("hooks install writes three executable hooks and uninstall removes them", "[e2e][hooks]") {
    Repo repo;
    auto j = repo.ok({"hooks", "install", "--json"}).json();
    REQUIRE(j["hooks"].size() == 3);
    for (const std::string name : {"pre-commit", "post-checkout", "pre-push"}) {
        CHECK(action_of(j, name) == "installed");
        auto path = repo.path(".git/hooks/" + name);
        REQUIRE(repo.exists(".git/hooks/" + name));
        CHECK(executable(path));
        CHECK(contains(repo.read(".git/hooks/" + name), "# cairn-hook: " + name));
    }
    CHECK(contains(repo.read(".git/hooks/pre-commit"), "cairn status --check --staged"));
    CHECK(contains(repo.read(".git/hooks/pre-push"), "cairn push --data-only"));

    auto again = repo.ok({"hooks", "install", "--json"}).json();
    CHECK(action_of(again, "pre-commit") == "unchanged");

    auto removed = repo.ok({"hooks", "uninstall", "--json"}).json();
    CHECK(action_of(removed, "pre-push") == "removed");
    CHECK_FALSE(repo.exists(".git/hooks/pre-commit"));
    CHECK_FALSE(repo.exists(".git/hooks/post-checkout"));
    CHECK(action_of(repo.ok({"hooks", "uninstall", "--json"}).json(), "pre-commit") == "not installed");
}

TEST_CASE("hooks install chains to an existing hook and uninstall puts it back", "[e2e][hooks]") {
    Repo repo = tracked_repo();
    const std::string original = "#!/bin/sh\necho \"$@\" >> \"$(git rev-parse --show-toplevel)/chained.log\"\n";
    repo.write_script(".git/hooks/pre-commit", original);

    auto j = repo.ok({"hooks", "install", "--json"}).json();
    CHECK(action_of(j, "pre-commit") == "chained");
    CHECK(action_of(j, "pre-push") == "installed");
    CHECK(repo.read(".git/hooks/pre-commit.pre-cairn") == original);

    // git runs cairn's hook, which runs the chained one first.
    repo.write("notes.txt", "x\n");
    repo.commit("notes");
    CHECK(repo.exists("chained.log"));

    // A hook that is not cairn's is never removed; the chained one comes back byte for byte.
    auto removed = repo.ok({"hooks", "uninstall", "--json"}).json();
    CHECK(action_of(removed, "pre-commit") == "restored");
    CHECK(repo.read(".git/hooks/pre-commit") == original);
    CHECK_FALSE(repo.exists(".git/hooks/pre-commit.pre-cairn"));
    CHECK(action_of(repo.ok({"hooks", "uninstall", "--json"}).json(), "pre-commit") == "not cairn's");
    CHECK(repo.read(".git/hooks/pre-commit") == original);
}

TEST_CASE("a chained hook that fails stops the commit", "[e2e][hooks]") {
    Repo repo = tracked_repo();
    repo.write_script(".git/hooks/pre-commit", "#!/bin/sh\necho 'lint failed' >&2\nexit 3\n");
    repo.ok({"hooks", "install"});
    std::string head = git_out(repo, {"rev-parse", "HEAD"});
    repo.write("notes.txt", "x\n");
    repo.git({"add", "notes.txt"});
    Result r = repo.git({"commit", "-m", "refused"});
    CHECK(r.code != 0);
    CHECK(contains(r.err, "lint failed"));
    CHECK(git_out(repo, {"rev-parse", "HEAD"}) == head);
}

TEST_CASE("an edited cairn hook is kept unless --force, and a taken chain slot is refused", "[e2e][hooks]") {
    Repo repo;
    repo.ok({"hooks", "install"});
    std::string edited = repo.read(".git/hooks/pre-commit") + "echo extra\n";
    repo.write_script(".git/hooks/pre-commit", edited);
    CHECK(action_of(repo.ok({"hooks", "install", "--json"}).json(), "pre-commit") == "kept");
    CHECK(repo.read(".git/hooks/pre-commit") == edited);
    CHECK(action_of(repo.ok({"hooks", "install", "--force", "--json"}).json(), "pre-commit") == "updated");
    CHECK_FALSE(contains(repo.read(".git/hooks/pre-commit"), "echo extra"));

    // A foreign hook while <name>.pre-cairn is already taken: refused, nothing changed.
    repo.write_script(".git/hooks/pre-push.pre-cairn", "#!/bin/sh\nexit 0\n");
    repo.write_script(".git/hooks/pre-push", "#!/bin/sh\necho mine\n");
    Result r = repo.cairn({"hooks", "install"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, "cairn: error: "));
    CHECK(contains(r.err, "pre-push.pre-cairn"));
    CHECK(repo.read(".git/hooks/pre-push") == "#!/bin/sh\necho mine\n");
    repo.ok({"hooks", "install", "--force"});
    CHECK(contains(repo.read(".git/hooks/pre-push"), "# cairn-hook: pre-push"));
    CHECK(repo.read(".git/hooks/pre-push.pre-cairn") == "#!/bin/sh\nexit 0\n");
}

TEST_CASE("hooks install respects a relative core.hooksPath", "[e2e][hooks]") {
    Repo repo;
    repo.git({"config", "core.hooksPath", "tools/hooks"});
    repo.ok({"hooks", "install"});
    CHECK(repo.exists("tools/hooks/pre-commit"));
    CHECK(repo.exists("tools/hooks/post-checkout"));
    CHECK_FALSE(repo.exists(".git/hooks/pre-commit"));
    // Installed from a subdirectory, the path still resolves from the top of the work tree.
    repo.write("sub/keep.txt", "x\n");
    repo.ok({"hooks", "uninstall"}, "sub");
    CHECK_FALSE(repo.exists("tools/hooks/pre-commit"));
    CHECK_FALSE(repo.exists("sub/tools/hooks/pre-commit"));
}

TEST_CASE("the pre-commit hook refuses a commit whose data is not saved", "[e2e][hooks]") {
    Repo repo = tracked_repo();
    repo.ok({"hooks", "install"});
    std::string head = git_out(repo, {"rev-parse", "HEAD"});

    repo.write("data/a.txt", "version two, not added\n");
    repo.write("notes.txt", "x\n");
    repo.git({"add", "notes.txt"});
    Result refused = repo.git({"commit", "-m", "unsaved data"});
    CHECK(refused.code != 0);
    CHECK(contains(refused.out + refused.err, "data/a.txt"));
    // It says the commit is refused, and how to save the data, ready to paste.
    CHECK(contains(refused.err, "cairn: error: commit refused"));
    CHECK(contains(refused.err, "cairn add data/a.txt"));
    CHECK(contains(refused.err, "git add data/a.txt.cairn"));
    CHECK(git_out(repo, {"rev-parse", "HEAD"}) == head);

    repo.ok({"add", "data/a.txt"});
    repo.git({"add", "data/a.txt.cairn"});
    Result accepted = repo.git({"commit", "-m", "saved data"});
    INFO(accepted.err);
    CHECK(accepted.code == 0);
    CHECK(git_out(repo, {"rev-parse", "HEAD"}) != head);
}

TEST_CASE("the post-checkout hook restores the data of the branch checked out", "[e2e][hooks]") {
    Repo repo = tracked_repo();
    repo.write("data/b.txt", "other file\n");
    repo.ok({"add", "data/b.txt"});
    repo.commit("b");
    repo.ok({"hooks", "install"});
    repo.git({"branch", "v1"});
    repo.write("data/a.txt", "version two\n");
    repo.ok({"add", "data/a.txt"});
    repo.commit("data v2");

    Result r = repo.git({"checkout", "-q", "v1"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(repo.read("data/a.txt") == "version one\n");
    CHECK(contains(r.err, "post-checkout: restored 1 tracked path"));
    CHECK(repo.read("data/b.txt") == "other file\n");

    REQUIRE(repo.git({"checkout", "-q", "-"}).code == 0);
    CHECK(repo.read("data/a.txt") == "version two\n");
    // A checkout that changes no pointer says nothing.
    Result quiet = repo.git({"checkout", "-q", "-b", "topic"});
    CHECK(quiet.code == 0);
    CHECK_FALSE(contains(quiet.err, "cairn"));
}

TEST_CASE("the post-checkout hook never overwrites unsaved data", "[e2e][hooks]") {
    Repo repo = tracked_repo();
    repo.ok({"hooks", "install"});
    repo.git({"branch", "v1"});
    repo.write("data/a.txt", "version two\n");
    repo.ok({"add", "data/a.txt"});
    repo.commit("data v2");
    repo.write("data/a.txt", "edited, never added\n");
    Result r = repo.git({"checkout", "-q", "v1"});
    CHECK(r.code != 0);
    CHECK(contains(r.err, "cairn: error: "));
    CHECK(repo.read("data/a.txt") == "edited, never added\n");
}

TEST_CASE("a hook whose cairn is not on PATH says so", "[e2e][hooks]") {
    Repo repo;
    repo.ok({"hooks", "install"});
    repo.set_env("PATH", "/usr/bin:/bin");
    repo.write("notes.txt", "x\n");
    repo.git({"add", "notes.txt"});
    Result r = repo.git({"commit", "-m", "no cairn"});
    CHECK(r.code != 0);
    CHECK(contains(r.err, "cairn: error: the pre-commit hook runs cairn, which is not on PATH"));
}

TEST_CASE("hooks run post-checkout checks its arguments", "[e2e][hooks]") {
    Repo repo;
    Result r = repo.cairn({"hooks", "run", "post-checkout", "abc"});
    CHECK(r.code == 2);
    CHECK(contains(r.err, "PREVIOUS-HEAD NEW-HEAD BRANCH-FLAG"));
    CHECK(repo.cairn({"hooks", "run", "pre-rebase"}).code == 2);
}

TEST_CASE("pre-commit framework runs the cairn-status hook from .pre-commit-hooks.yaml", "[e2e][hooks]") {
    if (run_process({"sh", "-c", "command -v pre-commit"}, stdfs::temp_directory_path(), {{"PATH", "/usr/bin:/bin"}}).code != 0) {
        WARN("skipped: the pre-commit framework is not installed (Debian package pre-commit)");
        return;
    }
    // A repository that publishes the hooks, as this project's does.
    Repo hooks_repo(false);
    std::string manifest;
    {
        std::FILE* f = std::fopen(CAIRN_SOURCE_DIR "/.pre-commit-hooks.yaml", "rb");
        REQUIRE(f);
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) manifest.append(buf, n);
        std::fclose(f);
    }
    hooks_repo.write(".pre-commit-hooks.yaml", manifest);
    hooks_repo.commit("hooks");
    std::string rev = git_out(hooks_repo, {"rev-parse", "HEAD"});

    Repo repo = tracked_repo();
    repo.set_env("PRE_COMMIT_HOME", (repo.root().parent_path() / "pre-commit-home").string());
    repo.write(".pre-commit-config.yaml", "repos:\n- repo: " + hooks_repo.root().string() + "\n  rev: " + rev +
                                              "\n  hooks:\n  - id: cairn-status\n");
    repo.commit("pre-commit config");
    Result install = run_process({"pre-commit", "install"}, repo.root(), repo.env());
    INFO(install.out << install.err);
    REQUIRE(install.code == 0);

    std::string head = git_out(repo, {"rev-parse", "HEAD"});
    repo.write("data/a.txt", "changed, not saved\n");
    repo.write("notes.txt", "x\n");
    repo.git({"add", "notes.txt"});
    Result refused = repo.git({"commit", "-m", "unsaved"});
    INFO(refused.out << refused.err);
    CHECK(refused.code != 0);
    CHECK(contains(refused.out + refused.err, "data/a.txt"));
    CHECK(contains(refused.out + refused.err, "cairn add data/a.txt"));
    CHECK(git_out(repo, {"rev-parse", "HEAD"}) == head);

    repo.ok({"add", "data/a.txt"});
    repo.git({"add", "data/a.txt.cairn"});
    Result accepted = repo.git({"commit", "-m", "saved"});
    INFO(accepted.out << accepted.err);
    CHECK(accepted.code == 0);
}

TEST_CASE("the pre-push hook uploads the data of the commits pushed", "[e2e][hooks][share]") {
    cairn::test::TempDir shared;
    Repo repo = tracked_repo();
    REQUIRE(run_process({"git", "init", "-q", "--bare", (shared / "origin.git").string()}, shared.path(), repo.env()).code == 0);
    repo.git({"remote", "add", "origin", (shared / "origin.git").string()});
    repo.ok({"hooks", "install"});

    // No data remote yet: the push is stopped, with the way to add one.
    Result refused = repo.git({"push", "-q", "origin", "HEAD:refs/heads/main"});
    CHECK(refused.code != 0);
    CHECK(contains(refused.err, "cairn remote add"));
    CHECK(run_process({"git", "--git-dir", (shared / "origin.git").string(), "rev-parse", "--verify", "-q", "refs/heads/main"},
                      shared.path(), repo.env())
              .code != 0);

    repo.ok({"remote", "add", "team", (shared / "data").string(), "--default"});
    repo.commit("remote");
    Result pushed = repo.git({"push", "-q", "origin", "HEAD:refs/heads/main"});
    INFO(pushed.err);
    REQUIRE(pushed.code == 0);
    std::string id = sha256_id_of_file(repo.path("data/a.txt"));
    std::string key = Repo::object_rel(id).substr(std::string(".cairn/cache/").size());
    REQUIRE(stdfs::exists(shared / "data" / key));
    CHECK(repo.read(".git/hooks/pre-push").size() > 0);

    // A new data version reaches the remote with the commit that points to it, and deleting a
    // branch on the remote (a zero sha on the hook's input) pushes nothing and succeeds.
    repo.write("data/a.txt", "version two\n");
    repo.ok({"add", "data/a.txt"});
    repo.commit("data v2");
    REQUIRE(repo.git({"push", "-q", "origin", "HEAD:refs/heads/main"}).code == 0);
    std::string id2 = sha256_id_of_file(repo.path("data/a.txt"));
    CHECK(stdfs::exists(shared / "data" / Repo::object_rel(id2).substr(std::string(".cairn/cache/").size())));
    REQUIRE(repo.git({"push", "-q", "origin", "HEAD:refs/heads/topic"}).code == 0);
    Result deleted = repo.git({"push", "-q", "origin", ":refs/heads/topic"});
    INFO(deleted.err);
    CHECK(deleted.code == 0);
}
