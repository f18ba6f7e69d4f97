/* SPDX-License-Identifier: MIT */
#pragma once

/* The fake CLI's answers to host control requests, from recorded transcripts (fake-control.c). */

#include <jansson.h>
#include <stddef.h>

/* A history line (user shouldQuery:false, or assistant) was read: get_context_usage counts it. */
void fake_control_note_history(const char *line, size_t n);
/* The control_response line for request @id of @subtype (NULL: none, on purpose); transcripts are read from @dir. */
int fake_control_answer(const char *dir, const char *id, const char *subtype, json_t **ret_line);
