// Calling hfhub from code that is not a coroutine: co_spawn with use_future.
//   HF_ENDPOINT=http://127.0.0.1:8080 request_future acme/model
#include <hfhub/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <iostream>
#include <thread>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: request_future <repo_id>\n";
        return 2;
    }
    namespace asio = boost::asio;
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });  // the client runs on this thread; we wait on ours

    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    hfhub::http_request req;
    req.url = hub.settings().endpoint + "/api/models/" + argv[1];
    int rc = 0;
    try {
        std::future<hfhub::http_response> f = asio::co_spawn(ioc, hub.co_request(req), asio::use_future);
        hfhub::http_response r = f.get();  // rethrows hfhub::error
        std::cout << r.status << " " << r.body << "\n";
    } catch (const hfhub::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        rc = 1;
    }
    work.reset();
    io.join();
    return rc;
}
