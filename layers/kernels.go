package layers

import (
	gemm32 "github.com/gorgonia-zoo/resnet/internal/gemm"
	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/tensor"
)

// float is the element type of the kernels: float32 for training, float64
// for finite-difference gradient checks.
type float interface{ ~float32 | ~float64 }

// gemm computes C = op(A)*op(B) + beta*C, row-major, on the calling
// goroutine: the ops parallelize over images themselves. float32 goes
// through the package's AVX-512/AVX2 kernels, float64 (gradient checks only)
// through gonum.
func gemm[T float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	switch a := any(a).(type) {
	case []float32:
		gemm32.SgemmSerial(transA, transB, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		ta, tb := blas.NoTrans, blas.NoTrans
		if transA {
			ta = blas.Trans
		}
		if transB {
			tb = blas.Trans
		}
		gonum.Implementation{}.Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// workspace keeps an op's buffers across steps so that the steady state
// allocates nothing. Slots are numbered by the op.
type workspace struct {
	bufs    []any
	outputs []*tensor.Dense
	// planned is the output buffer PlanMemory assigned, shared with other
	// ops whose outputs are never alive at the same time.
	planned *tensor.Dense
	// copied tells, per worker, whether its copy of the weights is current
	// (see workerWeights).
	copied []bool
}

// scratch returns slot's buffer with room for n elements (contents undefined).
func scratch[T float | int](w *workspace, slot, n int) []T {
	for len(w.bufs) <= slot {
		w.bufs = append(w.bufs, nil)
	}
	b, _ := w.bufs[slot].([]T)
	if cap(b) < n {
		b = make([]T, n)
		w.bufs[slot] = b
	}
	return b[:n]
}

// output returns slot's output tensor of the given dtype and shape, reusing
// the previous step's tensor when it fits (contents undefined).
func (w *workspace) output(slot int, dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if p := w.planned; slot == 0 && p != nil && p.Dtype() == dt && p.Shape().Eq(shape) {
		return p
	}
	for len(w.outputs) <= slot {
		w.outputs = append(w.outputs, nil)
	}
	if t := w.outputs[slot]; t != nil && t.Dtype() == dt && t.Shape().Eq(shape) {
		return t
	}
	t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	w.outputs[slot] = t
	return t
}

// im2col unrolls one image (C,H,W) into col (C*kh*kw, Ho*Wo) so that a
// convolution becomes one matrix product. Each output row is a run of input
// pixels, copied whole where the kernel tap stays inside the image.
func im2col[T float](x []T, c, h, w int, g *convGeom, col []T) {
	ho, wo := g.outSize(h, w)
	p := ho * wo
	for ci := 0; ci < c; ci++ {
		plane := x[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < g.kh; ki++ {
			for kj := 0; kj < g.kw; kj++ {
				row := col[((ci*g.kh+ki)*g.kw+kj)*p:][:p]
				lo, hi := g.validColumns(kj, w, wo)
				for oy := 0; oy < ho; oy++ {
					iy := oy*g.sh - g.ph + ki
					dst := row[oy*wo : (oy+1)*wo]
					if iy < 0 || iy >= h || lo >= hi {
						zero(dst)
						continue
					}
					zero(dst[:lo])
					zero(dst[hi:])
					src := plane[iy*w : (iy+1)*w]
					off := kj - g.pw
					if g.sw == 1 {
						// Rows are a few dozen values: a plain loop beats memmove's call.
						copy(dst[lo:hi], src[lo+off:hi+off])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						dst[ox] = src[ox*g.sw+off]
					}
				}
			}
		}
	}
}

// addTo adds src into dst, four at a time.
func addTo[T float](dst, src []T) {
	dst = dst[:len(src)]
	i := 0
	for ; i+4 <= len(src); i += 4 {
		d, s := dst[i:i+4:i+4], src[i:i+4:i+4]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
	}
	for ; i < len(src); i++ {
		dst[i] += src[i]
	}
}

// zeroOnWorkers sets the values of t, float32 or float64, to 0 on all
// cores.
func zeroOnWorkers(t *tensor.Dense) {
	switch d := t.Data().(type) {
	case []float32:
		parallel.For(len(d), func(_, lo, hi int) { clear(d[lo:hi]) })
	case []float64:
		parallel.For(len(d), func(_, lo, hi int) { clear(d[lo:hi]) })
	}
}

// zero clears a short slice without a call into the runtime.
func zero[T float](v []T) {
	for i := range v {
		v[i] = 0
	}
}

// validColumns returns the output columns [lo, hi) whose input column for
// kernel column kj lies inside an image of width w.
func (g *convGeom) validColumns(kj, w, wo int) (lo, hi int) {
	off := kj - g.pw // input column = ox*sw + off
	lo = 0
	if off < 0 {
		lo = (-off + g.sw - 1) / g.sw
	}
	hi = wo
	if last := (w - 1 - off); last < (wo-1)*g.sw {
		if last < 0 {
			return 0, 0
		}
		hi = last/g.sw + 1
	}
	return min(lo, hi), hi
}

// col2im adds col (C*kh*kw, Ho*Wo) back into one image's gradient (C,H,W),
// the adjoint of im2col. dx must be zeroed by the caller.
func col2im[T float](col []T, c, h, w int, g *convGeom, dx []T) {
	ho, wo := g.outSize(h, w)
	p := ho * wo
	for ci := 0; ci < c; ci++ {
		plane := dx[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < g.kh; ki++ {
			for kj := 0; kj < g.kw; kj++ {
				row := col[((ci*g.kh+ki)*g.kw+kj)*p:][:p]
				lo, hi := g.validColumns(kj, w, wo)
				off := kj - g.pw
				for oy := 0; oy < ho; oy++ {
					iy := oy*g.sh - g.ph + ki
					if iy < 0 || iy >= h || lo >= hi {
						continue
					}
					src := row[oy*wo : (oy+1)*wo]
					dst := plane[iy*w : (iy+1)*w]
					if g.sw == 1 {
						addTo(dst[lo+off:hi+off], src[lo:hi])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						dst[ox*g.sw+off] += src[ox]
					}
				}
			}
		}
	}
}
