// cairn.lock: serialisation round trip, stable order, strict reading.
#include <cstdint>

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

TEST_CASE("a lock file read without yaml-cpp gives what the YAML reader gives", "[pipeline][lock]") {
    // Strings YAML would type or mark (words, numbers, document markers), quotes, escapes,
    // non-ASCII, keys holding ': ', values of every JSON type: the canonical text is read by the
    // fast reader; the same text with a comment appended is not canonical, so the YAML reader
    // reads it. Both must give the same lock, which serialises to the same text.
    pipeline::LockFile lock = sample();
    const std::vector<std::string> tricky = {"true", "False", "null", "NULL", "~", "1.5", ".inf", ".5", "0x1f", "007", "...", "---x",
                                             ".", "..x", "a b", "x:y", "k: v", "#c", "-", "ü/ö.csv", "a\"b", "back\\slash", "tab\there",
                                             "line\nbreak", "@at", "_u", "/abs", "yes", "1e3", "+1", "-.inf", "[x]", "{y}", "a,b"};
    int n = 0;
    for (const auto& s : tricky) {
        pipeline::LockedStage st;
        st.cmd = {s, "echo " + s};
        st.deps = {{s, "sha256:" + std::string(64, 'e'), static_cast<std::uint64_t>(n), {}}};
        st.outs = {{"out/" + s, "sha256:" + std::string(64, 'f'), 7, static_cast<std::uint64_t>(n)}};
        st.params[s] = {{s, json(s)}, {"n", json(n)}, {"max", json(INT64_MAX)}, {"tiny", json(1e-300)},
                        {"neg", json(-3)}, {"list", json::array({s, 1.5, nullptr, true})}, {"obj", json({{s, {{"deep", s}}}})}};
        st.params["empty.yaml"] = {};
        st.run = std::string(32, 'a');
        lock.stages[s] = st;
        ++n;
    }
    const std::string text = pipeline::serialize_lock(lock);
    pipeline::LockFile fast = pipeline::parse_lock(text, "cairn.lock");
    pipeline::LockFile slow = pipeline::parse_lock(text + "# not canonical: read by yaml-cpp\n", "cairn.lock");
    CHECK(fast.stages.size() == lock.stages.size());
    CHECK(pipeline::serialize_lock(fast) == text);
    CHECK(pipeline::serialize_lock(fast) == pipeline::serialize_lock(slow));
    for (const auto& [name, st] : lock.stages) {
        INFO("stage '" << name << "'");
        REQUIRE(fast.stages.count(name) == 1);
        CHECK(fast.stages.at(name).cmd == st.cmd);
        CHECK(fast.stages.at(name).deps == st.deps);
        CHECK(fast.stages.at(name).outs == st.outs);
        CHECK(fast.stages.at(name).params == slow.stages.at(name).params);
        CHECK(fast.stages.at(name).params == st.params);
    }
    // A bad id in canonical layout is the YAML reader's error, with its line.
    std::string bad = text;
    bad.replace(bad.find("sha256:" + std::string(64, 'e')), 7, "sha512:");
    CHECK_THROWS_WITH(pipeline::parse_lock(bad, "cairn.lock"), Catch::Contains("cairn.lock:") && Catch::Contains("sha256"));
    CHECK(pipeline::parse_lock("schema: cairn-lock/1\nstages: {}\n", "cairn.lock").stages.empty());
    // An integer beyond int64 reads back as a float, as the YAML reader has always read it.
    pipeline::LockFile big;
    big.stages["s"].cmd = {"x"};
    big.stages["s"].params["p.yaml"] = {{"big", json(18446744073709551615ull)}};
    CHECK(pipeline::parse_lock(pipeline::serialize_lock(big), "cairn.lock").stages.at("s").params.at("p.yaml").at("big").is_number_float());
}
