/* MQTT topic names and filters (MQTT 3.1.1 section 4.7), as the router and
 * the SDK apply them. Pure functions over (pointer, length); no allocation.
 *
 * Topic (what is published): 1..IPC_TOPIC_MAX bytes, no NUL, no '+' or '#'.
 * Filter (a subscription Subject): 1..IPC_TOPIC_MAX bytes, no NUL; '+' only
 *   as a whole level; '#' only as the whole last level.
 * Matching: levels split on '/'; '+' matches exactly one level (which may be
 *   empty); '#' matches the parent level and any number of levels below
 *   ("a/#" matches "a/b" and "a/b/c"; MQTT also lets it match "a", but the
 *   issue fixes `a/#` does not match `a`, so it does not here); "#" alone
 *   matches everything; empty levels are levels ("a//b" has three).
 *   Topics starting with '$' are not matched by a leading '+' or '#'. */
#ifndef EDGEML_IPC_TOPIC_H
#define EDGEML_IPC_TOPIC_H

#include <stddef.h>

#define IPC_TOPIC_MAX 65535

/* 1 if valid, else 0 with a static reason in *why (may be NULL). */
int ipc_topic_valid(const char *t, size_t n, const char **why);
int ipc_filter_valid(const char *f, size_t n, const char **why);
/* 1 if the (valid) filter matches the (valid) topic. */
int ipc_topic_match(const char *filter, size_t fn, const char *topic, size_t tn);

#endif
