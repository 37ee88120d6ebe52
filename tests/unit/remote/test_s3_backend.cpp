// The S3 backend against real peers: s3rver (tests/s3rver/start.js, the pinned npm package that
// tests/s3rver/setup.sh installs into .cache/s3rver/), the fault-injecting proxy
// tests/s3rver/fault_proxy.py in front of it, and curl's own SigV4 client for interoperability.
// Each test starts its servers on free ports of 127.0.0.1 and stops them by pid. Skipped, with
// the reason, only when node or the installed s3rver is missing.
#include <catch2/catch.hpp>

#include "core/hash/hash.hpp"
#include "core/remote/s3.hpp"
#include "core/util/error.hpp"
#include "core/util/parallel.hpp"
#include "tests/support/s3rver.hpp"
#include "tests/support/temp_dir.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using cairn::remote::Backend;
using cairn::remote::S3Options;
using cairn::remote::S3Tuning;

namespace {

using namespace cairn::test::s3;

S3Tuning fast_tuning() {
    S3Tuning tuning;
    tuning.retry_base_ms = 1;
    tuning.retries = 4;
    return tuning;
}

std::unique_ptr<Backend> open(const std::string& endpoint, const std::string& url = "s3://bucket/store",
                              S3Tuning tuning = fast_tuning()) {
    S3Options options = cairn::remote::parse_s3_url(url);
    options.endpoint = endpoint;
    return cairn::remote::open_s3(options, tuning, s3rver_env());
}

std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(rng());
    return out;
}

std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_all(const fs::path& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary);
    out << data;
}

std::vector<std::string> lines(const fs::path& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::size_t count_containing(const std::vector<std::string>& all, const std::string& needle) {
    std::size_t n = 0;
    for (const auto& line : all) n += line.find(needle) != std::string::npos;
    return n;
}

int free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(s);
    return ntohs(addr.sin_port);
}

int run(const std::string& command) {
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define SKIP_WITHOUT_S3RVER()                                                                                          \
    if (auto why = s3rver_missing(); !why.empty()) {                                                                   \
        WARN("skipped: " << why);                                                                                      \
        return;                                                                                                        \
    }

} // namespace

TEST_CASE("s3 put get stat and remove round-trip through s3rver", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    auto backend = open(s3.endpoint());
    CHECK(backend->describe() == "s3://bucket/store");
    cairn::test::TempDir dir;
    std::string data = random_bytes(100000, 1);
    write_all(dir / "in", data);
    CHECK_FALSE(backend->stat("sha256/ab/cdef").has_value());
    backend->put("sha256/ab/cdef", dir / "in");
    CHECK(backend->stat("sha256/ab/cdef") == std::optional<std::uint64_t>(data.size()));
    // On disk, s3rver keeps the object under the prefix: the remote layout is the cache's.
    backend->get("sha256/ab/cdef", dir / "out");
    CHECK(read_all(dir / "out") == data);
    // An empty object, and a replaced one.
    write_all(dir / "empty", "");
    backend->put("sha256/00/empty", dir / "empty");
    CHECK(backend->stat("sha256/00/empty") == std::optional<std::uint64_t>(0));
    backend->get("sha256/00/empty", dir / "out");
    CHECK(read_all(dir / "out").empty());
    write_all(dir / "in2", "second");
    backend->put("sha256/ab/cdef", dir / "in2");
    backend->get("sha256/ab/cdef", dir / "out");
    CHECK(read_all(dir / "out") == "second");

    backend->remove("sha256/ab/cdef");
    CHECK_FALSE(backend->stat("sha256/ab/cdef").has_value());
    CHECK_NOTHROW(backend->remove("sha256/ab/cdef"));
    try {
        backend->get("sha256/ab/cdef", dir / "out");
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::integrity);
        CHECK(std::string(e.what()) == "s3://bucket/store: no object 'sha256/ab/cdef' on the remote");
    }
    CHECK_THROWS_AS(backend->put("../escape", dir / "in"), cairn::Error);
    CHECK_THROWS_AS(backend->stat("sha256//x"), cairn::Error);
    CHECK_THROWS_AS(backend->get("/abs", dir / "out"), cairn::Error);
}

TEST_CASE("s3 an object key is its signed payload hash, checked while sending", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    auto backend = open(s3.endpoint());
    cairn::test::TempDir dir;
    // Small (MD5 hashed while sending) and above 8 MiB (MD5 on a second thread), one PUT each.
    for (std::size_t size : {std::size_t(70000), std::size_t(9u << 20)}) {
        std::string data = random_bytes(size, 7);
        write_all(dir / "in", data);
        std::string hex = cairn::hash::hash_bytes(data).hex();
        std::string key = "sha256/" + hex.substr(0, 2) + "/" + hex.substr(2);
        backend->put(key, dir / "in");
        backend->get(key, dir / "out");
        CHECK(read_all(dir / "out") == data);
        // Bytes that do not hash to the id the key names are never completed on the remote.
        std::string other = random_bytes(size, 8);
        std::string bad_hex = cairn::hash::hash_bytes(other).hex();
        std::string bad_key = "sha256/" + bad_hex.substr(0, 2) + "/" + bad_hex.substr(2);
        try {
            backend->put(bad_key, dir / "in");
            FAIL("no error");
        } catch (const cairn::Error& e) {
            CHECK(e.kind() == cairn::ErrorKind::integrity);
            CHECK_THAT(e.what(), Catch::Contains(bad_key) && Catch::Contains("does not hash"));
        }
        CHECK_FALSE(backend->stat(bad_key).has_value());
    }
}

TEST_CASE("s3 list pages through more keys than max-keys and strips the remote prefix", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    auto log = dir / "proxy.log";
    Proxy proxy(s3.server.port(), {}, log);
    auto tuning = fast_tuning();
    tuning.max_keys = 7;
    auto backend = open(proxy.endpoint(), "s3://bucket/team/store", tuning);
    auto other = open(s3.endpoint(), "s3://bucket/elsewhere");
    std::map<std::string, std::uint64_t> expected;
    for (int i = 0; i < 25; ++i) {
        std::string key = "sha256/" + std::string(i % 2 ? "ab" : "cd") + "/obj" + std::to_string(i);
        write_all(dir / "f", std::string(static_cast<std::size_t>(i), 'x'));
        backend->put(key, dir / "f");
        expected[key] = static_cast<std::uint64_t>(i);
    }
    other->put("sha256/ab/not-mine", dir / "f");
    std::map<std::string, std::uint64_t> listed;
    backend->list("sha256/", [&listed](std::string_view key, std::uint64_t size) { listed[std::string(key)] = size; });
    CHECK(listed == expected);
    auto requests = lines(log);
    // 25 keys at 7 a page: 4 pages, the last three with a continuation token.
    CHECK(count_containing(requests, "list-type=2") == 4);
    CHECK(count_containing(requests, "continuation-token=") == 3);
    std::set<std::string> ab;
    backend->list("sha256/ab/", [&ab](std::string_view key, std::uint64_t) { ab.insert(std::string(key)); });
    CHECK(ab.size() == 12);
    CHECK(ab.count("sha256/ab/obj1") == 1);
    std::size_t none = 0;
    backend->list("sha256/ff/", [&none](std::string_view, std::uint64_t) { ++none; });
    CHECK(none == 0);
}

TEST_CASE("s3 uploads above the threshold in parts and reads them back", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    auto log = dir / "proxy.log";
    Proxy proxy(s3.server.port(), {}, log);
    auto tuning = fast_tuning();
    tuning.multipart_threshold = 6 << 20;
    tuning.part_size = 5 << 20;
    auto backend = open(proxy.endpoint(), "s3://bucket/store", tuning);
    std::string data = random_bytes((12 << 20) + 3, 2);
    write_all(dir / "big", data);
    backend->put("sha256/12/big", dir / "big");
    auto requests = lines(log);
    CHECK(count_containing(requests, "POST /bucket/store/sha256/12/big?uploads=") == 1);
    CHECK(count_containing(requests, "PUT /bucket/store/sha256/12/big?partNumber=") == 3);
    CHECK(count_containing(requests, "POST /bucket/store/sha256/12/big?uploadId=") == 1);
    CHECK(backend->stat("sha256/12/big") == std::optional<std::uint64_t>(data.size()));
    backend->get("sha256/12/big", dir / "out");
    CHECK(read_all(dir / "out") == data);
    // Below the threshold: one PUT.
    write_all(dir / "small", data.substr(0, 1 << 20));
    backend->put("sha256/12/small", dir / "small");
    CHECK(count_containing(lines(log), "PUT /bucket/store/sha256/12/small ") == 1);
}

TEST_CASE("s3 aborts a multipart upload whose part keeps failing, leaving no object", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    auto log = dir / "proxy.log";
    Proxy proxy(s3.server.port(), {"--fail-matching", "partNumber=2&"}, log);
    auto tuning = fast_tuning();
    tuning.multipart_threshold = 6 << 20;
    tuning.part_size = 5 << 20;
    tuning.retries = 1;
    auto backend = open(proxy.endpoint(), "s3://bucket/store", tuning);
    write_all(dir / "big", random_bytes((11 << 20), 7));
    try {
        backend->put("sha256/13/big", dir / "big");
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::io);
        CHECK(std::string(e.what()).find("s3://bucket/store: PUT sha256/13/big (part 2): giving up after 2 tries") == 0);
    }
    auto requests = lines(log);
    CHECK(count_containing(requests, "DELETE /bucket/store/sha256/13/big?uploadId=") == 1);
    CHECK(count_containing(requests, "POST /bucket/store/sha256/13/big?uploadId=") == 0);
    CHECK_FALSE(backend->stat("sha256/13/big").has_value());
}

TEST_CASE("s3 resumes a download that broke off with a range request", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    std::string data = random_bytes(1 << 20, 3);
    write_all(dir / "in", data);
    open(s3.endpoint())->put("sha256/aa/obj", dir / "in");
    auto log = dir / "proxy.log";
    Proxy proxy(s3.server.port(), {"--truncate", "1"}, log);
    open(proxy.endpoint())->get("sha256/aa/obj", dir / "out");
    CHECK(read_all(dir / "out") == data);
    auto requests = lines(log);
    REQUIRE(requests.size() == 2);
    CHECK(requests[0] == "GET /bucket/store/sha256/aa/obj range=-");
    CHECK(requests[1] == "GET /bucket/store/sha256/aa/obj range=bytes=" + std::to_string(data.size() / 2) + "-");
    // Hashed as the bytes arrive, across the resume: the digest of the whole object.
    auto log2 = dir / "proxy2.log";
    Proxy proxy2(s3.server.port(), {"--truncate", "1"}, log2);
    std::uint64_t size = 0;
    auto digest = open(proxy2.endpoint())->get_hashed("sha256/aa/obj", dir / "out2", &size);
    CHECK(read_all(dir / "out2") == data);
    CHECK(size == data.size());
    CHECK(digest == cairn::hash::hash_bytes(data));
    CHECK(lines(log2).size() == 2);
}

TEST_CASE("s3 retries 500s and dropped connections, then succeeds", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    std::string data = random_bytes(5000, 4);
    write_all(dir / "in", data);
    {
        auto log = dir / "fail.log";
        Proxy proxy(s3.server.port(), {"--fail", "3"}, log);
        auto backend = open(proxy.endpoint());
        backend->put("sha256/bb/obj", dir / "in");
        CHECK(lines(log).size() == 4);
        CHECK(backend->stat("sha256/bb/obj") == std::optional<std::uint64_t>(data.size()));
    }
    {
        auto log = dir / "drop.log";
        Proxy proxy(s3.server.port(), {"--drop", "2"}, log);
        open(proxy.endpoint())->get("sha256/bb/obj", dir / "out");
        CHECK(read_all(dir / "out") == data);
        CHECK(lines(log).size() == 3);
    }
}

TEST_CASE("s3 500s beyond the retry budget give a clear io error", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    write_all(dir / "in", "data");
    auto log = dir / "proxy.log";
    Proxy proxy(s3.server.port(), {"--fail", "1000"}, log);
    auto tuning = fast_tuning();
    tuning.retries = 2;
    auto backend = open(proxy.endpoint(), "s3://bucket/store", tuning);
    try {
        backend->put("sha256/cc/obj", dir / "in");
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::io);
        CHECK(std::string(e.what()) == "s3://bucket/store: PUT sha256/cc/obj: giving up after 3 tries: HTTP 500 "
                                       "InternalError: injected by fault_proxy.py");
    }
    CHECK(lines(log).size() == 3);
    CHECK_THROWS_AS(backend->get("sha256/cc/obj", dir / "out"), cairn::Error);
    CHECK_THROWS_AS(backend->list("", [](std::string_view, std::uint64_t) {}), cairn::Error);
}

TEST_CASE("s3 refused credentials are an environment error with what the server said", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    S3Options options = cairn::remote::parse_s3_url("s3://bucket");
    options.endpoint = s3.endpoint();
    auto backend = cairn::remote::open_s3(options, fast_tuning(),
                                          [](const char* name) -> std::optional<std::string> {
                                              if (std::string(name) == "AWS_ACCESS_KEY_ID") return "WRONG";
                                              if (std::string(name) == "AWS_SECRET_ACCESS_KEY") return "WRONG";
                                              return std::nullopt;
                                          });
    try {
        (void)backend->stat("sha256/aa/x");
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::environment);
        CHECK(std::string(e.what()).find("s3://bucket: HEAD sha256/aa/x: refused (HTTP 403") == 0);
    }
    try {
        backend->list("", [](std::string_view, std::uint64_t) {});
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::environment);
        CHECK(std::string(e.what()).find("InvalidAccessKeyId") != std::string::npos);
    }
}

TEST_CASE("s3 virtual-host style puts the bucket in the host name", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    // s3rver --vhost serves host "bucket.localhost" as the bucket of that name; libcurl resolves
    // *.localhost to the loopback address itself.
    cairn::test::TempDir dir;
    Server server{{find_program("node"), "--openssl-legacy-provider", (k_source / "tests/s3rver/start.js").string(),
                   "--vhost", (dir / "data").string(), "bucket.localhost"}};
    S3Options options = cairn::remote::parse_s3_url("s3://bucket/store");
    options.endpoint = "http://localhost:" + std::to_string(server.port());
    options.path_style = false;
    auto backend = cairn::remote::open_s3(options, fast_tuning(), s3rver_env());
    write_all(dir / "in", "virtual host");
    backend->put("sha256/ee/obj", dir / "in");
    CHECK(backend->stat("sha256/ee/obj") == std::optional<std::uint64_t>(12));
    backend->get("sha256/ee/obj", dir / "out");
    CHECK(read_all(dir / "out") == "virtual host");
    std::vector<std::string> keys;
    backend->list("", [&keys](std::string_view key, std::uint64_t) { keys.emplace_back(key); });
    CHECK(keys == std::vector<std::string>{"sha256/ee/obj"});
    CHECK(fs::exists(dir / "data/bucket.localhost"));
}

TEST_CASE("s3 a bucket in another region says which region to set", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    Proxy proxy(s3.server.port(), {"--wrong-region", "eu-west-3"}, dir / "proxy.log");
    auto backend = open(proxy.endpoint());
    for (int op = 0; op < 2; ++op) {
        try {
            if (op == 0) (void)backend->stat("sha256/aa/x");
            if (op == 1) backend->list("", [](std::string_view, std::uint64_t) {});
            FAIL("no error");
        } catch (const cairn::Error& e) {
            CHECK(e.kind() == cairn::ErrorKind::environment);
            CHECK(std::string(e.what()).find("the bucket is in region eu-west-3, not us-east-1") != std::string::npos);
        }
    }
}

TEST_CASE("s3 objects interoperate with curl --aws-sigv4 in both directions", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    if (find_program("curl").empty()) {
        WARN("skipped: curl is not installed (Debian: curl)");
        return;
    }
    S3rver s3;
    cairn::test::TempDir dir;
    auto backend = open(s3.endpoint());
    std::string data = random_bytes(300000, 5);
    write_all(dir / "in", data);
    backend->put("sha256/dd/from-cairn", dir / "in");
    std::string curl = "curl -sS --fail --aws-sigv4 'aws:amz:us-east-1:s3' --user S3RVER:S3RVER "
                       "-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' ";
    std::string base = s3.endpoint() + "/bucket/store/sha256/dd/";
    REQUIRE(run(curl + "-o '" + (dir / "by-curl").string() + "' '" + base + "from-cairn'") == 0);
    CHECK(read_all(dir / "by-curl") == data);

    std::string other = random_bytes(70000, 6);
    write_all(dir / "curl-in", other);
    REQUIRE(run(curl + "-T '" + (dir / "curl-in").string() + "' '" + base + "from-curl'") == 0);
    CHECK(backend->stat("sha256/dd/from-curl") == std::optional<std::uint64_t>(other.size()));
    backend->get("sha256/dd/from-curl", dir / "out");
    CHECK(read_all(dir / "out") == other);
}

TEST_CASE("s3 one backend serves many threads at once", "[s3]") {
    SKIP_WITHOUT_S3RVER();
    S3rver s3;
    cairn::test::TempDir dir;
    auto backend = open(s3.endpoint());
    constexpr std::size_t k_objects = 48;
    for (std::size_t i = 0; i < k_objects; ++i) {
        write_all(dir / ("in" + std::to_string(i)), random_bytes(1000 + 37 * i, static_cast<unsigned>(100 + i)));
    }
    auto key = [](std::size_t i) { return "sha256/" + std::to_string(10 + i % 10) + "/obj" + std::to_string(i); };
    cairn::util::parallel_for(
        k_objects, [&](std::size_t i) { backend->put(key(i), dir / ("in" + std::to_string(i))); }, 8);
    cairn::util::parallel_for(
        k_objects, [&](std::size_t i) { backend->get(key(i), dir / ("out" + std::to_string(i))); }, 8);
    for (std::size_t i = 0; i < k_objects; ++i) {
        INFO("object " << i);
        CHECK(read_all(dir / ("out" + std::to_string(i))) == read_all(dir / ("in" + std::to_string(i))));
    }
    std::size_t listed = 0;
    backend->list("sha256/", [&listed](std::string_view, std::uint64_t) { ++listed; });
    CHECK(listed == k_objects);
}

// Not a test: the driver of bench/remote_s3.sh (hidden: run only when named). Puts every file of
// CAIRN_S3_BENCH_DIR to <key prefix>/<file name>, or gets them all back into it, on
// CAIRN_S3_BENCH_JOBS threads, against CAIRN_S3_BENCH_ENDPOINT, with the AWS_* credentials of
// the environment.
TEST_CASE("s3 bench driver", "[.s3bench]") {
    auto env = [](const char* name) {
        const char* value = std::getenv(name);
        REQUIRE(value != nullptr);
        return std::string(value);
    };
    S3Options options = cairn::remote::parse_s3_url(env("CAIRN_S3_BENCH_URL"));
    options.endpoint = env("CAIRN_S3_BENCH_ENDPOINT");
    auto backend = cairn::remote::open_s3(options);
    fs::path dir = env("CAIRN_S3_BENCH_DIR");
    std::string op = env("CAIRN_S3_BENCH_OP");
    auto jobs = static_cast<unsigned>(std::stoul(env("CAIRN_S3_BENCH_JOBS")));
    std::vector<std::string> names;
    if (op == "put") {
        for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    } else {
        backend->list("data/", [&names](std::string_view key, std::uint64_t) {
            names.emplace_back(key.substr(5));
        });
    }
    cairn::util::parallel_for(
        names.size(),
        [&](std::size_t i) {
            if (op == "put") {
                backend->put("data/" + names[i], dir / names[i]);
            } else {
                backend->get("data/" + names[i], dir / names[i]);
            }
        },
        jobs);
    CHECK(!names.empty());
}

TEST_CASE("s3 an unreachable endpoint is an io error after the retries", "[s3]") {
    auto tuning = fast_tuning();
    tuning.retries = 1;
    auto backend = open("http://127.0.0.1:" + std::to_string(free_port()), "s3://bucket", tuning);
    try {
        (void)backend->stat("sha256/aa/x");
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::io);
        CHECK(std::string(e.what()).find("s3://bucket: HEAD sha256/aa/x: giving up after 2 tries: ") == 0);
    }
}

TEST_CASE("s3 options: URLs, endpoints, tuning from the environment", "[s3]") {
    auto options = cairn::remote::parse_s3_url("s3://my-bucket/a/b/");
    CHECK(options.bucket == "my-bucket");
    CHECK(options.prefix == "a/b");
    CHECK(cairn::remote::parse_s3_url("s3://b").prefix.empty());
    CHECK_THROWS_AS(cairn::remote::parse_s3_url("http://b"), cairn::Error);
    CHECK_THROWS_AS(cairn::remote::parse_s3_url("s3:///x"), cairn::Error);

    options.endpoint = "ftp://host";
    CHECK_THROWS_AS(cairn::remote::open_s3(options, S3Tuning{}, s3rver_env()), cairn::Error);
    options.endpoint = "";
    try {
        (void)cairn::remote::open_s3(options, S3Tuning{}, [](const char*) { return std::optional<std::string>(); });
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::environment);
        CHECK(std::string(e.what()).find("S3 remote s3://my-bucket/a/b: no AWS credentials") == 0);
    }
    auto tuning = S3Tuning::from_env(s3rver_env({{"CAIRN_S3_MULTIPART_THRESHOLD", "1000"},
                                                 {"CAIRN_S3_MAX_KEYS", "5"},
                                                 {"CAIRN_S3_RETRY_BASE_MS", "abc"},
                                                 {"CAIRN_S3_RETRIES", "0"}}));
    CHECK(tuning.multipart_threshold == 1000);
    CHECK(tuning.max_keys == 5);
    CHECK(tuning.retry_base_ms == S3Tuning{}.retry_base_ms);
    CHECK(tuning.retries == 0);
}
