/* SPDX-License-Identifier: MIT */

/*
 * Every client connection and every CLI child (three pipes, a pidfd) costs descriptors, and the
 * soft limit a service starts with is 1024 by convention (for select(), which we do not use).
 * The hard limit is what the administrator allows (LimitNOFILE= in the unit): take all of it.
 */

#include <errno.h>
#include <limits.h>
#include <sys/resource.h>

#include "util/rlimit.h"

long rlimit_nofile_raise(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        return -errno;
        }
        return rl.rlim_cur > (rlim_t) LONG_MAX ? LONG_MAX : (long) rl.rlim_cur;
}
