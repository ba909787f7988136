#include "CBerth.h"

#include <errno.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

int berth_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int berth_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
#if __GLIBC_PREREQ(2, 34)
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions;
    (void)from;
    return ENOSYS;
#endif
}

int berth_enter_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET);
}

int berth_unshare_mount_namespace(void) {
    return unshare(CLONE_NEWNS);
}

bool berth_is_namespace_file(int fd) {
    struct statfs status;
    return fstatfs(fd, &status) == 0 && status.f_type == NSFS_MAGIC;
}

int berth_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int berth_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, name);
}

int berth_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}

int berth_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}

ssize_t berth_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}

ssize_t berth_llistxattr(const char *path, char *list, size_t size) {
    return llistxattr(path, list, size);
}
