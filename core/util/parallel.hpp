#pragma once
// Data parallelism over an index range, with exceptions carried back to the caller.

#include <cstddef>
#include <functional>

namespace cairn::util {

// Number of worker threads to use: CAIRN_JOBS if set to a positive number, else the core count.
[[nodiscard]] unsigned default_jobs();

// Calls fn(i) for every i in [0, count) on up to `jobs` threads. The first exception thrown by
// any call stops the remaining work and is rethrown here once every thread has finished.
void parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn,
                  unsigned jobs = default_jobs());

} // namespace cairn::util
