package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// usableImpls returns the implementations this CPU can run.
func usableImpls() []*impl {
	var out []*impl
	for _, im := range impls {
		if im.usable {
			out = append(out, im)
		}
	}
	return out
}

type shape struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra elements at the end of every row (lda/ldb/ldc > width)
}

func (s shape) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g pad=%d", s.transA, s.transB, s.m, s.n, s.k, s.alpha, s.beta, s.pad)
}

// operands builds random A, B, C for s, with the padding elements set to NaN
// so that any read of them shows up in the result.
func operands(rng *rand.Rand, s shape) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	fill := func(rows, cols, pad int) ([]float32, int) {
		ld := cols + pad
		if ld == 0 {
			ld = 1
		}
		x := make([]float32, rows*ld)
		for i := range x {
			if i%ld >= cols {
				x[i] = float32(math.NaN())
			} else {
				x[i] = rng.Float32()*2 - 1
			}
		}
		return x, ld
	}
	ar, ac := s.m, s.k
	if s.transA {
		ar, ac = ac, ar
	}
	br, bc := s.k, s.n
	if s.transB {
		br, bc = bc, br
	}
	a, lda = fill(ar, ac, s.pad)
	b, ldb = fill(br, bc, s.pad)
	c, ldc = fill(s.m, s.n, s.pad)
	if s.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // beta = 0 must ignore C
		}
	}
	return
}

// check compares c against a float64 reference; the error allowed for each
// element is relative to sum |alpha*a*b| + |beta*c|.
func check(t *testing.T, label string, s shape, a []float32, lda int, b []float32, ldb int, c0, c []float32, ldc int) {
	t.Helper()
	at := func(i, p int) float64 {
		if s.transA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if s.transB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	bad := 0
	for i := 0; i < s.m; i++ {
		for j := 0; j < s.n; j++ {
			var sum, mag float64
			for p := 0; p < s.k; p++ {
				sum += at(i, p) * bt(p, j)
				mag += math.Abs(at(i, p) * bt(p, j))
			}
			want := float64(s.alpha) * sum
			mag *= math.Abs(float64(s.alpha))
			if s.beta != 0 {
				want += float64(s.beta) * float64(c0[i*ldc+j])
				mag += math.Abs(float64(s.beta) * float64(c0[i*ldc+j]))
			}
			got := float64(c[i*ldc+j])
			if !(math.Abs(got-want) <= 1e-5*mag+1e-30) {
				if bad < 3 {
					t.Errorf("%s %v: C[%d][%d] = %g, want %g", label, s, i, j, got, want)
				}
				bad++
			}
		}
		for j := s.n; j < ldc; j++ { // padding must be untouched
			if x := c[i*ldc+j]; x == x {
				t.Fatalf("%s %v: padding C[%d][%d] written: %g", label, s, i, j, x)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s %v: %d wrong elements", label, s, bad)
	}
}

func runShape(t *testing.T, rng *rand.Rand, im *impl, threads int, s shape) {
	t.Helper()
	a, lda, b, ldb, c, ldc := operands(rng, s)
	c0 := append([]float32(nil), c...)
	sgemm(im, threads, s.transA, s.transB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, c, ldc)
	check(t, fmt.Sprintf("%s/threads=%d", im.name, threads), s, a, lda, b, ldb, c0, c, ldc)
}

func TestKernelsMatchReference(t *testing.T) {
	dims := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 31, 32, 33, 48, 65, 70}
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2.5, -1}, {0, 0.5}}
	for _, im := range usableImpls() {
		rng := rand.New(rand.NewPCG(1, 2))
		for iter := 0; iter < 400; iter++ {
			ab := scalars[rng.IntN(len(scalars))]
			s := shape{
				transA: rng.IntN(2) == 0, transB: rng.IntN(2) == 0,
				m: dims[rng.IntN(len(dims))], n: dims[rng.IntN(len(dims))], k: dims[rng.IntN(len(dims))],
				alpha: ab[0], beta: ab[1], pad: rng.IntN(3) * 3,
			}
			runShape(t, rng, im, 1, s)
		}
	}
}

// TestBlockEdges crosses every blocking boundary: K blocks of both paths,
// the M block and the N block, in all four transpose combinations.
func TestBlockEdges(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{16, 1030, 27},    // N block edge, short K
		{150, 40, 300},    // M block and K block edges
		{20, 45, 530},     // dot-path K block + tails in M, N and K
		{64, 144, 1024},   // weight-gradient shape
		{144, 256, 16},    // input-gradient shape
		{9, 70, 257},      // partial panels everywhere
		{1, 1, 1000},      // single dot product
		{33, 1, 70},       // single column
		{1, 97, 65},       // single row
		{12, 12, kcBlock}, // exactly one K block
	}
	for _, im := range usableImpls() {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, sh := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					runShape(t, rng, im, 1, shape{transA: ta, transB: tb, m: sh.m, n: sh.n, k: sh.k, alpha: 1.5, beta: 0.5, pad: 1})
				}
			}
		}
	}
}

func TestParallelMatchesReference(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{16, 1024, 144}, {64, 576, 256}, {576, 256, 32}, {32, 288, 1024}, {70, 200, 99}, {8, 40, 300}, {300, 8, 500},
	}
	for _, im := range usableImpls() {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, threads := range []int{2, 3, 8} {
			for _, sh := range shapes {
				for _, ta := range []bool{false, true} {
					for _, tb := range []bool{false, true} {
						runShape(t, rng, im, threads, shape{transA: ta, transB: tb, m: sh.m, n: sh.n, k: sh.k, alpha: 1, beta: 0})
					}
				}
			}
		}
	}
}

func TestDegenerate(t *testing.T) {
	for _, im := range usableImpls() {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, s := range []shape{
			{m: 0, n: 5, k: 3, alpha: 1, beta: 0},
			{m: 5, n: 0, k: 3, alpha: 1, beta: 0},
			{m: 5, n: 4, k: 0, alpha: 1, beta: 0},   // C = 0 even if it held NaN
			{m: 5, n: 4, k: 0, alpha: 1, beta: 2},   // C = 2C
			{m: 5, n: 4, k: 3, alpha: 0, beta: 0.5}, // A and B not used
			{m: 5, n: 4, k: 0, alpha: 1, beta: 1, pad: 2},
		} {
			runShape(t, rng, im, 1, s)
		}
	}
	// Empty slices are fine when a dimension is zero.
	Sgemm(false, false, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1)
}

func TestBadArgumentsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"short A": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		"small lda": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		"short C": func() {
			Sgemm(true, true, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		},
		"negative": func() { Sgemm(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestThreadsKnob(t *testing.T) {
	defer SetThreads(0)
	SetThreads(3)
	if Threads() != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", Threads())
	}
	SetThreads(0)
	if Threads() < 1 {
		t.Fatalf("default Threads() = %d", Threads())
	}
}

// TestSteadyStateAllocs checks that the pooled buffers make repeated calls allocation free.
func TestSteadyStateAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range []shape{
		{m: 32, n: 256, k: 288, alpha: 1},
		{m: 33, n: 250, k: 100, transB: true, alpha: 1}, // packed B, partial tiles
		{m: 64, n: 144, k: 1024, transB: true, alpha: 1},
		{m: 144, n: 1024, k: 16, transA: true, alpha: 1},
	} {
		a, lda, b, ldb, c, ldc := operands(rng, s)
		for _, threads := range []int{1, 2} {
			allocs := testing.AllocsPerRun(20, func() {
				sgemm(active, threads, s.transA, s.transB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, c, ldc)
			})
			if allocs != 0 {
				t.Errorf("%v threads=%d: %v allocations per call", s, threads, allocs)
			}
		}
	}
}

// TestConcurrentCallers runs parallel multiplies from several goroutines at
// once, as a model running layers side by side would.
func TestConcurrentCallers(t *testing.T) {
	const callers = 4
	errs := make(chan string, callers)
	for g := 0; g < callers; g++ {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			s := shape{m: 24 + g, n: 300, k: 100, transB: g%2 == 1, alpha: 1}
			a, lda, b, ldb, c, ldc := operands(rng, s)
			want := make([]float32, len(c))
			sgemm(genericImpl, 1, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, want, ldc)
			for iter := 0; iter < 50; iter++ {
				sgemm(active, 2, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, ldc)
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						if d := c[i*ldc+j] - want[i*ldc+j]; d > 1e-3 || d < -1e-3 {
							errs <- fmt.Sprintf("caller %d: C[%d][%d] = %g, want %g", g, i, j, c[i*ldc+j], want[i*ldc+j])
							return
						}
					}
				}
			}
			errs <- ""
		}()
	}
	for range callers {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

// TestRowsMatchReference multiplies by B given as rows at random, partly
// overlapping offsets, stored k x n and (transB) n x k, on every usable
// implementation, across the blocking edges (K blocks, the packed-B
// threshold of M, N blocks, partial panels, K tails of the transposes).
// Elements of b outside every row are NaN, so a kernel that reads past a
// row into them spoils the result.
func TestRowsMatchReference(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{16, 2244, 144}, {32, 600, 288}, {64, 130, 576}, {6, 16, 9}, {4, 17, 27},
		{2, 33, 1}, {1, 1, 1}, {7, 15, 300}, {100, 70, 40}, {150, 1030, 27}, {9, 48, 530},
		{16, 144, 2244}, {64, 576, 300}, {32, 288, 47},
	}
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}}
	for _, im := range usableImpls() {
		rng := rand.New(rand.NewPCG(5, 6))
		for i, sh := range shapes {
			for _, transB := range []bool{false, true} {
				ab := scalars[i%len(scalars)]
				s := shape{transB: transB, m: sh.m, n: sh.n, k: sh.k, alpha: ab[0], beta: ab[1], pad: i % 2 * 3}
				a, lda, _, _, c, ldc := operands(rng, s)
				c0 := append([]float32(nil), c...)
				count, length := sh.k, sh.n // B's rows as stored
				if transB {
					count, length = sh.n, sh.k
				}
				b, rows, dense := rowsOperand(rng, count, length)
				sgemmRows(im, transB, s.m, s.n, s.k, s.alpha, a, lda, b, rows, s.beta, c, ldc)
				check(t, im.name+"/rows", s, a, lda, dense, length, c0, c, ldc)
			}
		}
	}
}

// rowsOperand returns count rows of length values at random, partly
// overlapping offsets in x, the elements of x outside every row NaN (so
// that a kernel that reads past a row spoils the result), and the same
// rows as an ordinary count x length matrix.
func rowsOperand(rng *rand.Rand, count, length int) (x []float32, rows []int, dense []float32) {
	span := 3*length + 2*count
	x = make([]float32, span+length)
	for j := range x {
		x[j] = float32(math.NaN())
	}
	rows = make([]int, count)
	dense = make([]float32, count*length)
	for r := range rows {
		rows[r] = rng.IntN(span)
		for j := 0; j < length; j++ {
			if v := x[rows[r]+j]; v != v {
				x[rows[r]+j] = rng.Float32()*2 - 1
			}
		}
	}
	for r, at := range rows {
		copy(dense[r*length:(r+1)*length], x[at:at+length])
	}
	return x, rows, dense
}

// TestARowsMatchReference is TestRowsMatchReference for A given by rows
// (SgemmARowsSerial), B stored k x n and n x k: the shapes of weight
// gradients (m = Cin*9 rows of runs, n = Cout, long k) and the blocking
// edges (partial row panels, partial B panels, K blocks).
func TestARowsMatchReference(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{144, 16, 2244}, {288, 32, 600}, {576, 64, 300}, {27, 16, 4000}, {6, 16, 9},
		{4, 17, 27}, {8, 33, 1}, {1, 1, 1}, {7, 15, 300}, {100, 70, 40}, {13, 48, 530},
		// Half-width panels (16 of 32 columns on AVX-512) with odd K blocks.
		{16, 16, 301}, {40, 48, 257}, {8, 16, 1}, {24, 16, 3},
	}
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}}
	for _, im := range usableImpls() {
		rng := rand.New(rand.NewPCG(7, 8))
		for i, sh := range shapes {
			for _, transB := range []bool{false, true} {
				ab := scalars[i%len(scalars)]
				s := shape{transB: transB, m: sh.m, n: sh.n, k: sh.k, alpha: ab[0], beta: ab[1], pad: i % 2 * 3}
				_, _, b, ldb, c, ldc := operands(rng, s)
				c0 := append([]float32(nil), c...)
				a, rows, dense := rowsOperand(rng, sh.m, sh.k)
				sgemmARows(im, transB, s.m, s.n, s.k, s.alpha, a, rows, b, ldb, s.beta, c, ldc)
				check(t, im.name+"/arows", s, dense, sh.k, b, ldb, c0, c, ldc)
			}
		}
	}
}

func TestARowsOutsideAPanics(t *testing.T) {
	a, b, c := make([]float32, 10), make([]float32, 4), make([]float32, 4)
	for _, rows := range [][]int{{0, 7}, {-1, 0}, {0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("rows %v over len(a) = 8, 2 x 2: no panic", rows)
				}
			}()
			SgemmARowsSerial(false, 2, 2, 2, 1, a[:8], rows, b, 2, 0, c, 2)
		}()
	}
}

func TestRowsOutsideBPanics(t *testing.T) {
	a, b, c := make([]float32, 4), make([]float32, 10), make([]float32, 4)
	for _, rows := range [][]int{{0, 7}, {-1, 0}, {0}} {
		for _, transB := range []bool{false, true} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("rows %v over len(b) = 8, 2 x 2, transB %v: no panic", rows, transB)
					}
				}()
				SgemmRowsSerial(transB, 2, 2, 2, 1, a, 2, b[:8], rows, 0, c, 2)
			}()
		}
	}
}
