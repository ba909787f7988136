#ifndef CBERTH_H
#define CBERTH_H

#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
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

/// pidfd_open(2), made with syscall(2) so that it needs no particular C library: a descriptor
/// that polls readable once `pid` has exited, or -1 with errno set (ENOSYS before Linux 5.3).
int berth_pidfd_open(pid_t pid, unsigned int flags);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` up.
/// Returns 0 or an error number; ENOSYS when built against a C library without it (glibc < 2.34).
int berth_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// setns(fd, CLONE_NEWNET): the calling thread enters the network namespace `fd` refers to.
/// Returns 0, or -1 with errno set.
int berth_enter_network_namespace(int fd);

/// unshare(CLONE_NEWNS): the calling process gets a mount namespace of its own. Returns 0, or -1
/// with errno set.
int berth_unshare_mount_namespace(void);

/// Whether `fd` is a namespace file (nsfs), as /proc/<pid>/ns/net and `ip netns` mounts are.
bool berth_is_namespace_file(int fd);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants become this process's children.
/// Returns 0, or -1 with errno set.
int berth_set_child_subreaper(void);

/// prctl(PR_SET_NAME, name): names the calling thread (the process, for its main thread) as ps
/// and /proc/<pid>/comm show it; longer names are cut to 15 bytes. Returns 0, or -1 with errno set.
int berth_set_thread_name(const char *name);

/// The xattr calls of <sys/xattr.h>, with their own signatures and results.
int berth_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
int berth_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
ssize_t berth_lgetxattr(const char *path, const char *name, void *value, size_t size);
ssize_t berth_llistxattr(const char *path, char *list, size_t size);

#endif
