// cairn.lock: serialisation round trip, stable order, strict reading.
#include <catch2/catch.hpp>

#include "core/pipeline/lock.hpp"
#include "core/util/error.hpp"

using namespace cairn;
using nlohmann::json;

namespace {

pipeline::LockFile sample() {
    pipeline::LockFile lock;
    pipeline::LockedStage train;
    train.cmd = {"python train.py --lr 0.1"};
    train.deps = {{"data/prepared", "sha256:" + std::string(64, 'a'), 1234, 3}, {"train.py", "sha256:" + std::string(64, 'b'), 99, {}}};
    train.params["params.yaml"] = {{"train.lr", json(0.1)},   {"train.epochs", json(10)}, {"train.name", json("true")},
                                   {"train.on", json(true)},  {"layers", json::array({1, 2})}, {"opt", json({{"a", "x y"}})},
                                   {"nothing", json(nullptr)}, {"odd: key", json("v:1 # no comment")}};
    train.outs = {{"model.pkl", "sha256:" + std::string(64, 'c'), 5, {}}};
    train.run = std::string(32, 'd');
    lock.stages["train"] = train;
    pipeline::LockedStage prep;
    prep.cmd = {"echo a", "echo 'b' && echo \"c\""};
    lock.stages["build@us-east"] = prep;
    return lock;
}

} // namespace

TEST_CASE("a lock file reads back as written, values keeping their types", "[pipeline][lock]") {
    pipeline::LockFile lock = sample();
    std::string text = pipeline::serialize_lock(lock);
    pipeline::LockFile back = pipeline::parse_lock(text, "cairn.lock");
    REQUIRE(back.stages.size() == 2);
    const auto& t = back.stages.at("train");
    CHECK(t.cmd == lock.stages["train"].cmd);
    CHECK(t.deps == lock.stages["train"].deps);
    CHECK(t.outs == lock.stages["train"].outs);
    CHECK(t.run == lock.stages["train"].run);
    CHECK(t.params == lock.stages["train"].params);
    CHECK(t.params.at("params.yaml").at("train.name").is_string());
    CHECK(t.params.at("params.yaml").at("train.epochs").is_number_integer());
    CHECK(back.stages.at("build@us-east").cmd == lock.stages["build@us-east"].cmd);
    // Written again, byte for byte the same: stages sorted by name, fields in a fixed order.
    CHECK(pipeline::serialize_lock(back) == text);
    CHECK(text.rfind("schema: cairn-lock/1\n", 0) == 0);
    CHECK(text.find("build@us-east") < text.find("  train:"));
}

TEST_CASE("a lock file of a newer schema, unknown fields or bad ids are refused with file:line", "[pipeline][lock]") {
    auto error_of = [](const std::string& text) {
        try {
            (void)pipeline::parse_lock(text, "cairn.lock");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK_THAT(error_of("schema: cairn-lock/2\nstages: {}\n"), Catch::Contains("cairn.lock:1") && Catch::Contains("newer"));
    CHECK_THAT(error_of("stages: {}\n"), Catch::Contains("schema"));
    CHECK_THAT(error_of("schema: cairn-lock/1\nstages:\n  a:\n    cmd: x\n    colour: red\n"),
               Catch::Contains("cairn.lock:5") && Catch::Contains("colour"));
    CHECK_THAT(error_of("schema: cairn-lock/1\nstages:\n  a:\n    cmd: x\n    deps:\n    - path: f\n      hash: md5:abc\n"),
               Catch::Contains("cairn.lock:7") && Catch::Contains("sha256"));
    CHECK_THAT(error_of("schema: cairn-lock/1\nstages:\n  a:\n    cmd: x\n    outs:\n    - path: f\n      hash: sha256:" +
                        std::string(64, 'a') + "\n      size: -1\n"),
               Catch::Contains("size"));
    CHECK_THAT(error_of("schema: [\n"), Catch::Contains("cairn.lock:"));
}
