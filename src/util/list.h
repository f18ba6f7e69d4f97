/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A doubly linked list kept by its owner as a head and a tail pointer, each item with `prev` and
 * `next` fields (the warm pool's and the park's entries). Macros, so every item type keeps its
 * own fields and no casts.
 */

/* Append @item at the tail. */
#define LIST_APPEND(head, tail, item)                   \
        do {                                            \
                (item)->prev = (tail);                  \
                (item)->next = NULL;                    \
                if (tail)                               \
                        (tail)->next = (item);          \
                else                                    \
                        (head) = (item);                \
                (tail) = (item);                        \
        } while (0)

/* Take @item out of the list it is in; its links are cleared. */
#define LIST_REMOVE(head, tail, item)                           \
        do {                                                    \
                if ((item)->prev)                               \
                        (item)->prev->next = (item)->next;      \
                else                                            \
                        (head) = (item)->next;                  \
                if ((item)->next)                               \
                        (item)->next->prev = (item)->prev;      \
                else                                            \
                        (tail) = (item)->prev;                  \
                (item)->prev = (item)->next = NULL;             \
        } while (0)
