// libFuzzer: card parsing must accept or throw hfhub::error; what parses must save and re-parse
// to the same card data.
#include <hfhub/model_card.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <string_view>
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        auto card = hfhub::model_card::parse(text);
        std::string saved;
        try {
            saved = card.to_string();
        } catch (const hfhub::error&) {
            return 0;  // e.g. data that yaml-cpp cannot emit
        }
        auto again = hfhub::model_card::parse(saved);
        if (boost::json::serialize(again.data()) != boost::json::serialize(card.data())) std::abort();
    } catch (const hfhub::error&) {
    }
    return 0;
}
