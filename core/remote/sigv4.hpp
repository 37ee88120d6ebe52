#pragma once
// AWS Signature Version 4 (header-based), as S3 and every S3-compatible store check it: the
// canonical request, the string to sign, the signing key and the Authorization header, with
// HMAC-SHA256 and SHA-256 from OpenSSL. Pure functions of their inputs (the time is a parameter),
// so the AWS test-suite vectors pin them exactly (tests/unit/remote/test_sigv4.cpp).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::remote::sigv4 {

struct Credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token; // empty: none (long-term keys)
};

// How the path becomes the canonical URI. S3 signs the path as sent, each byte that is not
// unreserved percent-encoded once ('/' kept); other services also remove "." and ".." segments
// and collapse repeated '/' first.
enum class PathMode { s3, normalize };

// Whether the payload hash is also sent (and signed) as the x-amz-content-sha256 header. S3
// requires the header; the generic test suite signs it only for requests that sign their body.
enum class PayloadHeader { add, omit };

struct Request {
    std::string method;                                        // "GET", "PUT", ...
    std::string path;                                          // not percent-encoded, starts with '/'
    std::vector<std::pair<std::string, std::string>> query;    // decoded names and values, any order
    std::vector<std::pair<std::string, std::string>> headers;  // as sent; must include Host
    std::string payload_hash;                                  // 64 lowercase hex, or "UNSIGNED-PAYLOAD"
};

struct Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;     // 64 lowercase hex
    std::string authorization; // the Authorization header's value
    // Headers the signer added and the request must carry, in order: x-amz-date, then
    // x-amz-content-sha256 (PayloadHeader::add) and x-amz-security-token (with a session token).
    std::vector<std::pair<std::string, std::string>> added_headers;
};

// Signs `request` for `region` and `service` at `amz_date` ("YYYYMMDDTHHMMSSZ", UTC). Every
// header of the request is signed. Never throws for well-formed input.
[[nodiscard]] Signature sign(const Request& request, const Credentials& credentials, std::string_view region,
                             std::string_view service, std::string_view amz_date, PathMode path_mode,
                             PayloadHeader payload_header);

// "YYYYMMDDTHHMMSSZ" for the current UTC time.
[[nodiscard]] std::string amz_date_now();

// RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ kept, every other byte as
// %XX (upper-case hex); '/' kept only when `keep_slash`.
[[nodiscard]] std::string uri_encode(std::string_view text, bool keep_slash);

// Lowercase hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

// The hash S3 uses for an empty payload (sha256_hex("")).
inline constexpr std::string_view k_empty_payload_hash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view k_unsigned_payload = "UNSIGNED-PAYLOAD";

} // namespace cairn::remote::sigv4
