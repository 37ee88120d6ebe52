#include <catch2/catch.hpp>

#include "core/remote/aws_config.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

#include <map>

namespace aws = cairn::remote::aws;

namespace {

aws::Env fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end() || it->second.empty()) return std::nullopt;
        return it->second;
    };
}

} // namespace

TEST_CASE("aws ini parser reads sections and keys and skips junk", "[aws_config]") {
    auto ini = aws::parse_ini("# comment\nstray = before any section\n[default]\naws_access_key_id = AK \r\n"
                              "Aws_Secret_Access_Key=SK\n; other comment\n[profile   dev ]\nregion=eu-west-1\n"
                              "s3 =\n  addressing_style = path\n[broken\nkey = lost\n\xff\xfe junk line\n[x]\n=no key\n");
    CHECK(ini.size() == 3);
    CHECK(ini["default"]["aws_access_key_id"] == "AK");
    CHECK(ini["default"]["aws_secret_access_key"] == "SK");
    CHECK(ini["profile dev"]["region"] == "eu-west-1");
    CHECK(ini["profile dev"]["s3"].empty());
    CHECK(ini["profile dev"].count("addressing_style") == 0);
    CHECK(ini["x"].empty());
}

TEST_CASE("aws credentials come from the environment first", "[aws_config]") {
    cairn::test::TempDir dir;
    cairn::test::write_text(dir / "home/.aws/credentials", "[default]\naws_access_key_id=FILE\naws_secret_access_key=FS\n");
    auto resolved = aws::resolve(fake_env({{"HOME", (dir / "home").string()},
                                           {"AWS_ACCESS_KEY_ID", "ENV"},
                                           {"AWS_SECRET_ACCESS_KEY", "ES"},
                                           {"AWS_SESSION_TOKEN", "TOK"},
                                           {"AWS_DEFAULT_REGION", "ap-south-1"}}),
                                 "");
    CHECK(resolved.credentials.access_key == "ENV");
    CHECK(resolved.credentials.secret_key == "ES");
    CHECK(resolved.credentials.session_token == "TOK");
    CHECK(resolved.region == "ap-south-1");
    CHECK(resolved.source == "the environment");
}

TEST_CASE("aws credentials and region from the profile files", "[aws_config]") {
    cairn::test::TempDir dir;
    cairn::test::write_text(dir / "home/.aws/credentials",
                            "[default]\naws_access_key_id=D\naws_secret_access_key=DS\n"
                            "[dev]\naws_access_key_id = DEV\naws_secret_access_key = DEVS\naws_session_token = T\n");
    cairn::test::write_text(dir / "home/.aws/config", "[default]\nregion = eu-central-1\n[profile dev]\nregion = us-west-2\n");
    auto home = (dir / "home").string();
    auto by_default = aws::resolve(fake_env({{"HOME", home}}), "");
    CHECK(by_default.credentials.access_key == "D");
    CHECK(by_default.region == "eu-central-1");
    auto dev = aws::resolve(fake_env({{"HOME", home}, {"AWS_PROFILE", "dev"}}), "");
    CHECK(dev.credentials.access_key == "DEV");
    CHECK(dev.credentials.session_token == "T");
    CHECK(dev.region == "us-west-2");
    CHECK(dev.source.find("profile 'dev'") != std::string::npos);
    CHECK(aws::resolve(fake_env({{"HOME", home}, {"AWS_PROFILE", "dev"}, {"AWS_REGION", "sa-east-1"}}), "").region ==
          "sa-east-1");
    CHECK(aws::resolve(fake_env({{"HOME", home}, {"AWS_REGION", "sa-east-1"}}), "me-south-1").region == "me-south-1");
}

TEST_CASE("aws file locations follow AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE", "[aws_config]") {
    cairn::test::TempDir dir;
    cairn::test::write_text(dir / "c.ini", "[p]\naws_access_key_id=K\naws_secret_access_key=S\n");
    cairn::test::write_text(dir / "g.ini", "[profile p]\nregion=ca-central-1\n");
    auto resolved = aws::resolve(fake_env({{"AWS_SHARED_CREDENTIALS_FILE", (dir / "c.ini").string()},
                                           {"AWS_CONFIG_FILE", (dir / "g.ini").string()},
                                           {"AWS_PROFILE", "p"}}),
                                 "");
    CHECK(resolved.credentials.access_key == "K");
    CHECK(resolved.region == "ca-central-1");
    // Keys in the config file's profile are used when the credentials file has none.
    cairn::test::write_text(dir / "g2.ini", "[profile q]\naws_access_key_id=CK\naws_secret_access_key=CS\n");
    auto from_config = aws::resolve(fake_env({{"AWS_CONFIG_FILE", (dir / "g2.ini").string()},
                                              {"AWS_SHARED_CREDENTIALS_FILE", (dir / "none").string()},
                                              {"AWS_PROFILE", "q"}}),
                                    "");
    CHECK(from_config.credentials.access_key == "CK");
    CHECK(from_config.region == "us-east-1");
}

TEST_CASE("aws missing or half credentials are an environment error", "[aws_config]") {
    cairn::test::TempDir dir;
    try {
        (void)aws::resolve(fake_env({{"HOME", dir.path().string()}}), "");
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::environment);
        CHECK(std::string(e.what()).find("no AWS credentials") != std::string::npos);
    }
    CHECK_THROWS_AS(aws::resolve(fake_env({{"AWS_ACCESS_KEY_ID", "K"}}), ""), cairn::Error);
    cairn::test::write_text(dir / ".aws/credentials", "[default]\naws_access_key_id=K\n");
    try {
        (void)aws::resolve(fake_env({{"HOME", dir.path().string()}}), "");
        FAIL("no error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::environment);
        CHECK(std::string(e.what()).find("no aws_secret_access_key") != std::string::npos);
    }
}
