/* SPDX-License-Identifier: MIT */
#pragma once

/* One interface for containing a CLI child: transient scope, delegated sub-cgroup or pgroup. */

#include <event2/event.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "systemd/scope-properties.h"

typedef struct Container Container;
typedef struct ContainerSlot ContainerSlot;

/* The child is contained (r >= 0) or cannot be (r < 0, already logged): release or kill it. */
typedef void (*container_ready_t)(ContainerSlot *slot, int r, void *userdata);

int container_new(Container **ret, struct event_base *base, const Config *config);
Container *container_free(Container *c);
void container_set_config(Container *c, const Config *config);
ScopeMode container_mode(const Container *c);
bool container_needs_gate(const Container *c);
int container_cleanup_leftovers(Container *c);

/*
 * Before the spawn: in cgroup mode, make the request's cgroup and return 1 with the fd of its
 * cgroup.procs, for the child to join before exec (no gate); 0 when the mode has nothing to
 * prepare; or a negative errno (logged). Pass the slot to container_place() after the spawn.
 */
int container_prepare(Container *c, const ScopeInfo *info, ContainerSlot **ret, int *ret_join_fd);
/*
 * Contain the gated child `info->pid`. Return 1 when done already (release the child now), 0
 * when pending (ready_cb follows from the loop; keep the child gated and unreaped until then),
 * or a negative errno (logged). *ret is set in every case but the error; when it holds a slot
 * from container_prepare() on entry, that slot is completed (always 1).
 */
int container_place(Container *c, const ScopeInfo *info, container_ready_t ready_cb, void *userdata,
                    ContainerSlot **ret);
/* The scope unit or cgroup directory name, NULL in pgroup mode. */
const char *container_slot_unit(const ContainerSlot *s);
void container_kill(ContainerSlot *s, int sig);
/* After the child's reap: kill what is left in the container, remove it. NULL-safe, returns NULL. */
ContainerSlot *container_slot_free(ContainerSlot *s);
