#include "core/util/interrupt.hpp"

#include <atomic>
#include <csignal>

#include "core/util/error.hpp"

namespace cairn::util {
namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_from_process{false};

void on_signal(int sig, siginfo_t* info, void*) {
    if (g_signal.load() == 0) g_from_process = info != nullptr && (info->si_code == SI_USER || info->si_code == SI_QUEUE);
    if (g_signal.exchange(sig) != 0) {
        // Second signal: the user really wants out. Restore the default action and re-raise.
        std::signal(sig, SIG_DFL);
        std::raise(sig);
    }
}

} // namespace

void install_interrupt_handlers() {
    struct sigaction action {};
    action.sa_sigaction = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO; // no SA_RESTART: blocking calls return EINTR and loops notice the flag
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() { return g_signal.load(std::memory_order_relaxed) != 0; }

void note_interrupt(int sig) {
    int none = 0;
    g_signal.compare_exchange_strong(none, sig);
}

int received_signal() { return g_signal.load(); }
bool signal_sent_by_process() { return g_from_process.load(); }

void check_interrupted() {
    if (interrupted()) throw Error(ErrorKind::interrupted, "interrupted");
}

} // namespace cairn::util
