// Uploads through Xet, for LFS objects the batch API sent to the CAS ("transfer": "xet"): each
// object is chunked as it is read (files in parallel), chunks the CAS has are referenced instead
// of sent (global dedup queries at the spec's sampled chunks, and this upload's own chunks), new
// chunks go into xorbs uploaded a few at a time, then one shard registers the files (terms,
// verification entries, sha256) and the new xorbs. The commit then cites the sha256 as for LFS.
#pragma once

#include "upload/pipeline.hpp"

#include <boost/asio/awaitable.hpp>

#include <vector>

namespace hfhub::upload {

// Whether the LFS batch offers "xet": the client's Xet knob.
bool xet_offered(const client& c);

// Stores the transfers' objects through the CAS; adds what went up to `totals`. Every xorb is
// stored before the shard; nothing is committed here. Errors: the CAS's refusals (a xorb, a
// shard, a token) as hfhub::error, protocol_error for a malformed answer, local_file_changed.
boost::asio::awaitable<void> co_upload_xet(client& c, const std::string& repo_id, const commit_options& o,
                                           const std::vector<const lfs_transfer*>& transfers,
                                           progress_reporter& progress, lfs_totals& totals);

}  // namespace hfhub::upload
