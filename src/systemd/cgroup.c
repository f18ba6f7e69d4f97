/* SPDX-License-Identifier: MIT */

/*
 * Per-request sub-cgroups inside our own delegated cgroup (Delegate=yes, SYSTEMD.md §3b). At
 * start-up the proxy moves itself into <cg>/supervisor (cgroup v2 allows processes only in
 * leaves once controllers are enabled below) and enables whichever of memory, pids and cpu the
 * parent grants. Each request then gets <cg>/req-<id> with its limits; the gated child is moved
 * there before it execs, so no CLI code runs outside. cgroup.kill ends the whole tree atomically,
 * including a setsid()ed grandchild, and the directory goes once it is empty. Nothing here
 * touches a cgroup we were not delegated: the caller checks cgroup_is_delegated() or has an
 * explicit SCOPE_MODE=cgroup.
 */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "systemd/cgroup.h"
#include "util/log.h"
#include "util/macro.h"

static int write_file(const char *dir, const char *file, const char *value) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(value);

        if (asprintf(&p, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (write(fd, value, n) != (ssize_t) n)
                return negative_errno();
        return 0;
}

static int read_file(const char *dir, const char *file, char *buf, size_t size) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (asprintf(&p, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        return 0;
}

/* Where cgroup2 is mounted: /sys/fs/cgroup on unified hosts, .../unified on hybrid ones. */
static const char *cgroup2_root(void) {
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
                return "/sys/fs/cgroup";
        if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
                return "/sys/fs/cgroup/unified";
        return NULL;
}

/**
 * cgroup_self() - our cgroup v2 directory
 * @ret_path: new string, e.g. "/sys/fs/cgroup/system.slice/claude-proxy.service"
 *
 * A process already moved into "supervisor" reports the parent, so a restart of this code in the
 * same cgroup (re-exec) finds the same tree.
 *
 * Return: 0, -ENOMEDIUM without cgroup v2, or another negative errno.
 */
int cgroup_self(char **ret_path) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        const char *root = cgroup2_root();
        FILE *f;
        int r = -ENOMEDIUM;

        if (!root)
                return -ENOMEDIUM;
        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return negative_errno();
        while (getline(&line, &cap, f) > 0) {
                if (!strneq(line, "0::", 3))
                        continue;
                line[strcspn(line, "\n")] = 0;
                char *rel = line + 3;
                size_t n = strlen(rel);
                if (n >= 11 && streq(rel + n - 11, "/supervisor"))
                        rel[n - 11] = 0;
                if (streq(rel, "/"))
                        rel[0] = 0;
                r = asprintf(ret_path, "%s%s", root, rel) < 0 ? -ENOMEM : 0;
                break;
        }
        fclose(f);
        return r;
}

/**
 * cgroup_is_delegated() - did the manager delegate @path to us?
 *
 * The system manager marks delegated cgroups with the user.delegate (or trusted.delegate)
 * xattr; the user manager does not, which is why SCOPE_MODE=cgroup exists as an explicit opt-in.
 * Either way we must be able to write cgroup.procs and create directories.
 */
bool cgroup_is_delegated(const char *path) {
        _cleanup_free_ char *procs = NULL;
        char v[8] = "";
        bool marked;

        marked = getxattr(path, "user.delegate", v, sizeof(v) - 1) > 0 ||
                 getxattr(path, "trusted.delegate", v, sizeof(v) - 1) > 0;
        if (!marked || v[0] != '1')
                return false;
        if (asprintf(&procs, "%s/cgroup.procs", path) < 0)
                return false;
        return access(path, W_OK) == 0 && access(procs, W_OK) == 0;
}

/* Split a buffer of cgroup.procs lines in place: the next line, or NULL at the end. */
static char *next_line(char **cursor) {
        char *p = *cursor, *e;

        if (!*p)
                return NULL;
        e = p + strcspn(p, "\n");
        if (*e)
                *e++ = 0;
        *cursor = e;
        return p;
}

/**
 * cgroup_setup() - move every process of @path into @path/supervisor and enable controllers
 * @path: our (delegated) cgroup
 *
 * Return: 0, or a negative errno (the tree is then unusable for per-request cgroups).
 */
int cgroup_setup(const char *path) {
        _cleanup_free_ char *sup = NULL;
        char buf[4096], want[64] = "";
        int r;

        if (asprintf(&sup, "%s/supervisor", path) < 0)
                return -ENOMEM;
        if (mkdir(sup, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        /* The leaf rule: no process may stay in a cgroup whose children get controllers. */
        r = read_file(path, "cgroup.procs", buf, sizeof(buf));
        if (r < 0)
                return r;
        for (char *c = buf, *p; (p = next_line(&c));) {
                if (!*p)
                        continue;
                r = write_file(sup, "cgroup.procs", p);
                if (r < 0 && r != -ESRCH)
                        return r;
        }
        r = read_file(path, "cgroup.controllers", buf, sizeof(buf));
        if (r < 0)
                return r;
        static const char *const ctl[] = { "memory", "pids", "cpu" };
        for (size_t i = 0; i < ELEMENTSOF(ctl); i++) {
                char *hit = strstr(buf, ctl[i]);
                size_t n = strlen(ctl[i]);
                if (hit && (hit == buf || hit[-1] == ' ') && (hit[n] == ' ' || hit[n] == '\n' || !hit[n]))
                        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s+%s", *want ? " " : "",
                                 ctl[i]);
        }
        if (*want) {
                r = write_file(path, "cgroup.subtree_control", want);
                if (r < 0)
                        log_warning_errno(r, "Cannot enable the %s controllers in %s, limits will not apply: %m",
                                          want, path);
        }
        log_info("per-request cgroups under %s (controllers: %s)", path, *want ? want : "none");
        return 0;
}

/**
 * cgroup_create() - make a request's sub-cgroup and apply its limits
 * @base: our cgroup
 * @name: "req-<id>"
 * @limits: from cgroup_limits_from_config()
 * @n: their number
 * @ret_path: the new directory
 *
 * A limit whose controller is not enabled (its file is missing) is skipped: on hosts without
 * the controller there is nothing to enforce it with.
 *
 * Return: 0, -EEXIST when @name exists (pick another), or a negative errno.
 */
int cgroup_create(const char *base, const char *name, const CgroupLimit *limits, size_t n, char **ret_path) {
        _cleanup_free_ char *p = NULL;
        int r;

        if (asprintf(&p, "%s/%s", base, name) < 0)
                return -ENOMEM;
        if (mkdir(p, 0755) < 0)
                return negative_errno();
        for (size_t i = 0; i < n; i++) {
                r = write_file(p, limits[i].file, limits[i].value);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        (void) rmdir(p);
                        return r;
                }
        }
        *ret_path = TAKE_PTR(p);
        return 0;
}

/**
 * cgroup_attach() - move @pid into @path
 * Return: 0, or a negative errno.
 */
int cgroup_attach(const char *path, pid_t pid) {
        char v[32];

        snprintf(v, sizeof(v), "%d", (int) pid);
        return write_file(path, "cgroup.procs", v);
}

/**
 * cgroup_open_procs() - open @path's cgroup.procs for writing, for a child to join by itself
 *
 * Write access is checked when the file is written (against the writer's credentials and the
 * common ancestor of the source and target cgroups), so the child's write of "0" needs what the
 * parent's write of its pid would.
 *
 * Return: the fd (O_CLOEXEC), or a negative errno.
 */
int cgroup_open_procs(const char *path) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/cgroup.procs", path) < 0)
                return -ENOMEM;
        int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? negative_errno() : fd;
}

/**
 * cgroup_signal() - signal every process in @path
 *
 * SIGKILL goes through cgroup.kill (atomic, kernel ≥ 5.14, catches forks in flight); other
 * signals are sent to each pid listed in cgroup.procs.
 *
 * Return: 0, or a negative errno.
 */
int cgroup_signal(const char *path, int sig) {
        char buf[8192];
        int r;

        if (sig == SIGKILL) {
                r = write_file(path, "cgroup.kill", "1");
                if (r != -ENOENT)
                        return r;
        }
        r = read_file(path, "cgroup.procs", buf, sizeof(buf));
        if (r < 0)
                return r;
        for (char *c = buf, *p; (p = next_line(&c));) {
                int pid = atoi(p);
                if (pid > 0)
                        (void) kill(pid, sig);
        }
        return 0;
}

/**
 * cgroup_remove() - rmdir a request's cgroup
 * Return: 0 (also when already gone), -EBUSY while processes remain, or a negative errno.
 */
int cgroup_remove(const char *path) {
        if (rmdir(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

/**
 * cgroup_remove_leftovers() - kill and remove req-* cgroups from an earlier instance
 * @base: our cgroup
 *
 * Only relevant after a re-exec in the same cgroup: systemd removes a stopped service's tree.
 *
 * Return: the number of directories handled, or a negative errno.
 */
int cgroup_remove_leftovers(const char *base) {
        DIR *d = opendir(base);
        struct dirent *de;
        int n = 0;

        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                if (!strneq(de->d_name, "req-", 4) || de->d_type != DT_DIR)
                        continue;
                if (asprintf(&p, "%s/%s", base, de->d_name) < 0)
                        break;
                (void) cgroup_signal(p, SIGKILL);
                for (int i = 0; i < 50 && cgroup_remove(p) == -EBUSY; i++)
                        (void) usleep(2000);
                n++;
        }
        closedir(d);
        return n;
}
