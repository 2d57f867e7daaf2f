//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go

//go:noescape
func kernel8x32AVX512(k int, a *float32, aRowStride, aKStride int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel6x16AVX2(k int, a *float32, aRowStride, aKStride int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel4x16AVX2(k int, a *float32, aRowStride, aKStride int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel2x16AVX2(k int, a *float32, aRowStride, aKStride int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel8x32RowsAVX512(k int, a *float32, aRowStride, aKStride int, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel6x16RowsAVX2(k int, a *float32, aRowStride, aKStride int, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel4x16RowsAVX2(k int, a *float32, aRowStride, aKStride int, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel2x16RowsAVX2(k int, a *float32, aRowStride, aKStride int, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel8x32ARowsAVX512(k int, a *float32, aRows *int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel8x16ARowsAVX512(k int, a *float32, aRows *int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel6x16ARowsAVX2(k int, a *float32, aRows *int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dot4x6AVX512(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func pack32AVX512(k int, src *float32, ld int, dst *float32)

//go:noescape
func packT32AVX512(blocks int, src *float32, ld int, dst *float32)

//go:noescape
func pack16AVX2(k int, src *float32, ld int, dst *float32)

//go:noescape
func packT16AVX2(blocks int, src *float32, ld int, dst *float32)

var (
	avx512Impl = &impl{name: "avx512", mr: 8, nr: 32, outer: kernel8x32AVX512, rows: kernel8x32RowsAVX512, aRows: kernel8x32ARowsAVX512, aRowsHalf: kernel8x16ARowsAVX512, dot: dot4x6AVX512, pack: pack32AVX512, packT16: packT32AVX512,
		usable: cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasFMA}
	avx2Impl = &impl{name: "avx2", mr: 6, nr: 16, outer: kernel6x16AVX2, rows: kernel6x16RowsAVX2, aRows: kernel6x16ARowsAVX2, pack: pack16AVX2, packT16: packT16AVX2,
		edge:     [maxMR]outerKernelFunc{4: kernel4x16AVX2, 2: kernel2x16AVX2},
		edgeRows: [maxMR]rowsKernelFunc{4: kernel4x16RowsAVX2, 2: kernel2x16RowsAVX2},
		usable:   cpu.X86.HasAVX2 && cpu.X86.HasFMA}
)

// impls lists the implementations, fastest first.
var impls = []*impl{avx512Impl, avx2Impl, genericImpl}
