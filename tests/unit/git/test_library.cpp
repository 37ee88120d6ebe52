// libgit2's set-up: TLS is available once asked for (a static build defers it; see
// cmake/Dependencies.cmake).
#include <filesystem>

#include <catch2/catch.hpp>
#include <git2.h>

#include "core/git/git.hpp"

TEST_CASE("ensure_tls sets up libgit2's TLS so certificate locations can be set", "[git]") {
    cairn::git::Library::ensure_tls();
    cairn::git::Library::ensure_tls(); // idempotent
    CHECK((git_libgit2_features() & GIT_FEATURE_HTTPS) != 0);
    const char* bundle = "/etc/ssl/certs/ca-certificates.crt";
    if (!std::filesystem::exists(bundle)) {
        WARN("no system CA bundle: certificate loading not checked");
        return;
    }
    // With mbedTLS this loads the bundle into the TLS configuration the set-up created.
    int rc = git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, bundle, nullptr);
    INFO((git_error_last() ? git_error_last()->message : ""));
    CHECK(rc == 0);
}
