// Copied into github.com/abbot/go-http-auth v0.4.0 at build time (install_traefik in
// scripts/install-tools.sh; see ../../go.mod): the two functions traefik's auth middlewares call
// that only its fork github.com/containous/go-http-auth has, a fork the module proxy does not
// serve. Both reuse the upstream package's own code. The local test cluster configures no
// basicAuth or digestAuth middleware; this lets traefik compile with them in.

package auth

import (
	"net/http"
	"strings"
)

// CheckSecret reports whether password matches secret, a htpasswd entry ({SHA}, MD5-crypt or
// bcrypt), picking the comparison by prefix exactly as upstream BasicAuth.CheckAuth does.
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, cmp := range compareFuncs[1:] {
		if strings.HasPrefix(secret, cmp.prefix) {
			compare = cmp.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale re-challenges the client. Upstream CheckAuth never reports a stale nonce, so
// traefik never reaches this; it answers like RequireAuth.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	a.RequireAuth(w, r)
}
