package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// layout is one test case: n rows of m values ld = m+pad apart, starting
// off elements into a 32-byte aligned buffer.
type layout struct{ n, m, pad, off int }

func (l layout) String() string { return fmt.Sprintf("n%d m%d pad%d off%d", l.n, l.m, l.pad, l.off) }
func (l layout) ld() int        { return l.m + l.pad }

// layouts covers every partial-vector length, both sides of the unrolled
// loops, several rows with gaps between them, misaligned starts, and rows
// longer than a chunk.
func layouts() []layout {
	var ls []layout
	for m := 0; m <= 70; m++ {
		ls = append(ls, layout{1, m, 0, m % 8})
		ls = append(ls, layout{3, m, m%5 + 1, (m + 3) % 8})
	}
	for _, m := range []int{127, 128, 129, 255, 1024, chunk - 1, chunk, chunk + 1, 2*chunk + 13} {
		ls = append(ls, layout{2, m, 3, 1}, layout{1, m, 0, 0})
	}
	return append(ls, layout{128, 64, 64*15 + 1, 2})
}

// sentinel fills the gaps between rows and whatever lies past the data: a
// kernel that reads it gets NaN into its sums, one that writes it is seen.
var sentinel = math.Float32frombits(0x7fc0dead)

// special are values a row may hold besides random ones.
var special = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-40, -1e-40}

// buffer returns the operand of l (a slice into an aligned buffer, from its
// first element to past its last row's padding) with random values in
// [lo, hi), and specials at a rate of one in every `rare` values if rare > 0.
func buffer(rng *rand.Rand, l layout, lo, hi float32, rare int) []float32 {
	size := l.n*l.ld() + 8
	back := make([]float32, size+16)
	for i := range back {
		back[i] = sentinel
	}
	v := back[l.off : l.off+size]
	for r := 0; r < l.n; r++ {
		for j := 0; j < l.m; j++ {
			x := lo + (hi-lo)*rng.Float32()
			if rare > 0 && rng.IntN(rare) == 0 {
				x = special[rng.IntN(len(special))]
			}
			v[r*l.ld()+j] = x
		}
	}
	return v
}

func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

func requireAsm(t *testing.T) {
	if !Accelerated() {
		t.Skip("no assembly kernels on this CPU or build")
	}
}

// TestElementwiseMatchesGeneric holds each element-wise kernel to the
// generic Go, bit for bit (NaNs as NaNs), on every layout, with NaN, Inf,
// signed zeros and subnormals among the inputs; the gaps between rows and
// the values past the end must be left alone.
func TestElementwiseMatchesGeneric(t *testing.T) {
	requireAsm(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range layouts() {
		x, dy, b := buffer(rng, l, -2, 2, 9), buffer(rng, l, -1, 1, 9), buffer(rng, l, -2, 2, 9)
		scale, shift := float32(0.3+rng.Float64()), float32(rng.Float64()-0.5)
		gate := Gate[float32]{true, scale, shift}
		k, c1, center, c0 := float32(1.3), float32(-0.2), float32(0.05), float32(0.01)
		ld := l.ld()
		flat := l.n*ld - l.pad
		for _, c := range []struct {
			name      string
			asm, gold func(dst []float32)
		}{
			{"affine", func(d []float32) { Affine(d, x, l.n, l.m, ld, scale, shift, false) }, func(d []float32) { affine(d, x, l.n, l.m, ld, scale, shift, false) }},
			{"affine+relu", func(d []float32) { Affine(d, x, l.n, l.m, ld, scale, shift, true) }, func(d []float32) { affine(d, x, l.n, l.m, ld, scale, shift, true) }},
			{"affine+add", func(d []float32) { AffineAdd(d, x, b, l.n, l.m, ld, scale, shift, false) }, func(d []float32) { affineAdd(d, x, b, l.n, l.m, ld, scale, shift, false) }},
			{"affine+add+relu", func(d []float32) { AffineAdd(d, x, b, l.n, l.m, ld, scale, shift, true) }, func(d []float32) { affineAdd(d, x, b, l.n, l.m, ld, scale, shift, true) }},
			{"grad input", func(d []float32) { GradInput(d, dy, x, l.n, l.m, ld, Gate[float32]{}, k, c1, center, c0) }, func(d []float32) { gradInput(d, dy, x, l.n, l.m, ld, Gate[float32]{}, k, c1, center, c0) }},
			{"grad input+relu", func(d []float32) { GradInput(d, dy, x, l.n, l.m, ld, gate, k, c1, center, c0) }, func(d []float32) { gradInput(d, dy, x, l.n, l.m, ld, gate, k, c1, center, c0) }},
			{"relu", func(d []float32) { ReLU(d[:flat], x) }, func(d []float32) { relu(d[:flat], x) }},
			{"add", func(d []float32) { Add(d[:flat], x, b) }, func(d []float32) { add(d[:flat], x, b) }},
			{"add+relu", func(d []float32) { AddReLU(d[:flat], x, b) }, func(d []float32) { addReLU(d[:flat], x, b) }},
			{"keep positive", func(d []float32) { KeepPositive(d[:flat], x, dy) }, func(d []float32) { keepPositive(d[:flat], x, dy) }},
		} {
			got, want := buffer(rng, l, 0, 0, 0), buffer(rng, l, 0, 0, 0)
			for i := range got {
				got[i], want[i] = sentinel, sentinel
			}
			c.asm(got)
			c.gold(want)
			for i := range got {
				if !sameBits(got[i], want[i]) {
					t.Fatalf("%s %v: element %d (row %d, column %d) = %v (%#x), generic %v (%#x); x %v dy %v", c.name, l, i, i/ld, i%ld, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]), x[i], dy[i])
				}
			}
		}
	}
}

// reference computes in float64 the two sums of a reduction and the sum of
// their terms' magnitudes, the scale of their rounding errors.
func reference(l layout, term func(i int) (a, b float64)) (sa, sb, ma, mb float64) {
	for r := 0; r < l.n; r++ {
		for j := 0; j < l.m; j++ {
			a, b := term(r*l.ld() + j)
			sa, sb = sa+a, sb+b
			ma, mb = ma+math.Abs(a), mb+math.Abs(b)
		}
	}
	return
}

// close reports whether got is want to within float32 accumulation over a
// chunk: 1e-5 of the terms' magnitudes.
func close(got, want, scale float64) bool {
	return math.Abs(got-want) <= 1e-5*scale+1e-30
}

// TestSumsMatchReference holds the reductions, whichever path this build
// takes, and the generic Go to float64 sums, on every layout (NaN in the
// gaps between rows must not leak in), with data off-centre by 100 standard
// deviations so that the shift and centre matter.
func TestSumsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, l := range layouts() {
		x, dy := buffer(rng, l, 99, 101, 0), buffer(rng, l, -1, 1, 0)
		shift := float32(100.2)
		scale, sh := float32(2), float32(-200)
		for _, c := range []struct {
			name      string
			fast, gen func() (float64, float64)
			term      func(i int) (float64, float64)
		}{
			{"moments",
				func() (float64, float64) { return Moments(x, l.n, l.m, l.ld(), shift) },
				func() (float64, float64) { return moments(x, l.n, l.m, l.ld(), shift) },
				func(i int) (float64, float64) {
					d := float64(x[i]) - float64(shift)
					return d, d * d
				}},
			{"grad sums",
				func() (float64, float64) { return GradSums(dy, x, l.n, l.m, l.ld(), Gate[float32]{}, shift) },
				func() (float64, float64) { return gradSums(dy, x, l.n, l.m, l.ld(), Gate[float32]{}, shift) },
				func(i int) (float64, float64) {
					return float64(dy[i]), float64(dy[i]) * (float64(x[i]) - float64(shift))
				}},
			{"grad sums+relu",
				func() (float64, float64) {
					return GradSums(dy, x, l.n, l.m, l.ld(), Gate[float32]{true, scale, sh}, shift)
				},
				func() (float64, float64) {
					return gradSums(dy, x, l.n, l.m, l.ld(), Gate[float32]{true, scale, sh}, shift)
				},
				func(i int) (float64, float64) {
					if x[i]*scale+sh <= 0 { // exact in float32 here: x*2 - 200
						return 0, 0
					}
					return float64(dy[i]), float64(dy[i]) * (float64(x[i]) - float64(shift))
				}},
		} {
			wa, wb, ma, mb := reference(l, c.term)
			for _, path := range []struct {
				name string
				run  func() (float64, float64)
			}{{"dispatched", c.fast}, {"generic", c.gen}} {
				if path.name == "generic" && l.m > chunk {
					continue // the generic kernel is only ever given a chunk
				}
				a, b := path.run()
				if !close(a, wa, ma) || !close(b, wb, mb) {
					t.Errorf("%s %s %v: (%g, %g), want (%g, %g)", c.name, path.name, l, a, b, wa, wb)
				}
			}
		}
	}
}

// TestSumsPropagateNaN: a NaN in the data makes the sums NaN (a gradient
// that went NaN must show up in the statistics, not vanish), except where
// the fused ReLU zeroed its gradient.
func TestSumsPropagateNaN(t *testing.T) {
	for _, m := range []int{5, 8, 37, 100} {
		for _, at := range []int{0, m / 2, m - 1} {
			x, dy := make([]float32, m), make([]float32, m)
			for i := range x {
				x[i], dy[i] = float32(i%7), 1
			}
			x[at] = float32(math.NaN())
			if a, b := Moments(x, 1, m, m, 0); !math.IsNaN(a) || !math.IsNaN(b) {
				t.Errorf("Moments with NaN at %d of %d = %v, %v", at, m, a, b)
			}
			if _, b := GradSums(dy, x, 1, m, m, Gate[float32]{}, 0); !math.IsNaN(b) {
				t.Errorf("GradSums with NaN x at %d of %d: sum(dy*x) = %v", at, m, b)
			}
			// A NaN x passes the fused ReLU's gate, as it passed max(NaN, 0).
			if _, b := GradSums(dy, x, 1, m, m, Gate[float32]{true, 1, 0}, 0); !math.IsNaN(b) {
				t.Errorf("GradSums+relu with NaN x at %d of %d: sum(dy*x) = %v", at, m, b)
			}
			x[at], dy[at] = -1, float32(math.NaN())
			if a, _ := GradSums(dy, x, 1, m, m, Gate[float32]{}, 0); !math.IsNaN(a) {
				t.Errorf("GradSums with NaN dy at %d of %d: sum(dy) = %v", at, m, a)
			}
			if a, _ := GradSums(dy, x, 1, m, m, Gate[float32]{true, 1, 0}, 0); math.IsNaN(a) {
				t.Errorf("GradSums+relu: a NaN dy where the ReLU output 0 leaked into sum(dy)")
			}
		}
	}
}

// TestReLURules pins down the rules the kernels share with Go's max and the
// ReLU masks, on whichever path this build takes.
func TestReLURules(t *testing.T) {
	nan, negZero := float32(math.NaN()), float32(math.Copysign(0, -1))
	in := []float32{nan, negZero, 0, -1, 2, -3, 4, nan, negZero, 0.5}
	out := make([]float32, len(in))
	Affine(out, in, 1, len(in), len(in), 1, 0, true)
	for i, v := range in {
		want := max(v, 0)
		if !sameBits(out[i], want) {
			t.Errorf("Affine+relu(%v) = %v (%#x), want %v", v, out[i], math.Float32bits(out[i]), want)
		}
	}
	if !math.IsNaN(float64(out[0])) || math.Float32bits(out[1]) != 0 {
		t.Errorf("Affine+relu: NaN -> %v, -0 -> %#x; want NaN and +0", out[0], math.Float32bits(out[1]))
	}
	ReLU(out, in)
	if !math.IsNaN(float64(out[0])) || math.Float32bits(out[1]) != 0 {
		t.Errorf("ReLU: NaN -> %v, -0 -> %#x; want NaN and +0", out[0], math.Float32bits(out[1]))
	}
	// The gate passes where x*scale+shift > 0 or is NaN: sum(g) is dy there.
	for _, v := range in {
		want := 7.0
		if v <= 0 {
			want = 0
		}
		if got, _ := GradSums([]float32{7}, []float32{v}, 1, 1, 1, Gate[float32]{true, 1, 0}, 0); got != want {
			t.Errorf("GradSums+relu at x = %v: sum(g) = %v, want %v", v, got, want)
		}
	}
	dy := make([]float32, len(in))
	for i := range dy {
		dy[i] = float32(10 + i)
	}
	// KeepPositive: float32 passes wherever y's bits are not zero (y is a
	// ReLU's output, never negative).
	y := []float32{0, 1, nan, 0, 3, 0, 0, 2, 1}
	KeepPositive(out[:len(y)], y, dy[:len(y)])
	for i, v := range y {
		want := dy[i]
		if math.Float32bits(v) == 0 {
			want = 0
		}
		if out[i] != want {
			t.Errorf("KeepPositive at y = %v: %v, want %v", v, out[i], want)
		}
	}
	y64, dy64, out64 := []float64{0, 1, math.NaN()}, []float64{5, 6, 7}, make([]float64, 3)
	KeepPositive(out64, y64, dy64)
	if out64[0] != 0 || out64[1] != 6 || out64[2] != 0 {
		t.Errorf("KeepPositive float64 = %v, want [0 6 0]", out64)
	}
}

// TestAffineAddIsAffineThenAddReLU: the fused pass gives the bits of the
// two passes it replaces (a batch norm's output, then the residual add and
// ReLU), whichever path the build takes.
func TestAffineAddIsAffineThenAddReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 1000
	x, r := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], r[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	scale, shift := float32(0.7), float32(-0.3)
	fused, y, twoPass := make([]float32, n), make([]float32, n), make([]float32, n)
	AffineAdd(fused, x, r, 1, n, n, scale, shift, true)
	Affine(y, x, 1, n, n, scale, shift, false)
	AddReLU(twoPass, y, r)
	for i := range fused {
		if !sameBits(fused[i], twoPass[i]) {
			t.Fatalf("element %d: fused %v, two passes %v", i, fused[i], twoPass[i])
		}
	}
}

// TestPadRows: every row length from 0 to 41 (whole, single and partial
// vectors) after 0 to 2 zeros, rows laid out between different strides,
// and nothing written between the destination's rows or after the last,
// for each way of laying rows out: CopyRows (no zeros), PadRows,
// PadRowsAffineReLU (each value as the generic Affine with relu writes it,
// bit for bit) and PadRowsGradInput with and without the ReLU's gate (as
// the generic GradInput writes it).
func TestPadRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const scale, shift = 1.37, -0.61
	const k, c1, center, c0 = 0.83, -0.27, 0.11, 0.05
	type rows struct{ dst, a, b []float32 } // a: src or dy, b: x
	type padKind struct {
		name string
		lay  func(r rows, n, m, lead, ldDst, ldSrc int)
		one  func(a, b float32) float32 // the value written for a (and b)
	}
	kinds := []padKind{
		{"copy", func(r rows, n, m, lead, ldDst, ldSrc int) {
			if lead == 0 {
				CopyRows(r.dst, r.a, n, m, ldDst, ldSrc)
				return
			}
			PadRows(r.dst, r.a, n, m, lead, ldDst, ldSrc)
		}, func(a, _ float32) float32 { return a }},
		{"affine", func(r rows, n, m, lead, ldDst, ldSrc int) {
			PadRowsAffineReLU(r.dst, r.a, n, m, lead, ldDst, ldSrc, scale, shift)
		}, func(a, _ float32) float32 {
			one := []float32{0}
			affine(one, []float32{a}, 1, 1, 1, scale, shift, true)
			return one[0]
		}},
	}
	for _, relu := range []bool{false, true} {
		gate := Gate[float32]{ReLU: relu, Scale: 1.3, Shift: -0.2}
		kinds = append(kinds, padKind{fmt.Sprintf("gradient (ReLU %v)", relu), func(r rows, n, m, lead, ldDst, ldSrc int) {
			PadRowsGradInput(r.dst, r.a, r.b, n, m, lead, ldDst, ldSrc, gate, k, c1, center, c0)
		}, func(dy, x float32) float32 {
			one := []float32{0}
			gradInput(one, []float32{dy}, []float32{x}, 1, 1, 1, gate, k, c1, center, c0)
			return one[0]
		}})
	}
	for _, kind := range kinds {
		for m := 0; m <= 41; m++ {
			for _, n := range []int{1, 3} {
				for lead := range 3 {
					ldSrc, ldDst := m+1+rng.IntN(3), lead+m+rng.IntN(3)
					r := rows{a: make([]float32, n*ldSrc), b: make([]float32, n*ldSrc)}
					for i := range r.a {
						r.a[i], r.b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
					}
					r.dst = make([]float32, (n-1)*ldDst+lead+m+8)
					for i := range r.dst {
						r.dst[i] = sentinel
					}
					kind.lay(r, n, m, lead, ldDst, ldSrc)
					for i, v := range r.dst {
						row, j := i/max(ldDst, 1), i%max(ldDst, 1)
						want := sentinel
						switch at := row*ldSrc + j - lead; {
						case row < n && j < lead:
							want = 0
						case row < n && j < lead+m:
							want = kind.one(r.a[at], r.b[at])
						}
						if !sameBits(v, want) {
							t.Fatalf("%s: m %d n %d lead %d ldDst %d ldSrc %d: dst[%d] (row %d, column %d) = %v, want %v", kind.name, m, n, lead, ldDst, ldSrc, i, row, j, v, want)
						}
					}
				}
			}
		}
	}
}

// TestDealRows: every even-indexed value of each row lands in a, every
// odd-indexed one in b (or nowhere, with b nil), and nothing else is
// written, for rows shorter and longer than the assembly's 16-value blocks.
func TestDealRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for m := 0; m <= 67; m++ {
		for _, n := range []int{1, 3} {
			for _, withB := range []bool{true, false} {
				ldSrc, ldDst := m+rng.IntN(3), (m+1)/2+rng.IntN(3)
				src := make([]float32, n*max(ldSrc, 1))
				for i := range src {
					src[i] = float32(rng.NormFloat64())
				}
				fill := func() []float32 {
					d := make([]float32, n*max(ldDst, 1)+8)
					for i := range d {
						d[i] = sentinel
					}
					return d
				}
				a, b := fill(), fill()
				bArg := b
				if !withB {
					bArg = nil
				}
				DealRows(a, bArg, src, n, m, ldDst, ldSrc)
				for _, d := range []struct {
					name   string
					dst    []float32
					parity int
				}{{"a", a, 0}, {"b", b, 1}} {
					for i, v := range d.dst {
						row, j := i/max(ldDst, 1), i%max(ldDst, 1)
						want := sentinel
						if at := 2*j + d.parity; row < n && at < m && (d.parity == 0 || withB) {
							want = src[row*ldSrc+at]
						}
						if !sameBits(v, want) {
							t.Fatalf("m %d n %d b %v ldDst %d ldSrc %d: %s[%d] (row %d, column %d) = %v, want %v", m, n, withB, ldDst, ldSrc, d.name, i, row, j, v, want)
						}
					}
				}
			}
		}
	}
}

func TestShortSlicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Moments on a slice shorter than its rows did not panic")
		}
	}()
	Moments(make([]float32, 20), 3, 4, 8, 0) // needs 2*8+4 = 20: fine
	Moments(make([]float32, 19), 3, 4, 8, 0)
}

func BenchmarkKernels(b *testing.B) {
	// One ResNet-20 stage-1 channel at batch 128: 128 planes of 32x32.
	const n, m, nc = 128, 1024, 16
	rng := rand.New(rand.NewPCG(5, 6))
	l := layout{n, m, (nc - 1) * m, 0}
	x, dy, dx := buffer(rng, l, -1, 1, 0), buffer(rng, l, -1, 1, 0), buffer(rng, l, -1, 1, 0)
	gate := Gate[float32]{true, 1.1, 0.1}
	for _, k := range []struct {
		name    string
		streams int
		run     func()
	}{
		{"moments", 1, func() { Moments(x, n, m, l.ld(), 0.1) }},
		{"affine+relu", 2, func() { Affine(dx, x, n, m, l.ld(), 1.1, 0.1, true) }},
		{"grad sums+relu", 2, func() { GradSums(dy, x, n, m, l.ld(), gate, 0.1) }},
		{"grad input+relu", 3, func() { GradInput(dx, dy, x, n, m, l.ld(), gate, 1, 0.1, 0.1, 0.1) }},
	} {
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(int64(4 * n * m * k.streams))
			for b.Loop() {
				k.run()
			}
		})
	}
}
