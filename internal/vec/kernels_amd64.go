//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go

//go:noescape
func momentsAVX2(x *float32, n, m, ld int, shift float32) (sumA, sumB float64)

//go:noescape
func affineAVX2(dst, x *float32, n, m, ld int, scale, shift float32)

//go:noescape
func affineReLUAVX2(dst, x *float32, n, m, ld int, scale, shift float32)

//go:noescape
func affineAddAVX2(dst, x, r *float32, n, m, ld int, scale, shift float32)

//go:noescape
func affineAddReLUAVX2(dst, x, r *float32, n, m, ld int, scale, shift float32)

//go:noescape
func gradSumsAVX2(dy, x *float32, n, m, ld int, center float32) (sumA, sumB float64)

//go:noescape
func gradSumsReLUAVX2(dy, x *float32, n, m, ld int, scale, shift, center float32) (sumA, sumB float64)

//go:noescape
func gradInputAVX2(dx, dy, x *float32, n, m, ld int, k, c1, center, c0 float32)

//go:noescape
func gradInputReLUAVX2(dx, dy, x *float32, n, m, ld int, scale, shift, k, c1, center, c0 float32)

//go:noescape
func reluAVX2(dst, a *float32, n, m, ld int)

//go:noescape
func addAVX2(dst, a, b *float32, n, m, ld int)

//go:noescape
func addReLUAVX2(dst, a, b *float32, n, m, ld int)

//go:noescape
func copyRowsAVX2(dst, src *float32, n, m, lead, ldDst, ldSrc int)

//go:noescape
func padRowsGradInputAVX2(dst, dy, x *float32, n, m, lead, ldDst, ldSrc int, k, c1, center, c0 float32)

//go:noescape
func padRowsGradInputReLUAVX2(dst, dy, x *float32, n, m, lead, ldDst, ldSrc int, scale, shift, k, c1, center, c0 float32)

//go:noescape
func padRowsAffineReLUAVX2(dst, src *float32, n, m, lead, ldDst, ldSrc int, scale, shift float32)

//go:noescape
func keepPositiveAVX2(dst, y, dy *float32, n, m, ld int)

//go:noescape
func dealRowsAVX2(a, b, src *float32, n, blocks, ldDst, ldSrc int)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		avx2 = &kernels{
			moments: momentsAVX2, affine: affineAVX2, affineReLU: affineReLUAVX2,
			affineAdd: affineAddAVX2, affineAddReLU: affineAddReLUAVX2,
			gradSums: gradSumsAVX2, gradSumsReLU: gradSumsReLUAVX2,
			gradInput: gradInputAVX2, gradInputReLU: gradInputReLUAVX2,
			relu: reluAVX2, add: addAVX2, addReLU: addReLUAVX2, keepPositive: keepPositiveAVX2,
			copyRows: copyRowsAVX2, padAffineReLU: padRowsAffineReLUAVX2,
			padGrad: padRowsGradInputAVX2, padGradReLU: padRowsGradInputReLUAVX2,
			dealRows: dealRowsAVX2,
		}
	}
}
