// CoreDNS with only the plugins cluster/manifests/coredns.yaml's Corefile uses. The stock build
// (plugin.cfg's every plugin, with the cloud providers' SDKs) takes about twice as long to
// compile; a Corefile naming any other plugin stops CoreDNS with "Unknown directive".
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
