// What every generated doc-test file sees (test/docs/extract_doc_tests.cmake): the public
// headers a reader of the docs would include, and the registry the runner reads.
#pragma once

#include <hfhub/cache.hpp>
#include <hfhub/client.hpp>
#include <hfhub/commit.hpp>
#include <hfhub/config.hpp>
#include <hfhub/download.hpp>
#include <hfhub/error.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/mixin.hpp>
#include <hfhub/model_card.hpp>
#include <hfhub/receipts.hpp>
#include <hfhub/repo.hpp>
#include <hfhub/repo_api.hpp>
#include <hfhub/safetensors.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/describe/class.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace hfhub::doc_test {

struct seed_repo {
    std::string id;                  // a model repo created before the block runs
    std::vector<std::string> files;  // committed to its main branch
};

struct block {
    std::string doc;      // "docs/client.md"
    std::string section;  // the heading above the block
    int line = 0;         // the block's first line in the doc
    std::string kind;     // program, coroutine, declarations, compile_only, skip
    std::vector<seed_repo> repos;
    std::vector<std::string> local_files;
    std::function<boost::asio::awaitable<void>(boost::asio::io_context&, hfhub::client&)> coroutine;
    std::function<int()> program;
    std::string skip_reason;
};

void add(block b);

// A program block's main, renamed and declared `auto`: its status, 0 when it returns nothing.
template <class F>
int call_main(F main) {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
        main();
        return 0;
    } else {
        return main();
    }
}

}  // namespace hfhub::doc_test
