// Placeholder until the S3 backend lands (issue 12): the URL parser is real, opening is refused.
#include "core/remote/s3.hpp"

#include "core/util/error.hpp"

namespace cairn::remote {

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

std::unique_ptr<Backend> open_s3(const S3Options& options) {
    fail(ErrorKind::environment, "S3 remote s3://{}: S3 support is not built yet", options.bucket);
}

} // namespace cairn::remote
