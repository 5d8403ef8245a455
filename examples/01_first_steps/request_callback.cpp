// Calling hfhub with a completion callback: co_spawn with a handler.
//   HF_ENDPOINT=http://127.0.0.1:8080 request_callback acme/model
#include <hfhub/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: request_callback <repo_id>\n";
        return 2;
    }
    boost::asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    hfhub::http_request req;
    req.url = hub.settings().endpoint + "/api/models/" + std::string(argv[1]) + "/tree/main";
    int rc = 1;
    boost::asio::co_spawn(ioc, hub.co_request(req), [&](std::exception_ptr e, hfhub::http_response r) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "error: " << ex.what() << "\n";
            }
            return;
        }
        std::cout << r.status << " " << r.body << "\n";
        rc = 0;
    });
    ioc.run();
    return rc;
}
