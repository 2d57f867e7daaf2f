package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// benchShapes are the products of ResNet convolutions via im2col.
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	// Forward: out(Cout x HW) = W(Cout x Cin*9) * col(Cin*9 x HW).
	{"fwd/conv1", false, false, 16, 1024, 27},
	{"fwd/s1", false, false, 16, 1024, 144},
	{"fwd/s2", false, false, 32, 256, 288},
	{"fwd/s3", false, false, 64, 64, 576},
	{"fwd/s1x8img", false, false, 16, 8192, 144},
	{"fwd/s3x64img", false, false, 64, 4096, 576},
	// Weight gradient: dW(Cout x K) += dY(Cout x HW) * col^T.
	{"wgrad/s1", false, true, 16, 144, 1024},
	{"wgrad/s2", false, true, 32, 288, 256},
	{"wgrad/s3", false, true, 64, 576, 64},
	{"wgrad/s1x8img", false, true, 16, 144, 8192},
	{"wgrad/s3x64img", false, true, 64, 576, 4096},
	// Input gradient: dcol(K x HW) = W^T * dY(Cout x HW).
	{"igrad/s1", true, false, 144, 1024, 16},
	{"igrad/s2", true, false, 288, 256, 32},
	{"igrad/s3", true, false, 576, 64, 64},
	{"igrad/s3x64img", true, false, 576, 4096, 64},
	// ResNet-50 1x1 convolutions and the FC layer.
	{"r50/1x1-56", false, false, 256, 3136, 64},
	{"r50/1x1-28", false, false, 128, 784, 512},
	{"r50/1x1-7", false, false, 2048, 49, 512},
	{"r50/1x1-7b", false, false, 512, 49, 2048},
	{"r50/fc", false, false, 1000, 32, 2048},
}

func benchOperands(m, n, k int) (a, b, c []float32) {
	rng := rand.New(rand.NewPCG(1, 1))
	rand32 := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()
		}
		return x
	}
	return rand32(m * k), rand32(k * n), rand32(m * n)
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		a, bm, c := benchOperands(s.m, s.n, s.k)
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		report := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		name := fmt.Sprintf("%s/m=%d/n=%d/k=%d", s.name, s.m, s.n, s.k)
		b.Run(name+"/serial", func(b *testing.B) {
			for b.Loop() {
				SgemmSerial(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
			}
			report(b)
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			for b.Loop() {
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
			}
			report(b)
		})
		b.Run(name+"/gonum", func(b *testing.B) {
			tA, tB := blas.NoTrans, blas.NoTrans
			if s.transA {
				tA = blas.Trans
			}
			if s.transB {
				tB = blas.Trans
			}
			for b.Loop() {
				gonum.Implementation{}.Sgemm(tA, tB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
			}
			report(b)
		})
	}
}

// BenchmarkKernel measures the micro-kernels alone on operands that fit in L1.
func BenchmarkKernel(b *testing.B) {
	for _, im := range usableImpls() {
		const k = 256
		a := make([]float32, im.mr*k)
		bp := make([]float32, k*im.nr)
		c := make([]float32, im.mr*im.nr)
		b.Run(im.name, func(b *testing.B) {
			for b.Loop() {
				im.outer(k, &a[0], 1, im.mr, &bp[0], im.nr, &c[0], im.nr, 1, 1)
			}
			b.ReportMetric(2*float64(im.mr*im.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		if im.dot != nil {
			a := make([]float32, dotMR*k)
			bp := make([]float32, dotNR*k)
			b.Run(im.name+"-dot", func(b *testing.B) {
				for b.Loop() {
					im.dot(k, &a[0], k, &bp[0], k, &c[0], dotNR, 1, 1)
				}
				b.ReportMetric(2*float64(dotMR*dotNR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSgemmPerCore runs serial products of a stage-1 and a stage-3
// convolution's shape on all GOMAXPROCS goroutines at once, each on its own
// operands (under 1 MB, a core's L2): nothing is shared and nothing waits,
// so -cpu 1,2 gives the most that a second core adds to compute-bound work
// on this machine, a ceiling for the speedup of a training step.
func BenchmarkSgemmPerCore(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{16, 1024, 144}, {64, 256, 576}} {
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		b.Run(fmt.Sprintf("m=%d/n=%d/k=%d", s.m, s.n, s.k), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				a, bm, c := benchOperands(s.m, s.n, s.k)
				for pb.Next() {
					SgemmSerial(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
				}
			})
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
