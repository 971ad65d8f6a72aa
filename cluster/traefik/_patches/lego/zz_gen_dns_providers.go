// Stands in for lego's generated DNS provider table (scripts/install-tools.sh, traefik_build_dir):
// the local node's Traefik solves no ACME DNS-01 challenge, so none of lego's ~220 providers and
// their cloud SDKs is compiled (1,402 packages instead of 2,177). A certificate resolver that
// names a DNS provider fails with the error below.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName knows no provider in this build.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("unrecognized DNS provider: %s (this Traefik is built without lego's DNS providers)", name)
}
