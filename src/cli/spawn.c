/* SPDX-License-Identifier: MIT */

/*
 * Starting and ending CLI children.
 *
 * Two ways to start one, both ending in the same child code (child_main):
 *
 *   vfork  clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) through glibc's clone() wrapper, which runs
 *          child_main on a stack of its own and never returns into our frames. No page tables
 *          are copied, so no copy-on-write faults and no TLB shoot-downs in the proxy after the
 *          exec (what fork() cost per request). The proxy's thread is suspended until the child
 *          has exec'd or exited, so the child must only make system calls: it shares our memory,
 *          and allocating, locking or touching our data there would corrupt the suspended
 *          parent's state. This is the default, and the cgroup mode's too: its child joins the
 *          request's cgroup itself, by writing "0" into the cgroup.procs fd the parent opened
 *          (no gate needed: it is inside before it execs).
 *   fork   clone() without CLONE_VM (fork semantics) with a start gate, for the transient-scope
 *          mode: systemd must put the child into the scope (StartTransientUnit, asynchronous)
 *          before it runs any CLI code, and a vfork child cannot wait for that without freezing
 *          the proxy. clone3's CLONE_INTO_CGROUP is no way around it: the scope's cgroup exists
 *          only once systemd created it, and the unit must still be told the pid.
 *
 * Either way the child arms PR_SET_PDEATHSIG, takes its own process group (so a kill reaches
 * whatever it forks), resets every signal disposition and only then unblocks signals, and holds
 * nothing but fds 0-2 (and 3 and 4: the system prompt, the MCP config) when it execs. Reaping goes through a pidfd so
 * no global SIGCHLD handler can steal another module's child. This module does not decide when
 * to kill: run.c does.
 */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/spawn.h"
#include "util/macro.h"

/* P_PIDFD lives in <linux/wait.h>, which clashes with <sys/wait.h>. */
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* The vfork child's stack, in the spawning frame: execvpe() needs a PATH entry's length of it. */
#define CHILD_STACK_SIZE (64 * 1024)

/* Code that runs in a CLONE_VM child on its own stack: sanitizer instrumentation would treat
 * that stack (and a shadow shared with the suspended parent) as the parent thread's. */
#define _child_code_ __attribute__((no_sanitize("address", "undefined")))

typedef struct ChildArgs {
        const CliSpawnOptions *o;
        pid_t parent;
        int in, out, err, gate, pass, pass2;
        /* Written by a CLONE_VM child before it gives up: the parent reads it once resumed. */
        volatile int join_errno;
} ChildArgs;

static void pipe_pair_close(int p[2]) {
        p[0] = safe_close(p[0]);
        p[1] = safe_close(p[1]);
}

/* The kernel's struct sigaction: all zero is SIG_DFL, no flags, empty mask. Raw system calls
 * because glibc's sigaction()/sigprocmask() skip its internal signals and sanitizers intercept
 * them; the child must only make system calls (see the top). */
struct kernel_sigaction {
        unsigned long handler, flags, restorer, mask;
};

_child_code_ static void reset_signals(void) {
        const struct kernel_sigaction dfl = {};
        const uint64_t none = 0;

        for (int sig = 1; sig < _NSIG; sig++)
                (void) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(none));
        (void) syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
}

_child_code_ static bool has_slash(const char *s) {
        for (; *s; s++)
                if (*s == '/')
                        return true;
        return false;
}

/* Runs in the child (forked, or sharing our memory): system calls only, no return. */
_child_code_ static int child_main(void *userdata) {
        ChildArgs *a = userdata;
        const CliSpawnOptions *o = a->o;
        int in = a->in, out = a->out, err = a->err, gate = a->gate, pass = a->pass, pass2 = a->pass2;

        /* Die with the proxy: a crashed proxy must not leave a CLI running on its own. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent)
                _exit(127);
        (void) setpgid(0, 0);
        /* Every disposition back to the default *before* unblocking: the handlers inherited from
         * the proxy (libevent's SIGTERM/SIGINT/SIGHUP handlers write the signal number into the
         * parent's signal pipe, whose fd this child still holds) would otherwise run here when a
         * client leaves between clone and exec and make the proxy stop itself; in a CLONE_VM
         * child they would run on the parent's data. execve() resets handled signals too, but
         * only once it runs; the gate can hold us here for a while. Ignored signals (SIGPIPE)
         * stay ignored across execve(), so they are reset here as well. */
        reset_signals();

        /* Into the request's cgroup before any CLI code runs. */
        if (o->join_cgroup && write(o->cgroup_procs_fd, "0", 1) != 1) {
                a->join_errno = errno ?: EIO;
                _exit(127);
        }

        /* The child's fds first, everything else closed before it waits: while it waits it must
         * hold nothing of the proxy's (the signal pipe, client sockets, other children's pipes). */
        int next = 3, *const srcs[] = { &in, &out, &err, &pass, &pass2, &gate };
        /* Sources below 6 could be overwritten by an earlier dup2() onto 0..5 (or be their own target,
         * where dup2() would keep O_CLOEXEC): lift them first. */
        if (pass2 <= 2)
                pass2 = -EBADF;
        for (size_t i = 0; i < ELEMENTSOF(srcs); i++)
                if (*srcs[i] >= 0 && *srcs[i] < 6 && (*srcs[i] = fcntl(*srcs[i], F_DUPFD_CLOEXEC, 6)) < 0)
                        _exit(127);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                _exit(127);
        if (pass >= 0 && dup2(pass, next++) < 0)
                _exit(127);
        if (pass2 >= 0 && dup2(pass2, next++) < 0)
                _exit(127);
        if (gate >= 0) {
                if (dup2(gate, next) < 0)
                        _exit(127);
                gate = next++;
        }
        /* Everything else is O_CLOEXEC already; this also catches fds libraries opened without it. */
        (void) syscall(SYS_close_range, (unsigned) next, ~0U, 0U);

        if (gate >= 0) {
                char c;
                ssize_t n;
                do
                        n = read(gate, &c, 1);
                while (n < 0 && errno == EINTR);
                /* EOF: the parent gave up on this child (scope failed, client left). */
                if (n != 1)
                        _exit(127);
                (void) close(gate);
        }

        if (o->cwd && chdir(o->cwd) < 0)
                _exit(127);
        if (has_slash(o->argv[0]))
                execve(o->argv[0], o->argv, o->envp);
        else
                /* A bare name: search PATH like a shell would (the child's PATH is the proxy's).
                 * glibc's execvpe() allocates nothing (its buffers are on the stack). */
                execvpe(o->argv[0], o->argv, o->envp);
        _exit(127);
}

/*
 * Start child_main() through glibc's clone() wrapper, on a stack of its own, with CLONE_PIDFD
 * handing us the pidfd with the child (no pidfd_open() after the fact, which needs Linux 5.3 and
 * which valgrind does not implement).
 *
 * Ungated: vfork semantics (CLONE_VM|CLONE_VFORK), returns once the child has exec'd (or died);
 * it has set its group itself. Gated: fork semantics, the child runs on a copy of our memory and
 * may wait at its gate without holding the proxy up; it makes system calls only there too, so
 * fork()'s atfork handlers are not needed.
 */
_child_code_ static pid_t start_child(ChildArgs *a, bool gated, int *ret_pidfd) {
        _Alignas(16) char stack[CHILD_STACK_SIZE];
        int pidfd = -EBADF;
        /* SIGCHLD as the exit signal: a clone child without one would need __WALL to be waited
         * for, and execve() resets it to SIGCHLD anyway (de_thread()). */
        int flags = CLONE_PIDFD | SIGCHLD | (gated ? 0 : CLONE_VM | CLONE_VFORK);
        pid_t pid = clone(child_main, stack + sizeof(stack), flags, a, &pidfd);

        if (pid < 0)
                return -errno;
        /* A forked child may not have run yet: both sides set the group, so killpg() works no
         * matter who runs first. */
        if (gated)
                (void) setpgid(pid, pid);
        *ret_pidfd = pidfd;
        return pid;
}

/**
 * cli_spawn() - start a CLI child
 * @o: what to run
 * @ret: the child; on failure left as CLI_CHILD_NULL (with join_failed when the child could not
 *       enter its cgroup)
 *
 * Return: 0, or a negative errno from pipe2/clone, or of the cgroup join.
 */
int cli_spawn(const CliSpawnOptions *o, CliChild *ret) {
        int in[2] = { -EBADF, -EBADF }, out[2] = { -EBADF, -EBADF }, err[2] = { -EBADF, -EBADF },
            gate[2] = { -EBADF, -EBADF };
        int pidfd = -EBADF, r;
        pid_t pid;

        *ret = CLI_CHILD_NULL;
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
            (o->gated && pipe2(gate, O_CLOEXEC) < 0)) {
                r = negative_errno();
                goto fail;
        }

        ChildArgs a = {
                .o = o, .parent = getpid(),
                .in = in[0], .out = out[1], .err = err[1], .gate = gate[0], .pass = o->pass_fd,
                .pass2 = o->pass_fd2,
        };
        /* Every signal blocked across the clone: a signal that arrives before the child has reset
         * its dispositions would otherwise run the proxy's handler in the child. The child
         * unblocks once the defaults are back. */
        sigset_t all, saved;
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &saved);
        pid = start_child(&a, o->gated, &pidfd);
        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        if (pid < 0) {
                r = pid;
                goto fail;
        }
        if (pidfd < 0) {
                /* A kernel before 5.2 ignores CLONE_PIDFD: without a pidfd nothing would ever
                 * tell us of this child's exit. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                r = -ENOSYS;
                goto fail;
        }
        if (a.join_errno != 0) {
                siginfo_t si = {};
                /* It has exited already (a vfork child resumes us only then): collect it. */
                (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &si, WEXITED);
                pidfd = safe_close(pidfd);
                r = -a.join_errno;
                ret->join_failed = true;
                goto fail;
        }

        in[0] = safe_close(in[0]);
        out[1] = safe_close(out[1]);
        err[1] = safe_close(err[1]);
        gate[0] = safe_close(gate[0]);
        (void) fcntl(in[1], F_SETFL, O_NONBLOCK);
        (void) fcntl(out[0], F_SETFL, O_NONBLOCK);
        (void) fcntl(err[0], F_SETFL, O_NONBLOCK);

        *ret = (CliChild) {
                .pid = pid,
                .pidfd = pidfd,
                .stdin_fd = in[1],
                .stdout_fd = out[0],
                .stderr_fd = err[0],
                .gate_fd = gate[1],
        };
        return 0;

fail:
        pipe_pair_close(in);
        pipe_pair_close(out);
        pipe_pair_close(err);
        pipe_pair_close(gate);
        return r;
}

/**
 * cli_child_release() - open the start gate: the child execs the CLI now
 * Return: 0, or a negative errno.
 */
int cli_child_release(CliChild *c) {
        if (c->gate_fd < 0)
                return 0;
        ssize_t n = write(c->gate_fd, "x", 1);
        c->gate_fd = safe_close(c->gate_fd);
        return n == 1 ? 0 : -EIO;
}

/**
 * cli_child_signal() - signal the child's whole process group
 * Return: 0, -ESRCH when nothing is left, or another negative errno.
 */
int cli_child_signal(CliChild *c, int sig) {
        if (c->pid <= 0 || c->reaped)
                return -ESRCH;
        if (killpg(c->pid, sig) < 0)
                return negative_errno();
        return 0;
}

/**
 * cli_child_try_reap() - collect the child's exit status without blocking
 * @c: the child
 * @ret: its exit (kill_reason left untouched)
 *
 * Before reaping, whatever is left in the child's process group is SIGKILLed: the unreaped
 * leader keeps the group id reserved, so this cannot hit an unrelated process, and no
 * grandchild outlives its request.
 *
 * Return: 1 when reaped, 0 when still running, or a negative errno.
 */
int cli_child_try_reap(CliChild *c, CliExit *ret) {
        siginfo_t si = {};

        if (c->reaped)
                return 1;
        /* Peek first (WNOWAIT): the group may be killed only while the zombie leader still holds
         * its id. None of these calls blocks: the pidfd said the child has exited. */
        if (waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return negative_errno();
        if (si.si_pid == 0)
                return 0;
        (void) killpg(c->pid, SIGKILL);
        if (waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED | WNOHANG) < 0)
                return negative_errno();
        c->reaped = true;
        ret->exited = si.si_code == CLD_EXITED;
        ret->code = ret->exited ? si.si_status : 128 + si.si_status;
        ret->signal = ret->exited ? 0 : si.si_status;
        return 1;
}

/**
 * cli_child_done() - release a child's resources
 *
 * A child still running here is killed and reaped synchronously; callers that can wait should
 * have let the event loop reap it, so this only blocks on teardown paths.
 */
void cli_child_done(CliChild *c) {
        if (c->pid > 0 && !c->reaped && c->pidfd >= 0) {
                siginfo_t si = {};

                (void) killpg(c->pid, SIGKILL);
                (void) kill(c->pid, SIGKILL);
                (void) waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED);
                c->reaped = true;
        }
        c->pidfd = safe_close(c->pidfd);
        c->stdin_fd = safe_close(c->stdin_fd);
        c->stdout_fd = safe_close(c->stdout_fd);
        c->stderr_fd = safe_close(c->stderr_fd);
        c->gate_fd = safe_close(c->gate_fd);
}
