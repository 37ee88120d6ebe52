#include "core/hash/hash.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but EVP's first digest
// fetch builds the provider's whole algorithm name map: about 1.3 ms of every cairn process
// (9% of an up-to-date `cairn repro`). The low-level functions run the same assembly
// (SHA-NI where the CPU has it) without a fetch.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "core/util/error.hpp"

namespace cairn::hash {
namespace {

constexpr char k_hex_digits[] = "0123456789abcdef";

// 0..15 for a hex digit (either case), -1 otherwise. A table: ids are parsed by the hundred
// thousand when the stat cache and large trees load.
constexpr std::array<std::int8_t, 256> make_hex_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'A' + 10);
    return t;
}
constexpr auto k_hex_table = make_hex_table();

} // namespace

std::string Digest::hex() const {
    std::string out(64, '0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = k_hex_digits[bytes[i] >> 4];
        out[2 * i + 1] = k_hex_digits[bytes[i] & 0xf];
    }
    return out;
}

std::string Digest::id() const { return std::string(k_id_prefix) + hex(); }

std::optional<Digest> Digest::from_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    Digest d;
    int bad = 0;
    for (std::size_t i = 0; i < 32; ++i) {
        int hi = k_hex_table[static_cast<unsigned char>(hex[2 * i])];
        int lo = k_hex_table[static_cast<unsigned char>(hex[2 * i + 1])];
        bad |= hi | lo; // negative if either is not a hex digit
        d.bytes[i] = static_cast<std::uint8_t>(((hi & 0xf) << 4) | (lo & 0xf));
    }
    if (bad < 0) return std::nullopt;
    return d;
}

std::optional<Digest> Digest::from_id(std::string_view id) {
    if (id.substr(0, k_id_prefix.size()) != k_id_prefix) return std::nullopt;
    return from_hex(id.substr(k_id_prefix.size()));
}

struct Sha256::Impl {
    SHA256_CTX ctx{};
    Impl() { reset(); }
    void reset() {
        if (SHA256_Init(&ctx) != 1) throw Error(ErrorKind::internal, "OpenSSL: cannot initialise SHA-256");
    }
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
    if (size != 0 && SHA256_Update(&m_impl->ctx, data, size) != 1)
        throw Error(ErrorKind::internal, "OpenSSL: SHA-256 update failed");
}

Digest Sha256::finish() {
    Digest d;
    if (SHA256_Final(d.bytes.data(), &m_impl->ctx) != 1) throw Error(ErrorKind::internal, "OpenSSL: SHA-256 final failed");
    m_impl->reset();
    return d;
}

Digest hash_bytes(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

Digest hash_fd(int fd, const std::string& what, std::uint64_t* size) {
    static constexpr std::size_t k_block = 1 << 20;
    thread_local std::vector<char> buffer(k_block);
    Sha256 h;
    std::uint64_t total = 0;
    while (true) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("cannot read " + what, errno);
        }
        if (n == 0) break;
        h.update(buffer.data(), static_cast<std::size_t>(n));
        total += static_cast<std::uint64_t>(n);
    }
    if (size) *size = total;
    return h.finish();
}

Digest hash_file(const std::filesystem::path& path, std::uint64_t* size) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK); // a FIFO must not block us
    if (fd < 0) fail_errno("cannot open " + path.string(), errno);
    try {
        struct stat st {};
        if (::fstat(fd, &st) != 0) fail_errno("cannot stat " + path.string(), errno);
        if (!S_ISREG(st.st_mode)) fail(ErrorKind::input, "{} is not a regular file", path.string());
        Digest d = hash_fd(fd, path.string(), size);
        ::close(fd);
        return d;
    } catch (...) {
        ::close(fd);
        throw;
    }
}

} // namespace cairn::hash
