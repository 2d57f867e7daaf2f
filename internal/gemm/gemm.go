// Package gemm is a single-precision matrix multiply (SGEMM) for row-major
// matrices in pure Go and Go assembly, tuned for the skinny products that
// im2col convolutions produce.
//
// Design (after BLIS/GotoBLAS): C is computed in MR x NR register tiles by an
// assembly micro-kernel (AVX-512 8x32 or AVX2 6x16, chosen at run time; a
// pure-Go 4x4 kernel on other CPUs or with the purego build tag), over K
// blocks of kcBlock so that a tile's operands stay in L1/L2. Unlike BLIS, the
// kernel takes A's row and k strides, so A is read in place, never packed.
// B is read in place too while few row panels reuse it (the small M of
// convolutions, where a packing pass would cost as much as the multiply), and
// packed into contiguous zero-padded panels when reuse is high, when it is
// transposed (16x16 AVX-512 transposes) and at a partial panel. For A*B^T
// with a long K (the weight gradient) a second AVX-512 kernel takes dot
// products along the contiguous K of both operands, so B^T is not
// transposed at all. SgemmRowsSerial takes B as rows at arbitrary offsets
// (an indirect GEMM): twins of the outer kernels load each row's offset, so
// a convolution multiplies by a padded image in place; SgemmARowsSerial takes
// A that way (a weight gradient's runs), its kernel broadcasting from each
// row where a packed panel would transpose them. Sgemm splits C into
// column (or row) blocks for a pool of worker goroutines that spin briefly
// before parking, since calls are short.
package gemm

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// Blocking parameters (elements).
const (
	kcBlock    = 256  // K block of the outer-product path: a B panel is kcBlock*NR floats
	mcBlock    = 144  // rows of A per block, so an A block (mcBlock x kcBlock) sits in L2
	ncBlock    = 1024 // columns of B packed at once when B needs packing
	kcDotBlock = 512  // K block of the dot path: 6 rows of B (12 KiB) stay in L1

	packBMinRowPanels = 16 // pack all of B when M spans this many MR-row panels (measured)
)

// active is the implementation used by Sgemm and SgemmSerial.
var active = bestImpl()

func bestImpl() *impl {
	for _, im := range impls {
		if im.usable {
			return im
		}
	}
	return genericImpl
}

// Kernel returns the name of the micro-kernel in use: "avx512", "avx2" or "generic".
func Kernel() string { return active.name }

// threadSetting holds the SetThreads value; 0 means runtime.GOMAXPROCS(0).
var threadSetting atomic.Int32

// Threads returns the number of goroutines Sgemm may use.
func Threads() int {
	if t := int(threadSetting.Load()); t > 0 {
		return t
	}
	return runtime.GOMAXPROCS(0)
}

// SetThreads sets the number of goroutines Sgemm may use; n <= 0 restores the
// default, runtime.GOMAXPROCS(0).
func SetThreads(n int) {
	if n < 0 {
		n = 0
	}
	threadSetting.Store(int32(n))
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices,
// op(X) = X or X^T. op(A) is m x k, op(B) is k x n and C is m x n; lda, ldb
// and ldc are the row strides of the matrices as stored. When beta is 0, C
// is only written, so its old contents may be anything, even NaN.
// The work is split over up to Threads() goroutines, the caller's included.
// It panics if a stride is too small or a slice too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(active, Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine only, for callers that
// already run one multiply per core.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(active, 1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmRowsSerial computes C = alpha*A*op(B) + beta*C on the calling
// goroutine for a B given by its rows: row i of B as stored is the
// elements from b[rows[i]], k x n (n elements a row) or, with transB,
// n x k (k elements a row, op(B) = B^T). Rows need not be evenly spaced,
// ordered or disjoint, so a convolution can multiply by a zero-padded image
// in place, each row being the image shifted by one kernel tap, where
// im2col would copy it once per tap. A is m x k with row stride lda, C is
// m x n with row stride ldc; beta == 0 means C is only written. It panics
// if a stride is too small, a row of B runs past b or a slice is too short.
func SgemmRowsSerial(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, rows []int, beta float32, c []float32, ldc int) {
	sgemmRows(active, transB, m, n, k, alpha, a, lda, b, rows, beta, c, ldc)
}

func sgemmRows(im *impl, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, rows []int, beta float32, c []float32, ldc int) {
	checkMatrix("A", false, m, k, a, lda)
	checkMatrix("C", false, m, n, c, ldc)
	count, length := k, n // rows of B as stored, and their length
	if transB {
		count, length = n, k
	}
	checkRows("B", rows, count, length, b)
	g := args{im: im, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, b: b, rows: rows, c: c, lda: lda, ldc: ldc}
	g.runSerial()
}

// SgemmARowsSerial computes C = alpha*A*op(B) + beta*C on the calling
// goroutine for an A given by its rows: row i of A is the k elements from
// a[rows[i]]. As in SgemmRowsSerial the rows may lie anywhere and overlap:
// the weight gradient of a convolution multiplies the runs of a padded
// image under each kernel tap by the output gradient, transposed, reading
// the runs in place. op(B) is k x n, B stored k x n or (transB) n x k with
// row stride ldb; C is m x n with row stride ldc; beta == 0 means C is only
// written. It panics if a stride is too small, a row of A runs past a or a
// slice is too short.
func SgemmARowsSerial(transB bool, m, n, k int, alpha float32, a []float32, rows []int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmARows(active, transB, m, n, k, alpha, a, rows, b, ldb, beta, c, ldc)
}

func sgemmARows(im *impl, transB bool, m, n, k int, alpha float32, a []float32, rows []int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkMatrix("B", transB, k, n, b, ldb)
	checkMatrix("C", false, m, n, c, ldc)
	checkRows("A", rows, m, k, a)
	g := args{im: im, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, aRows: rows, b: b, c: c, ldb: ldb, ldc: ldc}
	g.runSerial()
}

// checkRows panics unless x holds the count rows of length elements that
// start at x[rows[i]], the rows of the matrix named name.
func checkRows(name string, rows []int, count, length int, x []float32) {
	if count < 0 || len(rows) < count {
		panic(fmt.Sprintf("gemm: len(rows) = %d < %d", len(rows), count))
	}
	for i, r := range rows[:count] {
		if r < 0 || length > 0 && r+length > len(x) {
			panic(fmt.Sprintf("gemm: row %d of %s, [%d:%d], is outside its len %d", i, name, r, r+length, len(x)))
		}
	}
}

// runSerial computes the checked multiply g on the calling goroutine.
func (g *args) runSerial() {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		scaleC(g.m, g.n, g.beta, g.c, g.ldc)
		return
	}
	ws := getWorkspace()
	g.run(ws)
	putWorkspace(ws)
}

// args holds one multiply; sub-multiplies for the parallel split are args too.
type args struct {
	im             *impl
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	rows           []int // B's row offsets in b (SgemmRowsSerial); nil: rows ldb apart
	aRows          []int // A's row offsets in a (SgemmARowsSerial); nil: rows lda apart
}

func sgemm(im *impl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkMatrix("A", transA, m, k, a, lda)
	checkMatrix("B", transB, k, n, b, ldb)
	checkMatrix("C", false, m, n, c, ldc)
	g := args{im: im, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc}
	if threads > 1 && alpha != 0 && 2*m*n*k >= minParallelFlops {
		runParallel(&g, threads)
		return
	}
	g.runSerial()
}

// checkMatrix panics unless x holds a rows x cols matrix (cols x rows if trans) with row stride ld.
func checkMatrix(name string, trans bool, rows, cols int, x []float32, ld int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("gemm: negative dimension of %s: %d x %d", name, rows, cols))
	}
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: ld%s = %d < %d", name, ld, max(1, cols)))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: len(%s) = %d < %d", name, len(x), (rows-1)*ld+cols))
	}
}

// scaleC sets C = beta*C, writing zeros when beta is 0 so NaNs do not survive.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// run computes the multiply on the calling goroutine.
func (g *args) run(ws *workspace) {
	if g.useDot() {
		g.runDot(ws)
		return
	}
	g.runOuter(ws)
}

// useDot reports whether A*B^T should use the dot kernel rather than
// transposing B into panels. Transposing costs O(N*K) and is shared by the
// M rows; the dot kernel's horizontal sums cost O(M*N) and are shared by the
// K steps. Measured on Zen 4, the dot kernel wins from K >= 8*M.
func (g *args) useDot() bool {
	return g.im.dot != nil && g.rows == nil && g.aRows == nil && !g.transA && g.transB && g.k >= max(dotMinK, 8*g.m) && g.m >= dotMR && g.n >= dotNR
}

// dotMinK is the shortest K for the dot kernel: below it the horizontal sums
// at the end of each tile cost as much as the products.
const dotMinK = 64

// runDot computes C = alpha*A*B^T + beta*C with the dot kernel on the part of
// C that it tiles exactly, and the rest with the outer-product path.
func (g *args) runDot(ws *workspace) {
	m4 := g.m - g.m%dotMR
	n6 := g.n - g.n%dotNR
	b, c := g.b, g.c
	for pc := 0; pc < g.k; pc += kcDotBlock {
		kc := min(kcDotBlock, g.k-pc)
		beta := g.beta
		if pc > 0 {
			beta = 1
		}
		for j := 0; j < n6; j += dotNR {
			bp := &b[j*g.ldb+pc]
			for i := 0; i < m4; i += dotMR {
				g.im.dot(kc, &g.a[i*g.lda+pc], g.lda, bp, g.ldb, &c[i*g.ldc+j], g.ldc, g.alpha, beta)
			}
		}
	}
	if n6 < g.n { // right strip, all rows
		r := *g
		r.n = g.n - n6
		r.b = g.b[n6*g.ldb:]
		r.c = g.c[n6:]
		r.runOuter(ws)
	}
	if m4 < g.m { // bottom strip, left of the right strip
		r := *g
		r.m = g.m - m4
		r.n = n6
		r.a = g.a[m4*g.lda:]
		r.c = g.c[m4*g.ldc:]
		r.runOuter(ws)
	}
}

// runOuter is the blocked outer-product path.
func (g *args) runOuter(ws *workspace) {
	im := g.im
	mr, nr := im.mr, im.nr
	mc := mcBlock / mr * mr
	// Reading B in place saves a pass over it, but its rows are far apart
	// (often a multiple of 4 KiB, so they collide in L1); once a B panel is
	// reused by many row panels, a contiguous copy is faster.
	packAllB := g.m >= packBMinRowPanels*mr
	rowsInPlace := g.rows != nil && !g.transB && im.rows != nil && !packAllB
	ws.edgeAValid = false
	for jc := 0; jc < g.n; jc += ncBlock {
		nc := min(ncBlock, g.n-jc)
		for pc := 0; pc < g.k; pc += kcBlock {
			kc := min(kcBlock, g.k-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1 // later K blocks accumulate onto the first
			}
			// B panels: in place when possible, else packed into ws.packB.
			nPanels := (nc + nr - 1) / nr
			for jp := 0; jp < nPanels; jp++ {
				j0 := jc + jp*nr
				nw := min(nr, jc+nc-j0)
				ws.bRows[jp] = nil
				switch {
				case rowsInPlace && nw == nr:
					ws.bPanel[jp] = &g.b[j0]
					ws.bRows[jp] = &g.rows[pc]
					continue
				case g.rows == nil && !g.transB && nw == nr && !packAllB:
					ws.bPanel[jp] = &g.b[pc*g.ldb+j0]
					ws.bStride[jp] = g.ldb
					continue
				}
				dst := ws.packB[jp*nr*kc : (jp+1)*nr*kc]
				switch {
				case g.rows != nil:
					packRows(dst, nr, g.transB, g.b, g.rows, pc, kc, j0, nw)
				case !g.transB && nw == nr && im.pack != nil:
					im.pack(kc, &g.b[pc*g.ldb+j0], g.ldb, &dst[0])
				case g.transB && nw%16 == 0 && im.packT16 != nil && kc >= 16:
					packBTransposed(im, dst, nr, nw, g.b, g.ldb, pc, kc, j0)
				default:
					packB(dst, nr, g.transB, g.b, g.ldb, pc, kc, j0, nw)
				}
				ws.bPanel[jp] = &dst[0]
				ws.bStride[jp] = nr
			}
			for ic := 0; ic < g.m; ic += mc {
				mcur := min(mc, g.m-ic)
				for jp := 0; jp < nPanels; jp++ {
					j0 := jc + jp*nr
					nw := min(nr, jc+nc-j0)
					for i0, mw := ic, 0; i0 < ic+mcur; i0 += mw {
						mw = min(mr, g.m-i0)
						if g.m-i0 == mr+2 && im.edge[4] != nil && im.edge[2] != nil {
							// The last mr+2 rows (32 = 4*6 + 8 on AVX2) as two
							// 4-row panels: the 2-row kernel has too few
							// accumulators to hide the FMA latency.
							mw = 4
						}
						// The kernels and the rows they compute.
						kernel, rowsKernel, kr := im.outer, im.rows, mr
						if mw < mr && im.edge[mw] != nil {
							kernel, rowsKernel, kr = im.edge[mw], im.edgeRows[mw], mw
						}
						var ap *float32
						var aRow, aK int
						switch {
						case g.aRows != nil && mw == mr && im.aRows != nil:
							// read in place by the A-rows kernel below
						case g.aRows != nil:
							packARows(ws.packA, mr, g.a, g.aRows[i0:i0+mw], pc, kc)
							ap, aRow, aK = &ws.packA[0], 1, mr
						case mw < kr:
							// Partial panel: zero-pad it so the kernel never reads past A.
							if jp == 0 || !ws.edgeAValid {
								packA(ws.packA, mr, g.transA, g.a, g.lda, i0, mw, pc, kc)
								ws.edgeAValid = true
							}
							ap, aRow, aK = &ws.packA[0], 1, mr
						case g.transA:
							ap, aRow, aK = &g.a[pc*g.lda+i0], 1, g.lda
						default:
							ap, aRow, aK = &g.a[i0*g.lda+pc], g.lda, 1
						}
						aRowsKernel, kn := im.aRows, nr // columns the kernel computes
						if ap == nil && nw == nr/2 && im.aRowsHalf != nil {
							aRowsKernel, kn = im.aRowsHalf, nw
						}
						c, ldc, cBeta := &g.c[i0*g.ldc+j0], g.ldc, beta
						partial := nw < kn || mw < kr
						if partial {
							c, ldc, cBeta = &ws.tile[0], nr, 0
						}
						if ap == nil {
							aRowsKernel(kc, &g.a[pc], &g.aRows[i0], ws.bPanel[jp], ws.bStride[jp], c, ldc, g.alpha, cBeta)
						} else if rows := ws.bRows[jp]; rows != nil {
							rowsKernel(kc, ap, aRow, aK, ws.bPanel[jp], rows, c, ldc, g.alpha, cBeta)
						} else {
							kernel(kc, ap, aRow, aK, ws.bPanel[jp], ws.bStride[jp], c, ldc, g.alpha, cBeta)
						}
						if partial {
							mergeTile(ws.tile, nr, g.c[i0*g.ldc+j0:], g.ldc, mw, nw, beta)
						}
					}
				}
				ws.edgeAValid = false
			}
		}
	}
}

// packA copies rows i0..i0+mw-1, columns pc..pc+kc-1 of op(A) into dst as
// kc groups of mr values (one column of the panel each), zero-padding rows mw..mr-1.
func packA(dst []float32, mr int, trans bool, a []float32, lda, i0, mw, pc, kc int) {
	dst = dst[:mr*kc]
	clear(dst)
	for i := 0; i < mw; i++ {
		for p := 0; p < kc; p++ {
			if trans {
				dst[p*mr+i] = a[(pc+p)*lda+i0+i]
			} else {
				dst[p*mr+i] = a[(i0+i)*lda+pc+p]
			}
		}
	}
}

// packARows is packA for A given by row offsets: the mw = len(rows) rows
// at a[rows[i]], columns pc..pc+kc-1, zero-padding rows mw..mr-1.
func packARows(dst []float32, mr int, a []float32, rows []int, pc, kc int) {
	dst = dst[:mr*kc]
	if len(rows) < mr {
		clear(dst)
	}
	for i, r := range rows {
		for p, v := range a[r+pc : r+pc+kc] {
			dst[p*mr+i] = v
		}
	}
}

// packB copies rows pc..pc+kc-1, columns j0..j0+nw-1 of op(B) into dst as kc
// rows of nr values, zero-padding columns nw..nr-1.
func packB(dst []float32, nr int, trans bool, b []float32, ldb, pc, kc, j0, nw int) {
	if !trans {
		for p := 0; p < kc; p++ {
			row := dst[p*nr : (p+1)*nr]
			copy(row, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+nw])
			clear(row[nw:])
		}
		return
	}
	// B is stored n x k: read each stored row (contiguous in p) once.
	if nw < nr {
		clear(dst[:kc*nr])
	}
	for j := 0; j < nw; j++ {
		src := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kc]
		for p, v := range src {
			dst[p*nr+j] = v
		}
	}
}

// packRows is packB for B given by row offsets: rows pc..pc+kc-1,
// columns j0..j0+nw-1 of op(B), where row i of B as stored starts at
// b[rows[i]].
func packRows(dst []float32, nr int, trans bool, b []float32, rows []int, pc, kc, j0, nw int) {
	if !trans {
		for p, r := range rows[pc : pc+kc] {
			row := dst[p*nr : (p+1)*nr]
			copy(row, b[r+j0:r+j0+nw])
			clear(row[nw:])
		}
		return
	}
	if nw < nr {
		clear(dst[:kc*nr])
	}
	for j, r := range rows[j0 : j0+nw] {
		for p, v := range b[r+pc : r+pc+kc] {
			dst[p*nr+j] = v
		}
	}
}

// packBTransposed is packB for a panel of B^T nw columns wide, a multiple
// of 16, using the assembly transpose for the whole 16x16 blocks.
func packBTransposed(im *impl, dst []float32, nr, nw int, b []float32, ldb, pc, kc, j0 int) {
	if nw < nr {
		clear(dst[:kc*nr])
	}
	blocks := kc / 16
	for h := 0; h < nw; h += 16 {
		im.packT16(blocks, &b[(j0+h)*ldb+pc], ldb, &dst[h])
	}
	for j := 0; j < nw; j++ {
		for p := blocks * 16; p < kc; p++ {
			dst[p*nr+j] = b[(j0+j)*ldb+pc+p]
		}
	}
}

// mergeTile stores the mw x nw corner of tile (row stride nr) into C as C = tile + beta*C.
func mergeTile(tile []float32, nr int, c []float32, ldc, mw, nw int, beta float32) {
	for i := 0; i < mw; i++ {
		src := tile[i*nr : i*nr+nw]
		dst := c[i*ldc : i*ldc+nw]
		if beta == 0 {
			copy(dst, src)
			continue
		}
		for j, v := range src {
			dst[j] = v + beta*dst[j]
		}
	}
}
