#pragma once
// The S3 backend (any S3-compatible store: AWS, MinIO, Ceph, s3rver): libcurl for HTTP, requests
// signed with AWS Signature Version 4 (core/remote/sigv4). Credentials come only from the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE) or the
// standard files ~/.aws/credentials and ~/.aws/config (core/remote/aws_config).
//
// Objects live at `<prefix>/<key>`. An upload is one PUT verified by its MD5 (the ETag S3 answers,
// and Content-MD5 for keys that do not name an object) and its SHA-256 (signed
// x-amz-content-sha256: for an object key `sha256/ab/<62 hex>` the id itself, checked while
// sending, the last bytes held back unless they match), or above the multipart threshold
// a multipart upload that is completed, or aborted on any failure: a reader never sees a partial
// object under a key. A download that breaks off resumes with a Range request for the rest.
// Requests that fail with 5xx, 429, a reset or a timeout are retried with exponential backoff.

#include "core/remote/aws_config.hpp"
#include "core/remote/backend.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cairn::remote {

struct S3Options {
    std::string bucket;
    std::string prefix;                // without leading or trailing '/'; empty for the bucket root
    std::string endpoint;              // e.g. "http://127.0.0.1:9000"; empty: AWS for `region`
    std::string region;                // empty: from AWS_REGION / AWS_DEFAULT_REGION / ~/.aws/config, else us-east-1
    std::optional<bool> path_style;    // unset: path style when an endpoint is given, virtual-host style on AWS
};

// The knobs tests and benchmarks turn; the defaults suit AWS. from_env() reads
// CAIRN_S3_MULTIPART_THRESHOLD and CAIRN_S3_PART_SIZE (bytes), CAIRN_S3_MAX_KEYS (keys per
// listing page), CAIRN_S3_RETRIES (tries after the first) and CAIRN_S3_RETRY_BASE_MS (the first
// backoff; each next one doubles, up to 10 s), ignoring values that are not positive numbers.
struct S3Tuning {
    std::uint64_t multipart_threshold = 64ull << 20; // objects this size and above go multipart
    std::uint64_t part_size = 16ull << 20;           // S3 wants at least 5 MiB but for the last part
    int max_keys = 1000;
    int retries = 5;
    int retry_base_ms = 250;
    [[nodiscard]] static S3Tuning from_env(const aws::Env& env);
};

// Splits `s3://BUCKET[/PREFIX]` into bucket and prefix; Error(input) naming the URL otherwise.
[[nodiscard]] S3Options parse_s3_url(const std::string& url);

// A backend for the bucket and prefix. Throws Error(environment) when no credentials are found
// or when the HTTP library cannot be loaded, Error(input) for an endpoint that is not an
// http:// or https:// URL. Nothing is sent until the first call.
[[nodiscard]] std::unique_ptr<Backend> open_s3(const S3Options& options);
// The same, with explicit tuning and environment (tests).
[[nodiscard]] std::unique_ptr<Backend> open_s3(const S3Options& options, const S3Tuning& tuning, const aws::Env& env);

} // namespace cairn::remote
