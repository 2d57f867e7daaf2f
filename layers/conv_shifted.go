package layers

import gemm32 "github.com/gorgonia-zoo/resnet/internal/gemm"

// Stride-1 "same" convolutions (3x3 with padding 1, the bulk of a ResNet's
// work) run without im2col. Images are zero-padded into planes of width
// Wp = W+p and height H+p: p zero columns before each row and p zero rows
// before each image, which also serve as the right padding of the row
// before and the bottom padding of the image before, so that little of the
// product is spent on border positions. A chunk of images is laid out
// channel by channel, each channel's planes one after another (p zero rows
// and columns after the last). In that layout the input pixels under
// kernel tap (ci, ki, kj) for every output pixel of the chunk form one
// contiguous run starting at ci*row + ki*Wp + kj, so the convolution of the
// chunk is one matrix product, weights (Cout, Cin*kh*kw) times a matrix
// whose rows are those runs, read in place by the gemm package's row-offset
// kernels: no im2col and no shifted copies. The product's output is in the
// same padded layout (its border columns are discarded). The input gradient
// is the same product over padded dy with the kernel flipped; the weight
// gradient is padded dy times the runs transposed: long dot products over
// the whole chunk.

// chunkImages is the most images one product covers: enough to make the
// products long for small late-stage images. chunkBytes bounds a worker's
// padded chunk so that it stays in L2.
const (
	chunkImages = 8
	chunkBytes  = 256 << 10
)

// shifted reports whether the convolution takes the shifted-products path.
func (g *convGeom) shifted() bool {
	return g.sh == 1 && g.sw == 1 && g.kh == g.kw && g.kh > 1 && g.kh%2 == 1 && g.ph == g.kh/2 && g.pw == g.kw/2
}

// shiftedLayout is the padded geometry of one convolution's chunks.
type shiftedLayout struct {
	p, wp  int // padding and padded row width W+p
	plane  int // (H+p)*Wp: one padded image plane
	chunk  int // images per chunk
	row    int // one channel of a chunk: chunk planes plus a tail for the farthest tap
	kh, kw int
	h, w   int
}

// layoutOf lays out chunks of images of up to the given channels.
func layoutOf(g *convGeom, h, w, channels int) shiftedLayout {
	p := g.ph
	wp := w + p
	plane := (h + p) * wp
	chunk := max(1, min(chunkImages, chunkBytes/(4*channels*plane)))
	return shiftedLayout{p: p, wp: wp, plane: plane, chunk: chunk, row: chunk*plane + 2*p*wp + 2*p, kh: g.kh, kw: g.kw, h: h, w: w}
}

// span is the number of positions the products cover for a chunk of n
// images: up to the last image's last output row.
func (l *shiftedLayout) span(n int) int { return (n-1)*l.plane + l.h*l.wp }

// taps returns the offsets in a padded chunk of c channels of the runs under
// each kernel tap (ci, ki, kj), in the order of a weight matrix's columns.
func (l *shiftedLayout) taps(ws *workspace, c int) []int {
	taps := scratch[int](ws, slotTaps, c*l.kh*l.kw)
	for ci := 0; ci < c; ci++ {
		for ki := 0; ki < l.kh; ki++ {
			for kj := 0; kj < l.kw; kj++ {
				taps[(ci*l.kh+ki)*l.kw+kj] = ci*l.row + ki*l.wp + kj
			}
		}
	}
	return taps
}

// pad lays out n images of c channels (NCHW, h x w) as c rows of n padded
// planes, zeroing the borders and the rest of each row. Each padded row is
// p zeros then the image row: stored directly, as the rows are short.
func (l *shiftedLayout) pad(dst, src []float32, n, c int) {
	for ci := 0; ci < c; ci++ {
		row := dst[ci*l.row : (ci+1)*l.row]
		for g := 0; g < n; g++ {
			plane := row[g*l.plane : (g+1)*l.plane]
			zero(plane[:l.p*l.wp])
			image := src[(g*c+ci)*l.h*l.w:][:l.h*l.w]
			for y := 0; y < l.h; y++ {
				padded := plane[(l.p+y)*l.wp:][:l.wp]
				for i := range l.p {
					padded[i] = 0
				}
				copy(padded[l.p:], image[y*l.w:(y+1)*l.w])
			}
		}
		zero(row[n*l.plane:])
	}
}

// compact copies the products' output (c rows in the chunk layout, ld
// apart) of n images back to NCHW h x w planes.
func (l *shiftedLayout) compact(dst, src []float32, n, c, ld int) {
	for g := 0; g < n; g++ {
		for ci := 0; ci < c; ci++ {
			for y := 0; y < l.h; y++ {
				copy(dst[((g*c+ci)*l.h+y)*l.w:][:l.w], src[ci*ld+g*l.plane+y*l.wp:][:l.w])
			}
		}
	}
}

// packFlipped reorders w (Cout,Cin,kh,kw) into the input gradient's
// weights (Cin, Cout*kh*kw): column (co, ki, kj) of row ci holds
// w[co][ci][kh-1-ki][kw-1-kj].
func packFlipped(dst, w []float32, cout, cin, kh, kw int) {
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			for ki := 0; ki < kh; ki++ {
				for kj := 0; kj < kw; kj++ {
					dst[(ci*cout+co)*kh*kw+(kh-1-ki)*kw+kw-1-kj] = w[((co*cin+ci)*kh+ki)*kw+kj]
				}
			}
		}
	}
}

// chunks runs fn over the images in chunks, split across the workers.
func (l *shiftedLayout) chunks(images int, fn func(worker, first, n int)) {
	count := (images + l.chunk - 1) / l.chunk
	parallel(count, func(worker, lo, hi int) {
		for k := lo; k < hi; k++ {
			first := k * l.chunk
			fn(worker, first, min(l.chunk, images-first))
		}
	})
}

// Scratch slots of the shifted path: the tap offsets, the reordered
// weights, then per worker a fixed number of buffers.
const (
	slotTaps     = 0
	slotWeights  = 1
	slotFirst    = 2
	slotsPerWork = 4
)

// workerSlots reserves each worker's buffers of the given sizes before the
// workers start, so that they only read the slot table.
func workerSlots(ws *workspace, sizes ...int) {
	for w := 0; w < workers(); w++ {
		for i, n := range sizes {
			scratch[float32](ws, slotFirst+w*slotsPerWork+i, n)
		}
	}
}

func workerSlot(ws *workspace, worker, i, n int) []float32 {
	return scratch[float32](ws, slotFirst+worker*slotsPerWork+i, n)
}

func shiftedForward(op *convOp, d convDims, x, w, out []float32) {
	l := layoutOf(&op.geom, d.h, d.w, max(d.c, d.co))
	shiftedProduct(&op.ws, &l, d.n, d.c, d.co, w, x, out)
}

// shiftedBackwardInput computes dx: the flipped weights times padded dy.
func shiftedBackwardInput(op *convGrad, d convDims, w, dy, dx []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w, max(d.c, d.co))
	flipped := scratch[float32](&op.ws, slotWeights, d.c*d.co*l.kh*l.kw)
	packFlipped(flipped, w, d.co, d.c, l.kh, l.kw)
	shiftedProduct(&op.ws, &l, d.n, d.co, d.c, flipped, dy, dx)
}

// shiftedProduct maps images of cin channels (src, NCHW) to images of cout
// channels (dst): per chunk, pad the inputs and multiply weights (cout,
// cin*kh*kw) by the runs under every tap.
func shiftedProduct(ws *workspace, l *shiftedLayout, images, cin, cout int, weights, src, dst []float32) {
	k := cin * l.kh * l.kw
	taps := l.taps(ws, cin)
	ld := l.span(l.chunk)
	inSize, outSize := cin*l.h*l.w, cout*l.h*l.w
	workerSlots(ws, cin*l.row, cout*ld)
	l.chunks(images, func(worker, first, n int) {
		padded := workerSlot(ws, worker, 0, cin*l.row)
		runs := workerSlot(ws, worker, 1, cout*ld)
		l.pad(padded, src[first*inSize:], n, cin)
		gemm32.SgemmRowsSerial(false, cout, l.span(n), k, 1, weights, k, padded, taps, 0, runs, ld)
		l.compact(dst[first*outSize:], runs, n, cout, ld)
	})
}

// shiftedBackwardWeight computes dW (Cout, Cin*kh*kw): per chunk, dy in the
// padded layout times the runs under every tap, transposed (long dot
// products over the chunk), summed over chunks, then over workers.
func shiftedBackwardWeight(op *convGrad, d convDims, x, dy, dw []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w, max(d.c, d.co))
	k := d.c * l.kh * l.kw
	taps := l.taps(&op.ws, d.c)
	size := d.co * k
	workerSlots(&op.ws, d.c*l.row, d.co*l.row, size)
	for w := 0; w < workers(); w++ {
		clear(workerSlot(&op.ws, w, 2, size))
	}
	l.chunks(d.n, func(worker, first, n int) {
		xpad := workerSlot(&op.ws, worker, 0, d.c*l.row)
		dypad := workerSlot(&op.ws, worker, 1, d.co*l.row)
		part := workerSlot(&op.ws, worker, 2, size)
		l.pad(xpad, x[first*d.c*d.h*d.w:], n, d.c)
		l.pad(dypad, dy[first*d.co*d.h*d.w:], n, d.co)
		// dy in the chunk layout starts p rows and p columns into its
		// padded planes; the border positions it covers read zeros.
		dyRuns := dypad[l.p*l.wp+l.p:]
		gemm32.SgemmRowsSerial(true, d.co, k, l.span(n), 1, dyRuns, l.row, xpad, taps, 1, part, k)
	})
	copy(dw, workerSlot(&op.ws, 0, 2, size))
	for wk := 1; wk < min(workers(), (d.n+l.chunk-1)/l.chunk); wk++ {
		for j, v := range workerSlot(&op.ws, wk, 2, size) {
			dw[j] += v
		}
	}
}
