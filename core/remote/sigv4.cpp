#include "core/remote/sigv4.hpp"

#include <algorithm>
#include <ctime>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace cairn::remote::sigv4 {
namespace {

std::string to_hex(const unsigned char* data, std::size_t size) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out(size * 2, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = k_digits[data[i] >> 4];
        out[2 * i + 1] = k_digits[data[i] & 0xf];
    }
    return out;
}

std::string hmac(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &size);
    return std::string(reinterpret_cast<const char*>(out), size);
}

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// RFC 3986 remove_dot_segments, plus collapsing empty segments, as the generic services do.
std::string normalize_path(std::string_view path) {
    std::vector<std::string_view> segments;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        auto segment = path.substr(start, end - start);
        if (segment == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        start = end + 1;
    }
    std::string out;
    for (auto segment : segments) {
        out += '/';
        out += segment;
    }
    // A trailing '/' (or a last "." / ".." segment) names a directory: keep it.
    bool trailing = !path.empty() && (path.back() == '/' || path.ends_with("/.") || path.ends_with("/.."));
    if (out.empty() || trailing) out += '/';
    return out;
}

std::string trim_collapse(std::string_view value) {
    std::string out;
    bool space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

} // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr char k_digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (unreserved(c) || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += k_digits[c >> 4];
            out += k_digits[c & 0xf];
        }
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char out[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
    return to_hex(out, sizeof out);
}

std::string amz_date_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &tm);
    return buffer;
}

Signature sign(const Request& request, const Credentials& credentials, std::string_view region,
               std::string_view service, std::string_view amz_date, PathMode path_mode, PayloadHeader payload_header) {
    Signature result;
    result.added_headers.emplace_back("x-amz-date", std::string(amz_date));
    if (payload_header == PayloadHeader::add) result.added_headers.emplace_back("x-amz-content-sha256", request.payload_hash);
    if (!credentials.session_token.empty()) {
        result.added_headers.emplace_back("x-amz-security-token", credentials.session_token);
    }

    // Headers: lowercase names, trimmed values, sorted by name (stable: repeated names keep their
    // order and are joined with ',').
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : request.headers) headers.emplace_back(lower(name), trim_collapse(value));
    for (const auto& [name, value] : result.added_headers) {
        auto lowered = lower(name);
        // A caller that set one of these itself is overridden, never signed twice.
        std::erase_if(headers, [&lowered](const auto& header) { return header.first == lowered; });
        headers.emplace_back(lowered, value);
    }
    std::stable_sort(headers.begin(), headers.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string canonical_headers, signed_headers;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        if (i > 0 && headers[i].first == headers[i - 1].first) {
            canonical_headers.back() = ',';
            canonical_headers += headers[i].second + '\n';
            continue;
        }
        canonical_headers += headers[i].first + ':' + headers[i].second + '\n';
        if (!signed_headers.empty()) signed_headers += ';';
        signed_headers += headers[i].first;
    }

    std::vector<std::pair<std::string, std::string>> query;
    for (const auto& [name, value] : request.query) query.emplace_back(uri_encode(name, false), uri_encode(value, false));
    std::sort(query.begin(), query.end());
    std::string canonical_query;
    for (const auto& [name, value] : query) {
        if (!canonical_query.empty()) canonical_query += '&';
        canonical_query += name + '=' + value;
    }

    std::string path = path_mode == PathMode::normalize ? normalize_path(request.path) : request.path;
    if (path.empty()) path = "/";
    result.canonical_request = request.method + '\n' + uri_encode(path, true) + '\n' + canonical_query + '\n' +
                               canonical_headers + '\n' + signed_headers + '\n' + request.payload_hash;

    std::string date(amz_date.substr(0, 8));
    std::string scope = date + '/' + std::string(region) + '/' + std::string(service) + "/aws4_request";
    result.string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + '\n' + scope + '\n' +
                            sha256_hex(result.canonical_request);

    std::string key = hmac("AWS4" + credentials.secret_key, date);
    key = hmac(key, region);
    key = hmac(key, service);
    key = hmac(key, "aws4_request");
    std::string raw = hmac(key, result.string_to_sign);
    result.signature = to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    result.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key + '/' + scope +
                           ", SignedHeaders=" + signed_headers + ", Signature=" + result.signature;
    return result;
}

} // namespace cairn::remote::sigv4
