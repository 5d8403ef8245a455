// The LFS batch answer when the client offered "xet": which transfers go through the CAS.
#include "upload/pipeline.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace hfhub;
using namespace hfhub::upload;

namespace {

const std::string sha_a(64, 'a'), sha_b(64, 'b');

std::vector<lfs_object> objects() {
    std::vector<lfs_object> objs(2);
    objs[0].oid = sha_a;
    objs[0].size = 100;
    objs[0].path_in_repo = "a.bin";
    objs[1].oid = sha_b;
    objs[1].size = 200;
    objs[1].path_in_repo = "b.bin";
    return objs;
}

std::vector<std::unique_ptr<lfs_transfer>> parse(const std::string& body, bool offered,
                                                 const std::vector<lfs_object>& objs) {
    http_request rq;
    rq.method = "POST";
    rq.url = "http://hub/m.git/info/lfs/objects/batch";
    http_response rs;
    rs.status = 200;
    rs.body = body;
    std::vector<std::unique_ptr<lfs_transfer>> out;
    parse_lfs_batch("http://hub", rq, rs, objs, 0, objs.size(), out, offered);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_upload_batch)

BOOST_AUTO_TEST_CASE(a_xet_answer_marks_its_transfers_and_keeps_the_token_headers) {
    auto objs = objects();
    const std::string body = R"({"transfer":"xet","objects":[
        {"oid":")" + sha_a + R"(","size":100,"actions":{"upload":{"href":"http://hub/api/models/m/xet-write-token/main",
          "header":{"X-Xet-Access-Token":"tok","X-Xet-Cas-Url":"http://cas","X-Xet-Token-Expiration":"1999999999",
                    "chunk_size":"5"}}}},
        {"oid":")" + sha_b + R"(","size":200}]})";
    auto out = parse(body, true, objs);
    BOOST_REQUIRE(out.size() == 1u);  // b is stored already
    BOOST_TEST(out[0]->xet);
    BOOST_TEST(out[0]->obj == &objs[0]);
    BOOST_TEST(out[0]->upload_href == "http://hub/api/models/m/xet-write-token/main");
    BOOST_TEST(out[0]->chunk == 0u);  // no multipart reading of a xet header
    BOOST_TEST(out[0]->parts.empty());
    bool token = false;
    for (auto& [k, v] : out[0]->upload_headers) token = token || (k == "X-Xet-Access-Token" && v == "tok");
    BOOST_TEST(token);
}

BOOST_AUTO_TEST_CASE(basic_and_multipart_answers_are_not_xet) {
    auto objs = objects();
    for (std::string transfer : {"", R"("transfer":"basic",)", R"("transfer":"multipart",)", R"("transfer":null,)"}) {
        const std::string body = "{" + transfer + R"("objects":[
            {"oid":")" + sha_a + R"(","size":100,"actions":{"upload":{"href":"http://storage/put/a"}}},
            {"oid":")" + sha_b + R"(","size":200,"actions":{"upload":{"href":"http://storage/put/b"}}}]})";
        auto out = parse(body, true, objs);
        BOOST_REQUIRE(out.size() == 2u);
        BOOST_TEST(!out[0]->xet, transfer);
        BOOST_TEST(!out[1]->xet, transfer);
    }
}

BOOST_AUTO_TEST_CASE(xet_without_the_offer_or_a_bad_transfer_is_a_protocol_error) {
    auto objs = objects();
    const std::string objects_json = R"("objects":[{"oid":")" + sha_a + R"(","size":100},{"oid":")" + sha_b +
                                     R"(","size":200}])";
    auto code_of = [&](const std::string& body, bool offered) {
        try {
            parse(body, offered, objs);
        } catch (const hfhub::error& e) {
            return e.code();
        }
        return std::error_code();
    };
    BOOST_TEST((code_of(R"({"transfer":"xet",)" + objects_json + "}", false) == client_errc::protocol_error));
    BOOST_TEST((code_of(R"({"transfer":7,)" + objects_json + "}", true) == client_errc::protocol_error));
    BOOST_TEST((code_of(R"({"transfer":"xet",)" + objects_json + "}", true) == std::error_code()));
}

BOOST_AUTO_TEST_CASE(a_refused_object_in_a_xet_answer_fails) {
    auto objs = objects();
    const std::string body = R"({"transfer":"xet","objects":[
        {"oid":")" + sha_a + R"(","size":100,"error":{"code":422,"message":"too big"}},
        {"oid":")" + sha_b + R"(","size":200}]})";
    try {
        parse(body, true, objs);
        BOOST_FAIL("a refused object was accepted");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hub_errc::unprocessable));
    }
}

BOOST_AUTO_TEST_SUITE_END()
