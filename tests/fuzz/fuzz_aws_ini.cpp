// ~/.aws/credentials and ~/.aws/config (core/remote/aws_config): parse_ini on any bytes never
// fails, and the round trip: the parsed sections written back as `[name]` / `key = value` lines
// parse to the same sections.

#include "core/remote/aws_config.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input = cairn::fuzz::bytes(data, size);
    cairn::fuzz::run_one("aws_ini", [&] {
        auto ini = cairn::remote::aws::parse_ini(input);
        std::string written;
        for (const auto& [name, section] : ini) {
            written += "[" + name + "]\n";
            for (const auto& [key, value] : section) written += key + " = " + value + "\n";
        }
        if (cairn::remote::aws::parse_ini(written) != ini) {
            cairn::fuzz::property_failed("aws_ini", "parse(write(ini)) != ini", written);
        }
    });
    return 0;
}
