/*
 * Glue between the request chain and the Kubernetes decision cache: the
 * authn and authz stages hand a request here when only the API server can
 * decide. Each function returns TG_WAIT (and resumes the request later),
 * TG_NEXT (decided from the cache at once) or TG_DONE (answered: 401, 403,
 * 503).
 */
#ifndef TENANTGATE_KUBEAUTH_H
#define TENANTGATE_KUBEAUTH_H

#include "tenantgate/req.h"

/* TokenReview of r->token. */
enum tg_verdict tg_kubeauth_authenticate(struct tg_req *r);
/* SubjectAccessReview of each of the n attribute sets (one per tenant value
 * the static rules did not allow); all must be allowed. */
enum tg_verdict tg_kubeauth_authorize(struct tg_req *r, const struct tg_authz_attrs *attrs,
                                      size_t n);

#endif
