#include "core/remote/s3.hpp"

#include "core/hash/hash.hpp"
#include "core/remote/curl_api.hpp"
#include "core/remote/sigv4.hpp"
#include "core/remote/xml.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <openssl/evp.h>

namespace cairn::remote {
namespace {

// Parts of one multipart upload in flight at once.
constexpr std::size_t k_part_jobs = 4;

using Query = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string hex(const unsigned char* data, std::size_t size) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < size; ++i) {
        out += k_digits[data[i] >> 4];
        out += k_digits[data[i] & 0xf];
    }
    return out;
}

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// An open file descriptor, closed on scope exit.
class Fd {
public:
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (m_fd >= 0) ::close(m_fd);
    }
    [[nodiscard]] int get() const { return m_fd; }

private:
    int m_fd;
};

// MD5 and SHA-256 of a file region, in one pass.
struct RegionHash {
    std::string sha256_hex;
    std::string md5_hex;
    std::string md5_base64;
    std::string md5_raw;
};

// The digest (`md`) of a file region, raw bytes.
std::string digest_region(int fd, std::uint64_t offset, std::uint64_t length, const EVP_MD* md, const std::string& what) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
        fail(ErrorKind::internal, "{}: cannot initialise {}", what, EVP_MD_get0_name(md));
    }
    std::vector<char> buffer(1 << 20);
    std::uint64_t done = 0;
    while (done < length) {
        auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - done));
        ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) fail_errno(what, errno);
        if (got == 0) fail(ErrorKind::io, "{}: the file shrank while it was read", what);
        EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(got));
        done += static_cast<std::uint64_t>(got);
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx.get(), out, &size);
    return std::string(reinterpret_cast<const char*>(out), size);
}

RegionHash hash_region(int fd, std::uint64_t offset, std::uint64_t length, const std::string& what) {
    std::string sha, md5;
    if (length >= (8u << 20)) {
        // Both digests must be known before the first byte is sent: on big regions, SHA-256
        // runs on a second thread while MD5 (the slower one) runs here, each reading the region
        // (from the page cache after the first read).
        std::exception_ptr sha_error;
        std::thread sha_thread([&] {
            try {
                sha = digest_region(fd, offset, length, EVP_sha256(), what);
            } catch (...) {
                sha_error = std::current_exception();
            }
        });
        try {
            md5 = digest_region(fd, offset, length, EVP_md5(), what);
        } catch (...) {
            sha_thread.join();
            throw;
        }
        sha_thread.join();
        if (sha_error) std::rethrow_exception(sha_error);
    } else {
        sha = digest_region(fd, offset, length, EVP_sha256(), what);
        md5 = digest_region(fd, offset, length, EVP_md5(), what);
    }
    RegionHash result;
    const auto* sha_bytes = reinterpret_cast<const unsigned char*>(sha.data());
    const auto* md5_bytes = reinterpret_cast<const unsigned char*>(md5.data());
    result.sha256_hex = hex(sha_bytes, sha.size());
    result.md5_hex = hex(md5_bytes, md5.size());
    result.md5_base64 = base64(md5_bytes, md5.size());
    result.md5_raw = md5;
    return result;
}

std::string md5_hex_of(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(data.data(), data.size(), out, &size, EVP_md5(), nullptr);
    return hex(out, size);
}

// What one request sends.
struct Body {
    const std::string* memory = nullptr; // or
    int fd = -1;                         // a region of a file
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::string payload_hash = std::string(sigv4::k_empty_payload_hash);
    // Streamed verification (an upload whose SHA-256 is known from its key, see put()): the
    // bytes are hashed as they are sent, and the last ones are not sent unless the SHA-256 is
    // `verify_sha256`; the MD5 of what was sent is kept for the ETag check when `stream_md5`.
    const std::string* verify_sha256 = nullptr;
    bool stream_md5 = false;
    mutable bool verify_failed = false;
    mutable std::string streamed_md5; // raw, set once the last byte was read
};

struct EvpFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Where one request's response body goes: memory, or (2xx only) a file at an offset.
struct Transfer {
    const Body* body = nullptr;
    std::uint64_t sent = 0;
    int sink_fd = -1;
    std::uint64_t sink_offset = 0; // where the file's next byte goes
    std::uint64_t sink_written = 0;
    std::uint64_t sink_flushed = 0; // write-back started up to here
    hash::Sha256* sink_hasher = nullptr; // hashes what is written, in file order
    bool first_chunk = true;
    bool to_file = false;
    bool restart_sink = false; // a 200 where a range was asked: the whole object comes again
    int write_errno = 0;
    CURL* curl = nullptr;
    std::string response_body;
    std::map<std::string, std::string> response_headers;
    std::unique_ptr<hash::Sha256> sha;        // streamed verification, per attempt
    std::unique_ptr<EVP_MD_CTX, EvpFree> md5;
};

// Hashes what an upload sends (Body::verify_sha256); false when the bytes about to be sent last
// do not hash to the expected SHA-256, so that they are not sent.
bool stream_hash(Transfer* t, const char* data, std::size_t size, bool last) {
    const Body& body = *t->body;
    if (!t->sha) {
        t->sha = std::make_unique<hash::Sha256>();
        if (body.stream_md5) {
            t->md5.reset(EVP_MD_CTX_new());
            if (!t->md5 || EVP_DigestInit_ex(t->md5.get(), EVP_md5(), nullptr) != 1) return false;
        }
    }
    t->sha->update(data, size);
    if (t->md5) EVP_DigestUpdate(t->md5.get(), data, size);
    if (!last) return true;
    if (t->sha->finish().hex() != *body.verify_sha256) {
        body.verify_failed = true;
        return false;
    }
    if (t->md5) {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(t->md5.get(), out, &n);
        body.streamed_md5.assign(reinterpret_cast<const char*>(out), n);
    }
    return true;
}

std::size_t read_callback(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t room = size * count;
    const Body& body = *t->body;
    std::uint64_t left = body.length - t->sent;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(room, left));
    if (want == 0) return 0;
    if (body.memory != nullptr) {
        std::memcpy(buffer, body.memory->data() + body.offset + t->sent, want);
        t->sent += want;
        return want;
    }
    for (;;) {
        ssize_t got = ::pread(body.fd, buffer, want, static_cast<off_t>(body.offset + t->sent));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return CURL_READFUNC_ABORT;
        if (body.verify_sha256 != nullptr &&
            !stream_hash(t, buffer, static_cast<std::size_t>(got), t->sent + static_cast<std::uint64_t>(got) == body.length))
            return CURL_READFUNC_ABORT;
        t->sent += static_cast<std::uint64_t>(got);
        return static_cast<std::size_t>(got);
    }
}

std::size_t write_callback(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t total = size * count;
    if (t->first_chunk) {
        t->first_chunk = false;
        long status = 0;
        curl::api().easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        t->to_file = t->sink_fd >= 0 && (status == 200 || status == 206);
        if (t->to_file && status == 200 && t->sink_offset > 0) {
            t->restart_sink = true;
            t->sink_offset = 0;
            t->sink_flushed = 0;
            if (t->sink_hasher) (void)t->sink_hasher->finish(); // the whole object comes again
            if (::ftruncate(t->sink_fd, 0) != 0) {
                t->write_errno = errno;
                return 0;
            }
        }
    }
    if (!t->to_file) {
        // An error document is small; a misbehaving server is not allowed to fill memory.
        if (t->response_body.size() + total > (64u << 20)) return 0;
        t->response_body.append(data, total);
        return total;
    }
    std::size_t done = 0;
    while (done < total) {
        ssize_t wrote = ::pwrite(t->sink_fd, data + done, total - done,
                                 static_cast<off_t>(t->sink_offset + t->sink_written));
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote < 0) {
            t->write_errno = errno;
            return 0;
        }
        done += static_cast<std::size_t>(wrote);
        t->sink_written += static_cast<std::uint64_t>(wrote);
    }
    if (t->sink_hasher) t->sink_hasher->update(data, total);
    // Start write-back every 8 MiB, so that making the download durable before it is renamed
    // into the cache has little left to wait for.
    std::uint64_t end = t->sink_offset + t->sink_written;
    if (end - t->sink_flushed >= (8u << 20)) {
        ::sync_file_range(t->sink_fd, static_cast<off_t>(t->sink_flushed), static_cast<off_t>(end - t->sink_flushed),
                          SYNC_FILE_RANGE_WRITE);
        t->sink_flushed = end;
    }
    return total;
}

std::size_t header_callback(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
        t->response_headers.clear(); // a new response (after 100 Continue, or a redirect)
        return size * count;
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
        t->response_headers[lower(line.substr(0, colon))] = std::string(value);
    }
    return size * count;
}

// Set while an abort of a multipart upload is sent: that request must get through after Ctrl-C.
thread_local bool t_ignore_interrupt = false;

int progress_callback(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    // Ctrl-C: abort the transfer so the caller's temp files are cleaned by their destructors.
    return util::interrupted() && !t_ignore_interrupt ? 1 : 0;
}

struct Response {
    CURLcode code = CURLE_OK;
    std::string curl_error;
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;

    [[nodiscard]] std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

bool retryable(const Response& r) {
    if (r.code != CURLE_OK) {
        switch (r.code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_WRITE_ERROR:
        case CURLE_READ_ERROR:
        case CURLE_OUT_OF_MEMORY:
        case CURLE_PEER_FAILED_VERIFICATION:
            return false;
        default:
            return true; // connection refused or reset, timeouts, truncated bodies, TLS hiccups
        }
    }
    return r.status >= 500 || r.status == 429 || r.status == 408;
}

std::string strip_quotes(std::string etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
    return lower(etag);
}

bool is_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

// The SHA-256 (hex) that a key names: `sha256/ab/<62 hex>` is an object whose bytes hash to
// that id (the layout backend.hpp fixes); nullopt for any other key.
std::optional<std::string> sha256_named_by(const std::string& key) {
    constexpr std::string_view k_prefix = "sha256/";
    if (key.size() != k_prefix.size() + 2 + 1 + 62 || key.compare(0, k_prefix.size(), k_prefix) != 0 ||
        key[k_prefix.size() + 2] != '/')
        return std::nullopt;
    std::string hex_id = key.substr(k_prefix.size(), 2) + key.substr(k_prefix.size() + 3);
    for (char c : hex_id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    return hex_id;
}

class S3Backend final : public Backend {
public:
    S3Backend(S3Options options, S3Tuning tuning, aws::Resolved auth)
        : m_options(std::move(options)), m_tuning(tuning), m_auth(std::move(auth)) {
        std::string endpoint = m_options.endpoint;
        bool path_style = m_options.path_style.value_or(!endpoint.empty());
        if (endpoint.empty()) endpoint = "https://s3." + m_auth.region + ".amazonaws.com";
        auto scheme_end = endpoint.find("://");
        std::string scheme = scheme_end == std::string::npos ? "" : lower(endpoint.substr(0, scheme_end));
        if (scheme != "http" && scheme != "https") {
            fail(ErrorKind::input, "{}: endpoint '{}' is not an http:// or https:// URL", describe(), m_options.endpoint);
        }
        std::string authority = endpoint.substr(scheme_end + 3);
        auto slash = authority.find('/');
        std::string base_path;
        if (slash != std::string::npos) {
            base_path = authority.substr(slash);
            authority.resize(slash);
            while (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
        }
        if (authority.empty()) fail(ErrorKind::input, "{}: endpoint '{}' names no host", describe(), m_options.endpoint);
        if (path_style) {
            m_host = authority;
            m_base_path = base_path + "/" + m_options.bucket;
        } else {
            m_host = m_options.bucket + "." + authority;
            m_base_path = base_path;
        }
        m_origin = scheme + "://" + m_host;
        (void)curl::api(); // refuse to open without libcurl, before any work is planned
    }

    [[nodiscard]] std::string describe() const override {
        return "s3://" + m_options.bucket + (m_options.prefix.empty() ? "" : "/" + m_options.prefix);
    }

    std::optional<std::uint64_t> stat(const std::string& key) override {
        check_key(key);
        Response r = execute("HEAD", object_path(key), {}, {}, nullptr, key);
        if (r.status == 404) return std::nullopt;
        expect_success(r, "HEAD", key);
        auto size = parse_u64(r.header("content-length"));
        if (!size) fail(ErrorKind::io, "{}: HEAD {}: no Content-Length in the answer", describe(), key);
        return size;
    }

    void list(const std::string& prefix, const std::function<void(std::string_view, std::uint64_t)>& fn) override {
        std::string root = m_options.prefix.empty() ? "" : m_options.prefix + "/";
        std::string token;
        for (;;) {
            util::check_interrupted();
            Query query{{"list-type", "2"}, {"prefix", root + prefix}, {"max-keys", std::to_string(m_tuning.max_keys)}};
            if (!token.empty()) query.emplace_back("continuation-token", token);
            Response r = execute("GET", m_base_path, query, {}, nullptr, prefix.empty() ? "(listing)" : prefix + "*");
            if (r.status == 404) {
                fail(ErrorKind::environment, "{}: the bucket '{}' does not exist ({})", describe(), m_options.bucket,
                     error_summary(r));
            }
            expect_success(r, "list", prefix + "*");
            std::unique_ptr<xml::Element> doc;
            try {
                doc = xml::parse(r.body);
            } catch (const Error& e) {
                fail(ErrorKind::io, "{}: listing {}*: {}", describe(), prefix, e.what());
            }
            if (doc->name != "ListBucketResult") {
                fail(ErrorKind::io, "{}: listing {}*: expected ListBucketResult, got {}", describe(), prefix, doc->name);
            }
            for (const auto& item : doc->children) {
                if (item->name != "Contents") continue;
                std::string key = item->child_text("Key");
                auto size = parse_u64(item->child_text("Size"));
                if (!size) fail(ErrorKind::io, "{}: listing {}*: object '{}' has no valid Size", describe(), prefix, key);
                if (key.size() <= root.size() || key.compare(0, root.size(), root) != 0) continue;
                fn(std::string_view(key).substr(root.size()), *size);
            }
            if (doc->child_text("IsTruncated") != "true") return;
            std::string next = doc->child_text("NextContinuationToken");
            if (next.empty() || next == token) {
                fail(ErrorKind::io, "{}: listing {}*: truncated page without a new continuation token", describe(), prefix);
            }
            token = next;
        }
    }

    void put(const std::string& key, const std::filesystem::path& local) override {
        check_key(key);
        Fd fd(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) fail_errno(local.string(), errno);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) fail_errno(local.string(), errno);
        auto size = static_cast<std::uint64_t>(st.st_size);
        if (size >= m_tuning.multipart_threshold && size > 0) {
            put_multipart(key, fd.get(), size, local);
        } else if (auto sha = sha256_named_by(key); sha && size > 0) {
            put_streamed(key, fd.get(), size, local, *sha);
        } else {
            put_single(key, fd.get(), size, local);
        }
    }

    void get(const std::string& key, const std::filesystem::path& local) override { download(key, local, nullptr); }

    hash::Digest get_hashed(const std::string& key, const std::filesystem::path& local, std::uint64_t* size) override {
        hash::Sha256 hasher;
        std::uint64_t n = download(key, local, &hasher);
        if (size) *size = n;
        return hasher.finish();
    }

    // GET into `local`; with `hasher`, the bytes are hashed in file order as they arrive (a
    // resumed transfer continues the hash, a restarted one restarts it). Returns the size.
    std::uint64_t download(const std::string& key, const std::filesystem::path& local, hash::Sha256* hasher) {
        check_key(key);
        Fd fd(::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (fd.get() < 0) fail_errno(local.string(), errno);
        std::uint64_t have = 0; // bytes of the object already in the file
        std::string etag;
        std::string last;
        for (int attempt = 0; attempt <= m_tuning.retries; ++attempt) {
            if (attempt > 0) backoff(attempt);
            Headers headers;
            if (have > 0) {
                headers.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
                // The rest must come from the same object, not from one that replaced it since.
                if (!etag.empty()) headers.emplace_back("If-Match", etag);
            }
            Transfer transfer;
            transfer.sink_hasher = hasher;
            transfer.sink_fd = fd.get();
            transfer.sink_offset = have;
            transfer.sink_flushed = have;
            Response r = perform("GET", object_path(key), {}, headers, nullptr, &transfer);
            if (transfer.write_errno != 0) fail_errno(local.string(), transfer.write_errno);
            std::uint64_t start = transfer.restart_sink ? 0 : have;
            if (r.status == 200 || r.status == 206) {
                if (etag.empty() || transfer.restart_sink) etag = r.header("etag");
                have = start + transfer.sink_written;
            }
            if (r.code == CURLE_OK && (r.status == 200 || r.status == 206)) {
                auto expected = expected_total(r, start);
                if (expected && *expected != have) {
                    last = fmt::format("got {} of {} bytes", have, *expected);
                    continue;
                }
                if (::ftruncate(fd.get(), static_cast<off_t>(have)) != 0) fail_errno(local.string(), errno);
                return have;
            }
            if (r.code == CURLE_OK && r.status == 412) { // the object changed under a resume: start over
                have = 0;
                etag.clear();
                if (hasher) (void)hasher->finish(); // resets it
                if (::ftruncate(fd.get(), 0) != 0) fail_errno(local.string(), errno);
                last = "the object changed during the download";
                continue;
            }
            if (r.code == CURLE_OK && r.status == 404) {
                fail(ErrorKind::integrity, "{}: no object '{}' on the remote", describe(), key);
            }
            if (r.code == CURLE_ABORTED_BY_CALLBACK) util::check_interrupted();
            if (!retryable(r)) expect_success(r, "GET", key);
            last = failure_text(r);
        }
        fail(ErrorKind::io, "{}: GET {}: giving up after {} tries: {}", describe(), key, m_tuning.retries + 1, last);
    }

    std::string read_head(const std::string& key, std::size_t n) override {
        check_key(key);
        if (n == 0) return {};
        Headers headers{{"Range", "bytes=0-" + std::to_string(n - 1)}};
        Response r = execute("GET", object_path(key), {}, headers, nullptr, key);
        if (r.status == 404) fail(ErrorKind::integrity, "{}: no object '{}' on the remote", describe(), key);
        if (r.status == 416) return {}; // an empty object has no byte 0
        expect_success(r, "GET", key);
        if (r.body.size() > n) r.body.resize(n); // a server that ignores Range sends it all
        return r.body;
    }

    void remove(const std::string& key) override {
        check_key(key);
        Response r = execute("DELETE", object_path(key), {}, {}, nullptr, key);
        if (r.status == 404) return;
        expect_success(r, "DELETE", key);
    }

private:
    void check_key(const std::string& key) const {
        bool bad = key.empty() || key.front() == '/' || key.back() == '/';
        std::size_t start = 0;
        while (!bad && start <= key.size()) {
            auto end = key.find('/', start);
            if (end == std::string::npos) end = key.size();
            auto part = std::string_view(key).substr(start, end - start);
            bad = part.empty() || part == "." || part == "..";
            start = end + 1;
        }
        if (bad || key.find('\0') != std::string::npos) fail(ErrorKind::input, "{}: invalid object key '{}'", describe(), key);
    }

    [[nodiscard]] std::string object_path(const std::string& key) const {
        return m_base_path + "/" + (m_options.prefix.empty() ? key : m_options.prefix + "/" + key);
    }

    void backoff(int attempt) const {
        // base, 2 base, 4 base, ... up to 10 s, each with up to a quarter of jitter so that
        // parallel transfers that failed together do not come back together.
        auto delay = static_cast<std::uint64_t>(m_tuning.retry_base_ms) << std::min(attempt - 1, 16);
        delay = std::min<std::uint64_t>(delay, 10000);
        thread_local std::minstd_rand rng(std::random_device{}());
        delay += delay / 4 == 0 ? 0 : rng() % (delay / 4 + 1);
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay);
        while (std::chrono::steady_clock::now() < until) {
            util::check_interrupted();
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
                until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
        }
    }

    // One HTTP exchange, signed now.
    Response perform(const std::string& method, const std::string& path, const Query& query, const Headers& extra,
                     const Body* body, Transfer* transfer_in = nullptr) const {
        const curl::Api& api = curl::api();
        CURL* c = curl::thread_handle();
        Transfer local_transfer;
        Transfer& t = transfer_in != nullptr ? *transfer_in : local_transfer;
        Body empty;
        t.body = body != nullptr ? body : &empty;
        t.curl = c;

        sigv4::Request request;
        request.method = method;
        request.path = path.empty() ? "/" : path;
        request.query = query;
        request.headers.emplace_back("Host", m_host);
        for (const auto& header : extra) request.headers.push_back(header);
        request.payload_hash = t.body->payload_hash;
        auto signature = sigv4::sign(request, m_auth.credentials, m_auth.region, "s3", sigv4::amz_date_now(),
                                     sigv4::PathMode::s3, sigv4::PayloadHeader::add);

        std::string url = m_origin + sigv4::uri_encode(request.path, true);
        auto sorted = query;
        std::sort(sorted.begin(), sorted.end());
        for (std::size_t i = 0; i < sorted.size(); ++i) {
            url += i == 0 ? '?' : '&';
            url += sigv4::uri_encode(sorted[i].first, false) + "=" + sigv4::uri_encode(sorted[i].second, false);
        }

        curl_slist* list = nullptr;
        auto add = [&](const std::string& line) { list = api.slist_append(list, line.c_str()); };
        for (const auto& [name, value] : request.headers) add(name + ": " + value);
        for (const auto& [name, value] : signature.added_headers) add(name + ": " + value);
        add("Authorization: " + signature.authorization);
        add("Expect:");       // no 100-continue round trip before every upload
        add("Content-Type:"); // curl's form content type on POST is not what we send
        std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(list, api.slist_free_all);

        api.easy_setopt(c, CURLOPT_URL, url.c_str());
        api.easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
        api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
        // A transfer that moves less than 1 byte a second for 60 s is a timeout, retried.
        api.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        api.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        // Larger buffers than curl's 16 KiB: a fourth of the syscalls on big objects.
        api.easy_setopt(c, CURLOPT_BUFFERSIZE, 256L << 10);
        api.easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 256L << 10);
        api.easy_setopt(c, CURLOPT_WRITEFUNCTION, &write_callback);
        api.easy_setopt(c, CURLOPT_WRITEDATA, &t);
        api.easy_setopt(c, CURLOPT_HEADERFUNCTION, &header_callback);
        api.easy_setopt(c, CURLOPT_HEADERDATA, &t);
        api.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        api.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &progress_callback);
        if (method == "HEAD") {
            api.easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (method == "PUT") {
            api.easy_setopt(c, CURLOPT_UPLOAD, 1L);
            api.easy_setopt(c, CURLOPT_READFUNCTION, &read_callback);
            api.easy_setopt(c, CURLOPT_READDATA, &t);
            api.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t.body->length));
        } else if (method == "POST") {
            api.easy_setopt(c, CURLOPT_POST, 1L);
            api.easy_setopt(c, CURLOPT_READFUNCTION, &read_callback);
            api.easy_setopt(c, CURLOPT_READDATA, &t);
            api.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body->length));
        } else if (method != "GET") {
            api.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
        }
        char error_buffer[CURL_ERROR_SIZE] = {0};
        api.easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);

        Response r;
        r.code = api.easy_perform(c);
        api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        if (r.code != CURLE_OK) {
            r.curl_error = error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(api.easy_strerror(r.code));
            if (t.write_errno != 0 || r.code == CURLE_ABORTED_BY_CALLBACK) r.status = 0;
        }
        api.easy_setopt(c, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
        r.body = std::move(t.response_body);
        r.headers = std::move(t.response_headers);
        return r;
    }

    // perform() with retries; returns the first answer that is not worth retrying. Throws
    // Error(io) after the last try.
    Response execute(const std::string& method, const std::string& path, const Query& query, const Headers& extra,
                     const Body* body, const std::string& what) const {
        std::string last;
        for (int attempt = 0; attempt <= m_tuning.retries; ++attempt) {
            if (attempt > 0) backoff(attempt);
            Response r = perform(method, path, query, extra, body);
            if (r.code == CURLE_ABORTED_BY_CALLBACK) util::check_interrupted();
            if (!retryable(r)) return r;
            last = failure_text(r);
        }
        fail(ErrorKind::io, "{}: {} {}: giving up after {} tries: {}", describe(), method, what, m_tuning.retries + 1, last);
    }

    [[nodiscard]] static std::string error_summary(const Response& r) {
        std::string code, message;
        if (!r.body.empty()) {
            try {
                auto doc = xml::parse(r.body);
                if (doc->name == "Error") {
                    code = doc->child_text("Code");
                    message = doc->child_text("Message");
                }
            } catch (const Error&) {
                // not an S3 error document; the status says enough
            }
        }
        std::string out = "HTTP " + std::to_string(r.status);
        if (!code.empty()) out += " " + code;
        if (!message.empty()) out += ": " + message;
        return out;
    }

    [[nodiscard]] static std::string failure_text(const Response& r) {
        if (r.code != CURLE_OK) return r.curl_error;
        return error_summary(r);
    }

    void expect_success(const Response& r, const std::string& what, const std::string& key) const {
        if (r.code != CURLE_OK) {
            if (r.code == CURLE_ABORTED_BY_CALLBACK) util::check_interrupted();
            fail(ErrorKind::io, "{}: {} {}: {}", describe(), what, key, r.curl_error);
        }
        if (r.status >= 200 && r.status < 300) return;
        // AWS names the bucket's region when it is asked in another one (301, 400).
        if (auto region = r.header("x-amz-bucket-region"); !region.empty() && region != m_auth.region) {
            fail(ErrorKind::environment, "{}: {} {}: the bucket is in region {}, not {} ({}): set the remote's region",
                 describe(), what, key, region, m_auth.region, error_summary(r));
        }
        if (r.status == 401 || r.status == 403) {
            fail(ErrorKind::environment, "{}: {} {}: refused ({}), with credentials from {}", describe(), what, key,
                 error_summary(r), m_auth.source);
        }
        fail(ErrorKind::io, "{}: {} {}: {}", describe(), what, key, error_summary(r));
    }

    void put_single(const std::string& key, int fd, std::uint64_t size, const std::filesystem::path& local) const {
        auto hash = hash_region(fd, 0, size, local.string());
        Body body;
        body.fd = fd;
        body.length = size;
        body.payload_hash = hash.sha256_hex;
        Response r = execute("PUT", object_path(key), {}, {{"Content-MD5", hash.md5_base64}}, &body, key);
        expect_success(r, "PUT", key);
        verify_etag(r.header("etag"), hash.md5_hex, key);
    }

    // A PUT of an object whose SHA-256 its key names: that id is the signed payload hash (S3,
    // MinIO and Ceph refuse a body that does not hash to it), so nothing is read before the
    // first byte goes out. The bytes are hashed as they are sent and the last ones are held back
    // unless they hash to the id (a corrupt local file is never completed on the remote); the
    // MD5 of what was sent, computed alongside (on a second thread for big objects), is checked
    // against the ETag as put_single does.
    void put_streamed(const std::string& key, int fd, std::uint64_t size, const std::filesystem::path& local,
                      const std::string& sha256_hex) const {
        bool md5_inline = size < (8u << 20);
        std::string md5_raw;
        std::exception_ptr md5_error;
        std::thread md5_thread;
        if (!md5_inline) {
            md5_thread = std::thread([&] {
                try {
                    md5_raw = digest_region(fd, 0, size, EVP_md5(), local.string());
                } catch (...) {
                    md5_error = std::current_exception();
                }
            });
        }
        struct Join {
            std::thread& thread;
            ~Join() {
                if (thread.joinable()) thread.join();
            }
        } join{md5_thread};
        Body body;
        body.fd = fd;
        body.length = size;
        body.payload_hash = sha256_hex;
        body.verify_sha256 = &sha256_hex;
        body.stream_md5 = md5_inline;
        Response r = execute("PUT", object_path(key), {}, {}, &body, key);
        if (body.verify_failed) {
            // S3 discards a body shorter than its Content-Length; a server that keeps what it
            // got (s3rver does) must not serve it under the key: remove it (best effort; the
            // key names content, so no other valid version is lost, and the next push sends it).
            // s3rver may still be writing that body when the DELETE arrives: delete until a HEAD
            // finds nothing (at once on S3), for at most about 2 s.
            t_ignore_interrupt = true;
            try {
                for (int attempt = 0; attempt < 20; ++attempt) {
                    (void)perform("DELETE", object_path(key), {}, {}, nullptr);
                    if (perform("HEAD", object_path(key), {}, {}, nullptr).status == 404) break;
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
            } catch (...) {
            }
            t_ignore_interrupt = false;
            fail(ErrorKind::integrity, "{}: PUT {}: the local file {} does not hash to the id its key names; not uploaded",
                 describe(), key, local.string());
        }
        expect_success(r, "PUT", key);
        if (!md5_inline) {
            md5_thread.join();
            if (md5_error) std::rethrow_exception(md5_error);
        } else {
            md5_raw = body.streamed_md5;
        }
        const auto* bytes = reinterpret_cast<const unsigned char*>(md5_raw.data());
        verify_etag(r.header("etag"), hex(bytes, md5_raw.size()), key);
    }

    void verify_etag(const std::string& header, const std::string& expected, const std::string& key) const {
        // An ETag that is not an MD5 (SSE-KMS, some gateways) proves nothing either way; S3 has
        // checked Content-MD5 and the signed SHA-256 itself.
        std::string etag = strip_quotes(header);
        if (etag.size() == 32 && is_hex(etag) && etag != expected) {
            fail(ErrorKind::integrity, "{}: PUT {}: the remote stored different bytes (ETag {}, expected {})", describe(),
                 key, etag, expected);
        }
    }

    void put_multipart(const std::string& key, int fd, std::uint64_t size, const std::filesystem::path& local) const {
        std::string path = object_path(key);
        Body empty_body;
        empty_body.length = 0;
        std::string nothing;
        empty_body.memory = &nothing;
        Response init = execute("POST", path, {{"uploads", ""}}, {}, &empty_body, key);
        expect_success(init, "POST (initiate multipart upload)", key);
        std::string upload_id;
        try {
            upload_id = xml::parse(init.body)->child_text("UploadId");
        } catch (const Error& e) {
            fail(ErrorKind::io, "{}: initiating the multipart upload of {}: {}", describe(), key, e.what());
        }
        if (upload_id.empty()) fail(ErrorKind::io, "{}: initiating the multipart upload of {}: no UploadId", describe(), key);
        try {
            std::uint64_t part_size = std::max<std::uint64_t>(m_tuning.part_size, 1);
            auto parts = static_cast<std::size_t>((size + part_size - 1) / part_size);
            std::vector<std::string> md5_hex(parts), md5_raw(parts);
            // Parts go up a few at a time: each one's hashing overlaps the others' transfers.
            util::parallel_for(
                parts,
                [&](std::size_t index) {
                    util::check_interrupted();
                    std::uint64_t offset = index * part_size;
                    std::uint64_t length = std::min(part_size, size - offset);
                    auto hash = hash_region(fd, offset, length, local.string());
                    Body body;
                    body.fd = fd;
                    body.offset = offset;
                    body.length = length;
                    body.payload_hash = hash.sha256_hex;
                    std::string number = std::to_string(index + 1);
                    std::string what = key + " (part " + number + ")";
                    Response r = execute("PUT", path, {{"partNumber", number}, {"uploadId", upload_id}},
                                         {{"Content-MD5", hash.md5_base64}}, &body, what);
                    expect_success(r, "PUT", what);
                    verify_etag(r.header("etag"), hash.md5_hex, what);
                    md5_hex[index] = hash.md5_hex;
                    md5_raw[index] = hash.md5_raw;
                },
                static_cast<unsigned>(std::clamp<std::size_t>(parts, 1, k_part_jobs)));
            std::string complete = "<CompleteMultipartUpload>";
            std::string md5s;
            for (std::size_t i = 0; i < parts; ++i) {
                md5s += md5_raw[i];
                complete += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" + md5_hex[i] +
                            "\"</ETag></Part>";
            }
            complete += "</CompleteMultipartUpload>";
            Body body;
            body.memory = &complete;
            body.length = complete.size();
            body.payload_hash = sigv4::sha256_hex(complete);
            Response r = execute("POST", path, {{"uploadId", upload_id}}, {}, &body, key + " (complete)");
            expect_success(r, "POST (complete multipart upload)", key);
            // S3 may answer 200 and still fail: the error is then in the body.
            std::unique_ptr<xml::Element> doc;
            try {
                doc = xml::parse(r.body);
            } catch (const Error& e) {
                fail(ErrorKind::io, "{}: completing the multipart upload of {}: {}", describe(), key, e.what());
            }
            if (doc->name == "Error") {
                fail(ErrorKind::io, "{}: completing the multipart upload of {}: {}: {}", describe(), key,
                     doc->child_text("Code"), doc->child_text("Message"));
            }
            std::string etag = strip_quotes(doc->child_text("ETag"));
            std::string expected = md5_hex_of(md5s) + "-" + std::to_string(parts);
            if (etag.find('-') != std::string::npos && etag != expected) {
                fail(ErrorKind::integrity, "{}: PUT {}: the remote assembled different parts (ETag {}, expected {})",
                     describe(), key, etag, expected);
            }
        } catch (...) {
            abort_multipart(path, upload_id);
            throw;
        }
    }

    void abort_multipart(const std::string& path, const std::string& upload_id) const noexcept {
        // Best effort: the parts of an upload that is neither completed nor aborted are never
        // visible under the key, only billed (a bucket lifecycle rule cleans them).
        t_ignore_interrupt = true;
        try {
            (void)perform("DELETE", path, {{"uploadId", upload_id}}, {}, nullptr);
        } catch (...) {
        }
        t_ignore_interrupt = false;
    }

    // The object's full size, from a 200's Content-Length or a 206's Content-Range.
    static std::optional<std::uint64_t> expected_total(const Response& r, std::uint64_t start) {
        if (r.status == 206) {
            auto range = r.header("content-range"); // bytes START-END/TOTAL
            auto slash = range.rfind('/');
            if (slash != std::string::npos) return parse_u64(std::string_view(range).substr(slash + 1));
            return std::nullopt;
        }
        (void)start;
        return parse_u64(r.header("content-length")); // a 200 sends the whole object
    }

    S3Options m_options;
    S3Tuning m_tuning;
    aws::Resolved m_auth;
    std::string m_host;      // the Host header: [bucket.]host[:port]
    std::string m_origin;    // scheme://host[:port]
    std::string m_base_path; // "/bucket" (path style) or "" (virtual host), under the endpoint's own path
};

} // namespace

S3Tuning S3Tuning::from_env(const aws::Env& env) {
    S3Tuning tuning;
    auto number = [&env](const char* name) -> std::optional<std::uint64_t> {
        auto value = env(name);
        if (!value) return std::nullopt;
        auto parsed = parse_u64(*value);
        if (!parsed || *parsed == 0) return std::nullopt;
        return parsed;
    };
    if (auto v = number("CAIRN_S3_MULTIPART_THRESHOLD")) tuning.multipart_threshold = *v;
    if (auto v = number("CAIRN_S3_PART_SIZE")) tuning.part_size = *v;
    if (auto v = number("CAIRN_S3_MAX_KEYS")) tuning.max_keys = static_cast<int>(std::min<std::uint64_t>(*v, 1000));
    if (auto v = number("CAIRN_S3_RETRIES")) tuning.retries = static_cast<int>(std::min<std::uint64_t>(*v, 30));
    if (auto value = env("CAIRN_S3_RETRIES"); value && *value == "0") tuning.retries = 0;
    if (auto v = number("CAIRN_S3_RETRY_BASE_MS")) tuning.retry_base_ms = static_cast<int>(std::min<std::uint64_t>(*v, 60000));
    return tuning;
}

S3Options parse_s3_url(const std::string& url) {
    constexpr std::string_view scheme = "s3://";
    if (url.rfind(scheme, 0) != 0 || url.size() == scheme.size() || url[scheme.size()] == '/') {
        fail(ErrorKind::input, "'{}' is not an S3 URL (expected s3://BUCKET[/PREFIX])", url);
    }
    S3Options options;
    std::string rest = url.substr(scheme.size());
    auto slash = rest.find('/');
    options.bucket = rest.substr(0, slash);
    if (slash != std::string::npos) {
        options.prefix = rest.substr(slash + 1);
        while (!options.prefix.empty() && options.prefix.back() == '/') options.prefix.pop_back();
    }
    return options;
}

std::unique_ptr<Backend> open_s3(const S3Options& options, const S3Tuning& tuning, const aws::Env& env) {
    aws::Resolved auth;
    try {
        auth = aws::resolve(env, options.region);
    } catch (const Error& e) {
        fail(e.kind(), "S3 remote s3://{}{}: {}", options.bucket, options.prefix.empty() ? "" : "/" + options.prefix, e.what());
    }
    return std::make_unique<S3Backend>(options, tuning, std::move(auth));
}

std::unique_ptr<Backend> open_s3(const S3Options& options) {
    return open_s3(options, S3Tuning::from_env(aws::process_env), aws::process_env);
}

} // namespace cairn::remote
