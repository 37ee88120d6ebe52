#include "core/util/interrupt.hpp"

#include <atomic>
#include <csignal>

#include "core/util/error.hpp"

namespace cairn::util {
namespace {

std::atomic<int> g_signal{0};

void on_signal(int sig) {
    if (g_signal.exchange(sig) != 0) {
        // Second signal: the user really wants out. Restore the default action and re-raise.
        std::signal(sig, SIG_DFL);
        std::raise(sig);
    }
}

} // namespace

void install_interrupt_handlers() {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: blocking calls return EINTR and loops notice the flag
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() { return g_signal.load(std::memory_order_relaxed) != 0; }

void check_interrupted() {
    if (interrupted()) throw Error(ErrorKind::interrupted, "interrupted");
}

} // namespace cairn::util
