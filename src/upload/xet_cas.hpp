// The CAS calls of an upload (docs/xet/api.md): the global dedup query, xorb upload (after a
// HEAD, so a xorb the CAS has is not sent again), shard upload. Each carries the repo's Xet write
// token, refreshed before it expires and once after a 401.
#pragma once

#include "hub/xet_token.hpp"
#include "upload/pipeline.hpp"
#include "xet/hash.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hfhub::upload {

class cas_session {
public:
    // The token comes from the batch answer's href (the write-token route) and any token its
    // header carried, else from the repo's xet-write-token route.
    cas_session(client& c, const std::string& repo_id, const commit_options& o, const lfs_transfer& first);

    // The dedup shard for `chunk`, or nullopt when the CAS doesn't know it (404).
    boost::asio::awaitable<std::optional<std::vector<std::uint8_t>>> co_query_chunk(const xet::merkle_hash& chunk);
    // Sends the xorb unless the CAS has it already; returns whether it was sent. The bytes are
    // shared, not copied, and no longer used once this returns (the caller may reuse them).
    boost::asio::awaitable<bool> co_upload_xorb(const xet::merkle_hash& hash,
                                                std::shared_ptr<const std::vector<std::uint8_t>> bytes);
    boost::asio::awaitable<void> co_upload_shard(std::vector<std::uint8_t> bytes);

    // A protocol_error about the last CAS answer.
    [[noreturn]] void fail_answer(const std::string& why) const;

private:
    enum class accept { success, or_missing, anything };
    boost::asio::awaitable<http_response> co_send(http_request r, accept what);

    client& c_;
    hub::xet_token_source tokens_;
    std::string last_url_;
};

}  // namespace hfhub::upload
