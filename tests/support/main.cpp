// Test runner for both suites: owns the libgit2 library scope, as cli::main does.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/git/git.hpp"

int main(int argc, char** argv) {
    cairn::git::Library libgit2;
    return Catch::Session().run(argc, argv);
}
