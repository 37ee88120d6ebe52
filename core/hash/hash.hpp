#pragma once
// Streaming SHA-256 (OpenSSL EVP) and the object id format `sha256:<64 lowercase hex>`.

#include <array>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::hash {

// A SHA-256 digest. Ordered and hashable so it can key maps and sets.
struct Digest {
    std::array<std::uint8_t, 32> bytes{};

    // 64 lowercase hex digits.
    [[nodiscard]] std::string hex() const;
    // "sha256:" + hex().
    [[nodiscard]] std::string id() const;

    // Parses exactly 64 hex digits (either case); nullopt otherwise.
    [[nodiscard]] static std::optional<Digest> from_hex(std::string_view hex);
    // Parses "sha256:<64 hex>"; nullopt otherwise.
    [[nodiscard]] static std::optional<Digest> from_id(std::string_view id);

    auto operator<=>(const Digest&) const = default;
    bool operator==(const Digest&) const = default;
};

inline constexpr std::string_view k_id_prefix = "sha256:";

// Incremental hasher. Not copyable; cheap to move.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(const void* data, std::size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    // Returns the digest; the hasher is reset and can be reused.
    [[nodiscard]] Digest finish();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Digest of a byte string.
[[nodiscard]] Digest hash_bytes(std::string_view data);

// Digest of a file's contents, read in large blocks. Sets *size to the byte count if given.
// Throws Error(io) when the file cannot be read.
[[nodiscard]] Digest hash_file(const std::filesystem::path& path, std::uint64_t* size = nullptr);

// Digest of everything readable from an open descriptor (from its current offset).
[[nodiscard]] Digest hash_fd(int fd, const std::string& what, std::uint64_t* size = nullptr);

} // namespace cairn::hash

template <> struct std::hash<cairn::hash::Digest> {
    std::size_t operator()(const cairn::hash::Digest& d) const noexcept {
        std::size_t h;
        static_assert(sizeof h <= sizeof d.bytes);
        __builtin_memcpy(&h, d.bytes.data(), sizeof h);
        return h;
    }
};
