#pragma once
// Where the S3 backend's credentials and region come from, in the AWS CLI's order: the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the profile
// AWS_PROFILE (default "default") in ~/.aws/credentials (`[NAME]`) and ~/.aws/config
// (`[profile NAME]`, or `[default]`); AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move those
// files. The region: AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, else us-east-1.
// Nothing here is ever written anywhere: secrets stay where the user keeps them.

#include "core/remote/sigv4.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::remote::aws {

// An INI file as the AWS tools write it: `[section]` headers, `key = value` lines, comments
// from '#' or ';' at the start of a line. Indented lines (the nested `s3 =` blocks of
// ~/.aws/config) and lines that are none of these are skipped, never an error; keys are
// lowercased, values trimmed; a repeated key keeps its last value.
using IniSection = std::map<std::string, std::string>;
using Ini = std::map<std::string, IniSection>;
[[nodiscard]] Ini parse_ini(std::string_view text);

// Reads the variable `name`; nullopt when it is unset or empty. Tests pass their own.
using Env = std::function<std::optional<std::string>(const char* name)>;
[[nodiscard]] std::optional<std::string> process_env(const char* name);

struct Resolved {
    sigv4::Credentials credentials;
    std::string region;
    std::string source; // where the credentials came from, for messages: "environment", "profile 'x' in ..."
};

// Credentials and region as above; `region_override` (the remote's `region`), when not empty,
// wins over every other source of the region. Throws Error(environment) naming what was looked
// at when no access key and secret are found, or when a profile holds only half of them.
[[nodiscard]] Resolved resolve(const Env& env, const std::string& region_override);

} // namespace cairn::remote::aws
