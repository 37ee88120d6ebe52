#include <catch2/catch.hpp>

#include "core/remote/xml.hpp"
#include "core/util/error.hpp"

namespace xml = cairn::remote::xml;

TEST_CASE("s3 xml reads a ListObjectsV2 page", "[s3_xml]") {
    auto doc = xml::parse(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>p/a&amp;b</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>
  <!-- a comment -->
  <Contents><Key><![CDATA[p/<c>]]></Key><Size>0</Size></Contents>
  <NextContinuationToken>tok/+=</NextContinuationToken>
  <Owner/>
</ListBucketResult>
)");
    CHECK(doc->name == "ListBucketResult");
    CHECK(doc->child_text("IsTruncated") == "true");
    CHECK(doc->child_text("NextContinuationToken") == "tok/+=");
    CHECK(doc->child_text("Missing").empty());
    CHECK(doc->child("Owner") != nullptr);
    std::vector<std::string> keys;
    for (const auto& c : doc->children) {
        if (c->name == "Contents") keys.push_back(c->child_text("Key"));
    }
    CHECK(keys == std::vector<std::string>{"p/a&b", "p/<c>"});
}

TEST_CASE("s3 xml drops namespace prefixes and decodes character references", "[s3_xml]") {
    auto doc = xml::parse("<s3:Error a='1' b=\"2\"><s3:Code>X</s3:Code><Message>&#65;&#x42;&#xe9;&#x1F600;</Message></s3:Error>");
    CHECK(doc->name == "Error");
    CHECK(doc->child_text("Code") == "X");
    CHECK(doc->child_text("Message") == "AB\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("s3 xml refuses malformed documents with an io error", "[s3_xml]") {
    for (const char* bad : {"", "text", "<a>", "<a></b>", "<a><b></a></b>", "<a>&bogus;</a>", "<a>&#0;</a>",
                            "<a>&#x110000;</a>", "<a x=1></a>", "<a></a><b/>", "<!DOCTYPE a><a/>", "<a><![CDATA[x</a>",
                            "<a>&#xD800;</a>", "<a", "<a/", "<>",
                            "<a:></a:>", "<a:?b></a:?b>"}) {
        INFO("document: " << bad);
        try {
            (void)xml::parse(bad);
            FAIL("parsed");
        } catch (const cairn::Error& e) {
            CHECK(e.kind() == cairn::ErrorKind::io);
            CHECK(std::string(e.what()).find("malformed XML: ") == 0);
        }
    }
}

TEST_CASE("s3 xml bounds nesting", "[s3_xml]") {
    std::string deep;
    for (int i = 0; i < xml::k_max_depth; ++i) deep += "<a>";
    for (int i = 0; i < xml::k_max_depth; ++i) deep += "</a>";
    CHECK_NOTHROW(xml::parse(deep));
    std::string deeper = "<a>" + deep + "</a>";
    CHECK_THROWS_WITH(xml::parse(deeper), Catch::Contains("nested too deeply"));
    CHECK(xml::escape("a<&>\"'") == "a&lt;&amp;&gt;&quot;&apos;");
}
