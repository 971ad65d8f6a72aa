// Package ext holds the extension points of traefik's dynamic configuration. Traefik's own
// (unpublished) module declares them empty for the open-source build; v3.7.13 embeds these two.
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}
