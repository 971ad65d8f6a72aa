//go:build tools

// The commands this module builds; the imports keep them in go.mod and go.sum.
package tools

import (
	_ "github.com/anchore/syft/cmd/syft"
	_ "github.com/distribution/distribution/v3/cmd/registry"
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
	_ "github.com/sigstore/cosign/v2/cmd/cosign"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "helm.sh/helm/v4/cmd/helm"
)
