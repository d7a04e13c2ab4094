/* Helpers shared by the lib/kube sources; not part of the public API. */
#ifndef TENANTGATE_KUBE_INT_H
#define TENANTGATE_KUBE_INT_H

#include <stddef.h>

/* Base64 as client-go reads kubeconfig *-data (tg_base64_decode_buf's LAX
 * mode) into a NUL-terminated heap buffer. Returns NULL on malformed input. */
char *tg_kube_base64_decode(const char *in, size_t *len_out);

/* Trim ASCII whitespace at both ends, in place; returns the new length. */
size_t tg_kube_trim(char *s);

#endif
