#ifndef CBERTH_H
#define CBERTH_H

#include <sys/types.h>

/// Starts `path` (an executable's path, not looked up) with `argv` and `envp` under a guard: a
/// forked copy of this process that waits for the child and exits with its status (128 + signal
/// when a signal killed it). The guard is a child subreaper holding a pidfd of this process: once
/// this process is gone, however it died (kill -9 included), the guard kills the child and every
/// process the child left behind (they are reparented to it), reaps them and exits. A process
/// tree that only a parent-death signal would end, such as runc's container init, which outlives
/// runc, goes with it.
///
/// The child gets `sources[i]` as descriptor `targets[i]`, /dev/null on 0-2 where not mapped, no
/// other descriptor, default signal handling and an empty signal mask; it is killed if the guard
/// dies. Returns the guard's pid, or -1 with errno set.
pid_t berth_spawn_guarded(const char *path, char *const argv[], char *const envp[],
                          const int *sources, const int *targets, int count);

#endif
