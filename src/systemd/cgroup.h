/* SPDX-License-Identifier: MIT */
#pragma once

/* Delegated cgroup v2 subtrees: our own cgroup, per-request sub-cgroups, cgroup.kill, rmdir. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "systemd/scope-properties.h"

int cgroup_self(char **ret_path);
bool cgroup_is_delegated(const char *path);
int cgroup_setup(const char *path);
int cgroup_create(const char *base, const char *name, const CgroupLimit *limits, size_t n, char **ret_path);
int cgroup_attach(const char *path, pid_t pid);
int cgroup_open_procs(const char *path);
int cgroup_signal(const char *path, int sig);
int cgroup_remove(const char *path);
int cgroup_remove_leftovers(const char *base);
