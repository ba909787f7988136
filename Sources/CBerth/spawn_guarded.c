#include "CBerth.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The guard and the child run in a fork of a multithreaded process: from fork to exec (or exit)
// they make system calls only, nothing that allocates or takes a lock.

static void close_from(int first) {
    syscall(SYS_close_range, (unsigned)first, ~0U, 0);
}

/// Default handling for every signal and an empty mask: the caller's handlers and blocked signals
/// must not reach the guard or the executable.
static void reset_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; signal++) {
        sigaction(signal, &action, NULL);
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
}

static void exec_child(const char *path, char *const argv[], char *const envp[], const int *sources,
                       const int *targets, int count, pid_t guard) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != guard) _exit(127);
    reset_signals();
    int highest = 2;
    for (int i = 0; i < count; i++) {
        if (targets[i] > highest) highest = targets[i];
    }
    // Every source moves above all targets first, so placing one cannot overwrite another's source.
    int moved[count > 0 ? count : 1];
    for (int i = 0; i < count; i++) {
        moved[i] = fcntl(sources[i], F_DUPFD, highest + 1);
        if (moved[i] < 0) _exit(127);
    }
    for (int i = 0; i < count; i++) {
        if (dup2(moved[i], targets[i]) < 0) _exit(127);
    }
    for (int target = 0; target <= highest; target++) {
        int mapped = 0;
        for (int i = 0; i < count; i++) mapped |= targets[i] == target;
        if (mapped) continue;
        if (target > 2) {
            close(target);
            continue;
        }
        int null = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
        if (null < 0) _exit(127);
        if (null != target) {
            dup2(null, target);
            close(null);
        }
    }
    close_from(highest + 1);
    execve(path, argv, envp);
    _exit(127);
}

/// SIGKILL to every child of this (single-threaded) process; returns how many there were.
static int kill_children(void) {
    char path[64] = "/proc/self/task/";
    char digits[16];
    int length = 0;
    for (pid_t pid = getpid(); pid > 0; pid /= 10) digits[length++] = (char)('0' + pid % 10);
    size_t end = strlen(path);
    while (length > 0) path[end++] = digits[--length];
    memcpy(path + end, "/children", sizeof "/children");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    static char buffer[65536];
    size_t total = 0;
    for (;;) {
        ssize_t count = read(fd, buffer + total, sizeof buffer - 1 - total);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) break;
        total += (size_t)count;
    }
    close(fd);
    int killed = 0;
    pid_t pid = 0;
    for (size_t i = 0; i <= total; i++) {
        if (i < total && buffer[i] >= '0' && buffer[i] <= '9') {
            pid = pid * 10 + (buffer[i] - '0');
        } else if (pid > 0) {
            kill(pid, SIGKILL);
            killed++;
            pid = 0;
        }
    }
    return killed;
}

/// Kills and reaps every child, including the orphans reparented to this subreaper as their
/// parents die (a container's init once runc is gone).
static void end_children(void) {
    for (;;) {
        int killed = kill_children();
        int status;
        pid_t pid = waitpid(-1, &status, killed > 0 ? __WALL : __WALL | WNOHANG);
        if (pid > 0 || (pid < 0 && errno == EINTR)) continue;
        return;
    }
}

static void guard(pid_t parent, const char *path, char *const argv[], char *const envp[], const int *sources,
                  const int *targets, int count) {
    reset_signals();
    // The terminal's signals are for the build and the step; the guard follows the build.
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int parent_fd = berth_pidfd_open(parent, 0);
    if (getppid() != parent) _exit(128 + SIGKILL);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t self = getpid();
    pid_t child = fork();
    if (child < 0) _exit(127);
    if (child == 0) exec_child(path, argv, envp, sources, targets, count, self);
    int child_fd = berth_pidfd_open(child, 0);
    // Only the pidfds stay open: the guard must not hold the child's pipes or the caller's files.
    int null = open("/dev/null", O_RDWR);
    for (int target = 0; target <= 2; target++) {
        if (null >= 0 && null != target) dup2(null, target);
    }
    int keep[2] = {parent_fd < child_fd ? parent_fd : child_fd, parent_fd < child_fd ? child_fd : parent_fd};
    int next = 3;
    for (int i = 0; i < 2; i++) {
        if (keep[i] < next) continue;
        if (keep[i] > next) syscall(SYS_close_range, (unsigned)next, (unsigned)keep[i] - 1, 0);
        next = keep[i] + 1;
    }
    close_from(next);
    for (;;) {
        int parent_gone = 0;
        if (parent_fd >= 0 && child_fd >= 0) {
            struct pollfd fds[2] = {{parent_fd, POLLIN, 0}, {child_fd, POLLIN, 0}};
            if (poll(fds, 2, -1) > 0 && fds[0].revents != 0) parent_gone = 1;
        } else {
            // No pidfds (a kernel before 5.3): look ten times a second.
            poll(NULL, 0, 100);
        }
        int status;
        if (waitpid(child, &status, WNOHANG) == child) {
            end_children();
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
        if (parent_gone || getppid() != parent) {
            kill(child, SIGKILL);
            end_children();
            _exit(128 + SIGKILL);
        }
    }
}

pid_t berth_spawn_guarded(const char *path, char *const argv[], char *const envp[],
                          const int *sources, const int *targets, int count) {
    pid_t parent = getpid();
    // No signal handler of this process may run in the fork before the guard resets them.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) guard(parent, path, argv, envp, sources, targets, count);
    int error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = error;
    return pid;
}
