#include "core/util/parallel.hpp"

#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cairn::util {

unsigned default_jobs() {
    if (const char* env = std::getenv("CAIRN_JOBS")) {
        try {
            int n = std::stoi(env);
            if (n > 0) return static_cast<unsigned>(n);
        } catch (...) {
        }
    }
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

void parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn, unsigned jobs) {
    if (count == 0) return;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr first_error;
    std::mutex error_mutex;

    auto worker = [&] {
        while (!stop.load(std::memory_order_relaxed)) {
            std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= count) return;
            try {
                fn(i);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
                stop = true;
            }
        }
    };

    unsigned threads = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(count)));
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
    if (first_error) std::rethrow_exception(first_error);
}

} // namespace cairn::util
