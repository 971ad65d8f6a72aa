// Stands in for traefik's unpublished nested module pkg/config/dynamic/ext (see ../go.mod):
// the open-source build's extension points are empty structs, as in traefik's own ext.go.
module github.com/traefik/traefik/dynamic/ext

go 1.24.0
