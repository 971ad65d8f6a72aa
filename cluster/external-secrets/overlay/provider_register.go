// Replaces the operator's pkg/provider/register/register.go (go build -overlay, see
// scripts/install-tools.sh): the tests' ClusterSecretStore uses the Kubernetes provider, and
// the other providers' cloud SDKs were most of a cold build (2,016 packages; 37 min on 2 cores).
package register

import (
	_ "github.com/external-secrets/external-secrets/pkg/provider/fake"
	_ "github.com/external-secrets/external-secrets/pkg/provider/kubernetes"
	_ "github.com/external-secrets/external-secrets/pkg/provider/webhook"
)
