#pragma once
// Cooperative cancellation. The CLI installs handlers for SIGINT/SIGTERM that only set a flag;
// long loops in core call check_interrupted() so that temp files are cleaned by destructors and
// the store is left valid, instead of dying mid-write.

namespace cairn::util {

// Installs SIGINT/SIGTERM handlers that set the interrupt flag (a second signal kills at once).
void install_interrupt_handlers();

// True once SIGINT or SIGTERM has arrived.
[[nodiscard]] bool interrupted();

// Throws Error(ErrorKind::interrupted) if a signal arrived.
void check_interrupted();

// Sets the interrupt flag as if `sig` had come from the terminal, unless a signal came first:
// for a Ctrl-C that reached only the user's command (it had the terminal, core/process).
void note_interrupt(int sig);

// The signal that arrived (0 if none), and whether another process sent it (kill) rather than
// the terminal (Ctrl-C reaches the whole foreground process group by itself).
[[nodiscard]] int received_signal();
[[nodiscard]] bool signal_sent_by_process();

} // namespace cairn::util
