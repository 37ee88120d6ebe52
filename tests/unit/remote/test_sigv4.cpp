// The signer against AWS's published vectors: the SigV4 test suite (every case but one, see
// sigv4_vectors.inc) and the four worked examples of the S3 documentation ("Signature
// Calculations for the Authorization Header", access key AKIAIOSFODNN7EXAMPLE, 20130524T000000Z).
#include <catch2/catch.hpp>

#include "core/remote/sigv4.hpp"

#include <string>
#include <string_view>

namespace sigv4 = cairn::remote::sigv4;

namespace {

struct Vector {
    const char* name;
    bool normalize;
    bool sign_body;
    const char* token;
    const char* request;
    const char* canonical_request;
    const char* string_to_sign;
    const char* signature;
};

const Vector k_vectors[] = {
#include "tests/unit/remote/sigv4_vectors.inc"
};

std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// Reads the suite's request.txt: request line, headers (a line starting with white space
// continues the previous one), blank line, body.
sigv4::Request parse_request(std::string_view text, std::string& body) {
    sigv4::Request request;
    auto line_end = text.find('\n');
    std::string_view line = text.substr(0, line_end);
    auto first_space = line.find(' ');
    auto http = line.rfind(" HTTP/");
    request.method = std::string(line.substr(0, first_space));
    std::string_view target = line.substr(first_space + 1, http - first_space - 1);
    auto question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) {
        std::string_view query = target.substr(question + 1);
        while (!query.empty()) {
            auto amp = query.find('&');
            std::string_view item = query.substr(0, amp);
            auto eq = item.find('=');
            request.query.emplace_back(percent_decode(item.substr(0, eq)),
                                       eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1)));
            query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        }
    }
    std::size_t pos = line_end == std::string_view::npos ? text.size() : line_end + 1;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view header = text.substr(pos, end - pos);
        pos = end + 1;
        if (header.empty()) {
            if (pos < text.size()) body = std::string(text.substr(pos));
            break;
        }
        if (header.front() == ' ' || header.front() == '\t') {
            request.headers.back().second += "\n" + std::string(header);
            continue;
        }
        auto colon = header.find(':');
        request.headers.emplace_back(std::string(header.substr(0, colon)), std::string(header.substr(colon + 1)));
    }
    return request;
}

} // namespace

TEST_CASE("sigv4 matches every case of the AWS SigV4 test suite", "[sigv4]") {
    const sigv4::Credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    for (const auto& vector : k_vectors) {
        INFO("case " << vector.name);
        std::string body;
        auto request = parse_request(vector.request, body);
        request.payload_hash = sigv4::sha256_hex(body);
        auto with_token = credentials;
        with_token.session_token = vector.token;
        auto signature = sigv4::sign(request, with_token, "us-east-1", "service", "20150830T123600Z",
                                     vector.normalize ? sigv4::PathMode::normalize : sigv4::PathMode::s3,
                                     vector.sign_body ? sigv4::PayloadHeader::add : sigv4::PayloadHeader::omit);
        CHECK(signature.canonical_request == vector.canonical_request);
        CHECK(signature.string_to_sign == vector.string_to_sign);
        CHECK(signature.signature == vector.signature);
        CHECK(signature.authorization.ends_with(std::string("Signature=") + vector.signature));
    }
}

TEST_CASE("sigv4 pins the suite cases the S3 backend depends on", "[sigv4]") {
    // Guards against the list above silently shrinking.
    std::size_t found = 0;
    for (const auto& vector : k_vectors) {
        for (std::string_view name : {"get-vanilla", "get-vanilla-query-order-key-case", "post-x-www-form-urlencoded",
                                      "get-header-value-trim", "get-utf8", "get-space-unnormalized",
                                      "get-slash-dot-slash-normalized", "get-relative-relative-unnormalized",
                                      "get-vanilla-with-session-token", "get-header-key-duplicate"}) {
            if (name == vector.name) ++found;
        }
    }
    CHECK(found == 10);
    CHECK(std::size(k_vectors) >= 36);
}

namespace {

const sigv4::Credentials k_s3_example{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

sigv4::Signature sign_s3(sigv4::Request request) {
    return sigv4::sign(request, k_s3_example, "us-east-1", "s3", "20130524T000000Z", sigv4::PathMode::s3,
                       sigv4::PayloadHeader::add);
}

} // namespace

TEST_CASE("sigv4 matches the S3 documentation's GET object with a range", "[sigv4]") {
    auto signature = sign_s3({"GET", "/test.txt", {}, {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}},
                              std::string(sigv4::k_empty_payload_hash)});
    CHECK(signature.canonical_request == "GET\n/test.txt\n\n"
                                         "host:examplebucket.s3.amazonaws.com\n"
                                         "range:bytes=0-9\n"
                                         "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                                         "x-amz-date:20130524T000000Z\n\n"
                                         "host;range;x-amz-content-sha256;x-amz-date\n"
                                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(signature.string_to_sign == "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                                      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CHECK(signature.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK(signature.authorization ==
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
          "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("sigv4 matches the S3 documentation's PUT object", "[sigv4]") {
    std::string body = "Welcome to Amazon S3.";
    CHECK(sigv4::sha256_hex(body) == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    auto signature = sign_s3({"PUT",
                              "/test$file.text",
                              {},
                              {{"Host", "examplebucket.s3.amazonaws.com"},
                               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                               {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                              sigv4::sha256_hex(body)});
    CHECK(signature.canonical_request ==
          "PUT\n/test%24file.text\n\n"
          "date:Fri, 24 May 2013 00:00:00 GMT\n"
          "host:examplebucket.s3.amazonaws.com\n"
          "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
          "x-amz-date:20130524T000000Z\n"
          "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
          "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
          "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    CHECK(signature.string_to_sign == "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                                      "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    CHECK(signature.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_CASE("sigv4 matches the S3 documentation's GET bucket lifecycle", "[sigv4]") {
    auto signature = sign_s3({"GET", "/", {{"lifecycle", ""}}, {{"Host", "examplebucket.s3.amazonaws.com"}},
                              std::string(sigv4::k_empty_payload_hash)});
    CHECK(signature.canonical_request == "GET\n/\nlifecycle=\n"
                                         "host:examplebucket.s3.amazonaws.com\n"
                                         "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                                         "x-amz-date:20130524T000000Z\n\n"
                                         "host;x-amz-content-sha256;x-amz-date\n"
                                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(signature.string_to_sign == "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                                      "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
    CHECK(signature.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST_CASE("sigv4 matches the S3 documentation's list objects, query sorted", "[sigv4]") {
    auto signature = sign_s3({"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"Host", "examplebucket.s3.amazonaws.com"}},
                              std::string(sigv4::k_empty_payload_hash)});
    CHECK(signature.canonical_request == "GET\n/\nmax-keys=2&prefix=J\n"
                                         "host:examplebucket.s3.amazonaws.com\n"
                                         "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                                         "x-amz-date:20130524T000000Z\n\n"
                                         "host;x-amz-content-sha256;x-amz-date\n"
                                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(signature.string_to_sign == "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                                      "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
    CHECK(signature.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("sigv4 S3 mode neither normalizes nor double-encodes the path", "[sigv4]") {
    auto signature = sign_s3({"GET", "/bucket/a/../b//c d%", {}, {{"Host", "h"}}, std::string(sigv4::k_unsigned_payload)});
    CHECK(signature.canonical_request.starts_with("GET\n/bucket/a/../b//c%20d%25\n"));
    CHECK(signature.canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
    CHECK(signature.added_headers.size() == 2);
    CHECK(signature.added_headers[1].second == "UNSIGNED-PAYLOAD");
}

TEST_CASE("sigv4 signs and adds a session token", "[sigv4]") {
    auto credentials = k_s3_example;
    credentials.session_token = "TOKEN/+=";
    auto signature = sigv4::sign({"GET", "/", {}, {{"Host", "h"}}, std::string(sigv4::k_empty_payload_hash)}, credentials,
                                 "eu-west-1", "s3", "20130524T000000Z", sigv4::PathMode::s3, sigv4::PayloadHeader::add);
    CHECK(signature.canonical_request.find("x-amz-security-token:TOKEN/+=\n") != std::string::npos);
    CHECK(signature.authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") !=
          std::string::npos);
    CHECK(signature.added_headers.back() == std::pair<std::string, std::string>{"x-amz-security-token", "TOKEN/+="});
}

TEST_CASE("sigv4 uri_encode keeps only unreserved bytes", "[sigv4]") {
    CHECK(sigv4::uri_encode("A-z_0.9~", false) == "A-z_0.9~");
    CHECK(sigv4::uri_encode("a b+c=&/", false) == "a%20b%2Bc%3D%26%2F");
    CHECK(sigv4::uri_encode("a/b", true) == "a/b");
    CHECK(sigv4::uri_encode("\xe1\x88\xb4", true) == "%E1%88%B4");
    CHECK(sigv4::amz_date_now().size() == 16);
}
