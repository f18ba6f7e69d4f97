/* SPDX-License-Identifier: MIT */
#pragma once

/* Raise RLIMIT_NOFILE's soft limit to the hard limit. Returns the new soft limit, or -errno. */
long rlimit_nofile_raise(void);
