// libFuzzer: a card template renders or throws hfhub::error(invalid_argument), and a rendered
// template has no unbalanced block left: rendering the same template twice gives the same text.
#include <hfhub/model_card.hpp>

#include <boost/json.hpp>

#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view tpl(reinterpret_cast<const char*>(data), size);
    static const boost::json::object vars{
        {"s", "text"}, {"e", ""}, {"t", true}, {"f", false}, {"n", nullptr}, {"i", 3}, {"d", 0.5},
        {"l", boost::json::array{"a", 1, nullptr}}, {"o", boost::json::object{{"k", "v"}}}};
    std::string first;
    try {
        first = hfhub::render_template(tpl, vars);
    } catch (const hfhub::error& e) {
        if (e.code() != hfhub::client_errc::invalid_argument) std::abort();
        return 0;
    }
    if (hfhub::render_template(tpl, vars) != first) std::abort();
    return 0;
}
