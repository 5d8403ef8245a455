// Runs the C++ blocks of README.md and docs/*.md (extracted by extract_doc_tests.cmake), each
// against a fresh local Hub in-process on port 0, with a cache and working directory of its own.
//   hfhub_doc_tests [DOC]...   the blocks of these docs ("README.md", "docs/client.md"), or all
// Exit status 1 when a block fails or a DOC has no block.
#include "doc_test.hpp"

#include "test_server.hpp"

#include <boost/asio/co_spawn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <unistd.h>

extern char** environ;

namespace hfhub::doc_test {

namespace {

std::vector<block>& registry() {
    static std::vector<block> blocks;
    return blocks;
}

// The developer's own Hub settings must not leak into a block: it would reach their Hub,
// cache, token or proxy instead of the local one.
void clear_hub_environment() {
    std::vector<std::string> names;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        std::string name = kv.substr(0, kv.find('='));
        for (const char* prefix : {"HF_", "HUGGINGFACE_", "HUGGING_FACE_", "TRANSFORMERS_", "XDG_CACHE_HOME"})
            if (name.rfind(prefix, 0) == 0) names.push_back(name);
        for (const char* proxy : {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                  "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE"})
            if (name == proxy) names.push_back(name);
    }
    for (auto& n : names) ::unsetenv(n.c_str());
}

void write_file(const std::filesystem::path& p, const std::string& content) {
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string seed_content(const std::string& path) {
    if (path.ends_with("config.json")) return R"({"hidden_size": 128, "num_layers": 2})";
    return "seeded " + path + "\n";
}

void seed(hfhub::test::test_server& hub, const seed_repo& r) {
    hub.create_repo(r.id, "");
    std::vector<std::string> ops;
    for (auto& f : r.files) ops.push_back(hfhub::test::test_server::add_file(f, seed_content(f)));
    auto res = hub.commit("models/" + r.id, "main", ops, "", "seed");
    if (res.status != 200) throw std::runtime_error("seeding " + r.id + ": " + std::to_string(res.status) + " " + res.body);
}

void run_coroutine(const block& b) {
    boost::asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    bool done = false;
    std::exception_ptr error;
    boost::asio::co_spawn(ioc, b.coroutine(ioc, hub), [&](std::exception_ptr e) {
        done = true;
        error = e;
    });
    ioc.run();
    if (error) std::rethrow_exception(error);
    if (!done) throw std::runtime_error("the coroutine never completed (the io_context ran out of work)");
}

// Runs one block; returns its failure, empty when it passed.
std::string run_block(const block& b) {
    hfhub::test::temp_dir tmp;
    hfhub::test::test_server hub({}, /*with_tokens=*/false);  // open mode: any namespace is writable
    for (auto& r : b.repos) seed(hub, r);
    auto work = tmp.path() / "work";
    std::filesystem::create_directories(work);
    for (auto& f : b.local_files) write_file(work / f, "local " + f + "\n");

    ::setenv("HF_ENDPOINT", hub.url().c_str(), 1);
    ::setenv("HF_HOME", (tmp.path() / "hf_home").c_str(), 1);
    ::setenv("HF_TOKEN", "hf_doc_test", 1);
    auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(work);
    std::string failure;
    try {
        if (b.kind == "program") {
            int rc = b.program();
            if (rc != 0) failure = "main returned " + std::to_string(rc);
        } else {
            run_coroutine(b);
        }
    } catch (const hfhub::error& e) {
        failure = std::string("hfhub::error: ") + e.what();  // starts with the code's name
    } catch (const std::exception& e) {
        failure = std::string("exception: ") + e.what();
    } catch (...) {
        failure = "an exception not derived from std::exception";
    }
    std::filesystem::current_path(cwd);
    return failure;
}

}  // namespace

void add(block b) { registry().push_back(std::move(b)); }

}  // namespace hfhub::doc_test

int main(int argc, char** argv) {
    using namespace hfhub::doc_test;
    clear_hub_environment();
    std::vector<std::string> docs(argv + 1, argv + argc);
    int failed = 0;
    for (auto& doc : docs) {
        bool any = false;
        for (auto& b : registry()) any = any || b.doc == doc;
        if (!any) {
            std::cerr << doc << ": no C++ block registered for this doc\n";
            ++failed;
        }
    }
    for (auto& b : registry()) {
        if (!docs.empty() && std::find(docs.begin(), docs.end(), b.doc) == docs.end()) continue;
        std::string where = b.doc + ":" + std::to_string(b.line) + " [" + b.section + "] (" + b.kind + ")";
        if (b.kind == "skip") {
            std::cout << where << ": skipped, not compiled: " << b.skip_reason << "\n";
            continue;
        }
        if (b.kind == "compile_only") {
            std::cout << where << ": compiled, not run\n";
            continue;
        }
        std::cout << where << ": running\n" << std::flush;
        auto t0 = std::chrono::steady_clock::now();
        std::string failure = run_block(b);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        std::cout << std::flush;
        if (failure.empty()) {
            std::cout << where << ": ok (" << ms << " ms)\n";
        } else {
            std::cout << where << ": FAILED: " << failure << "\n";
            ++failed;
        }
    }
    return failed ? 1 : 0;
}
