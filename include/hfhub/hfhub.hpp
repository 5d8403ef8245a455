// Everything a client of the Hub uses: the client and its configuration, downloads and the
// cache, commits and uploads, repo and metadata calls, mirroring, deadlines, model cards and the
// framework mixins. The embedded server is apart, in <hfhub/server/server.hpp>.
#pragma once

#include <hfhub/cache.hpp>
#include <hfhub/client.hpp>
#include <hfhub/commit.hpp>
#include <hfhub/receipts.hpp>
#include <hfhub/config.hpp>
#include <hfhub/deadline.hpp>
#include <hfhub/download.hpp>
#include <hfhub/error.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/mixin.hpp>
#include <hfhub/model_card.hpp>
#include <hfhub/progress.hpp>
#include <hfhub/repo.hpp>
#include <hfhub/repo_api.hpp>
#include <hfhub/safetensors.hpp>
