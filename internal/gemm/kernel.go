package gemm

import "unsafe"

// outerKernelFunc computes the mr x nr tile acc = A*B over k steps and stores
// c = alpha*acc + beta*c (beta == 0: c = alpha*acc, C is not read).
// Element (i, p) of A is at a[i*aRowStride + p*aKStride]; element (p, j) of B
// is at b[p*bKStride + j]; element (i, j) of C is at c[i*ldc + j].
// Strides are in elements. Taking both A strides lets the kernel read A
// unpacked whether it is stored transposed or not.
type outerKernelFunc func(k int, a *float32, aRowStride, aKStride int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

// rowsKernelFunc is an outerKernelFunc whose B rows are not a stride apart:
// element (p, j) of B is at b[rows[p] + j].
type rowsKernelFunc func(k int, a *float32, aRowStride, aKStride int, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

// aRowsKernelFunc is an outerKernelFunc whose A rows are at offsets:
// element (i, p) of A is at a[aRows[i] + p].
type aRowsKernelFunc func(k int, a *float32, aRows *int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)

// dotKernelFunc computes the 4x6 tile C[i][j] = alpha*sum_p A[i][p]*B[j][p] + beta*C[i][j],
// with rows of A and B contiguous in p (the A*B^T case).
type dotKernelFunc func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// Tile shape of the dot kernel.
const (
	dotMR = 4
	dotNR = 6
)

// impl is one set of micro-kernels.
type impl struct {
	name   string
	mr, nr int
	outer  outerKernelFunc
	dot    dotKernelFunc // nil: A*B^T goes through the packing path
	// edge[r] is an r x nr kernel for the last r < mr rows of A; where it
	// has none, those rows are zero-padded to a full panel. (An array, not
	// a map: it is read for every tile.)
	edge [maxMR]outerKernelFunc
	// rows and edgeRows are outer and edge reading B through row offsets
	// (SgemmRowsSerial); nil: those B panels are gathered into packed ones.
	rows     rowsKernelFunc
	edgeRows [maxMR]rowsKernelFunc
	// aRows is outer reading A through row offsets (SgemmARowsSerial); nil:
	// those A panels are gathered into packed ones.
	aRows aRowsKernelFunc
	// aRowsHalf is aRows for the first nr/2 columns only, where C has no
	// more (nil: such panels take aRows on a zero-padded partial tile).
	aRowsHalf aRowsKernelFunc
	// pack copies k rows of nr floats from src (row stride ld) to dst; nil: use copy.
	pack func(k int, src *float32, ld int, dst *float32)
	// packT16 transposes 16 rows of B^T, 16*blocks columns, into a panel of
	// rows nr floats apart; nil: use Go loops.
	packT16 func(blocks int, src *float32, ld int, dst *float32)
	usable  bool // the CPU can run it
}

// genericImpl is the portable pure-Go implementation.
var genericImpl = &impl{name: "generic", mr: 4, nr: 4, outer: kernel4x4Generic, usable: true}

// kernel4x4Generic is the pure-Go outer-product kernel. The 16 accumulators are
// named locals so the compiler can keep them in registers.
func kernel4x4Generic(k int, a *float32, aRowStride, aKStride int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32) {
	var (
		c00, c01, c02, c03 float32
		c10, c11, c12, c13 float32
		c20, c21, c22, c23 float32
		c30, c31, c32, c33 float32
	)
	// Unsafe loads: bounds checks would double the work of this loop. The
	// offsets stay inside the operands (the driver guarantees the extents);
	// no pointer past them is ever formed.
	pa, pb := unsafe.Pointer(a), unsafe.Pointer(b)
	ld := func(p unsafe.Pointer, off uintptr) float32 { return *(*float32)(unsafe.Add(p, off)) }
	rs, ks, bs := uintptr(aRowStride)*4, uintptr(aKStride)*4, uintptr(bKStride)*4
	for p, oa, ob := 0, uintptr(0), uintptr(0); p < k; p, oa, ob = p+1, oa+ks, ob+bs {
		b0, b1, b2, b3 := ld(pb, ob), ld(pb, ob+4), ld(pb, ob+8), ld(pb, ob+12)
		a0, a1, a2, a3 := ld(pa, oa), ld(pa, oa+rs), ld(pa, oa+2*rs), ld(pa, oa+3*rs)
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	store := func(row []float32, x0, x1, x2, x3 float32) {
		row = row[:4:4]
		if beta == 0 {
			row[0], row[1], row[2], row[3] = alpha*x0, alpha*x1, alpha*x2, alpha*x3
			return
		}
		row[0] = alpha*x0 + beta*row[0]
		row[1] = alpha*x1 + beta*row[1]
		row[2] = alpha*x2 + beta*row[2]
		row[3] = alpha*x3 + beta*row[3]
	}
	store(cs[0:], c00, c01, c02, c03)
	store(cs[ldc:], c10, c11, c12, c13)
	store(cs[2*ldc:], c20, c21, c22, c23)
	store(cs[3*ldc:], c30, c31, c32, c33)
}

func init() {
	for _, im := range impls {
		if im.mr > maxMR || im.nr > maxNR || im.nr < 2 {
			panic("gemm: kernel tile " + im.name + " does not fit the workspace")
		}
		for r, edge := range im.edge {
			if im.rows != nil && (edge == nil) != (im.edgeRows[r] == nil) {
				panic("gemm: " + im.name + " has an edge kernel without its rows twin")
			}
		}
	}
}
