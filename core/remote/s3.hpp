#pragma once
// The S3 backend (any S3-compatible store: AWS, MinIO, Ceph, s3rver): libcurl for HTTP, requests
// signed with AWS Signature Version 4 (core/remote/sigv4). Credentials come only from the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE) or the
// standard files ~/.aws/credentials and ~/.aws/config.

#include "core/remote/backend.hpp"

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

// Splits `s3://BUCKET[/PREFIX]` into bucket and prefix; Error(input) naming the URL otherwise.
[[nodiscard]] S3Options parse_s3_url(const std::string& url);

// A backend for the bucket and prefix. Throws Error(environment) when no credentials are found
// or when the HTTP library cannot be loaded.
[[nodiscard]] std::unique_ptr<Backend> open_s3(const S3Options& options);

} // namespace cairn::remote
