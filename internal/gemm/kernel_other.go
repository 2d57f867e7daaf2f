//go:build !amd64 || purego

package gemm

// impls lists the implementations, fastest first.
var impls = []*impl{genericImpl}
