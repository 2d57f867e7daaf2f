package layers

// Stride-1 "same" convolutions (3x3 with padding 1, the bulk of a ResNet's
// work) run without im2col. Images are zero-padded into planes of width
// Wp = W+2p, and a chunk of images is laid out channel by channel, each
// channel's planes one after another. In that layout the input pixels under
// kernel tap (ki, kj) for every output pixel of the chunk form one
// contiguous run starting at ki*Wp+kj. The padded chunk is copied kw times,
// shifted by 0..kw-1 columns, so that for each kernel row ki the products
// over all (channel, kj) are one matrix product with K = kw*Cin over rows
// ki*Wp apart: kh products per chunk, accumulated into an output in the same
// padded layout (its border columns are discarded). The input gradient is
// the same over a shifted, padded dy with the kernel flipped; the weight
// gradient is, per kernel row, dy times the shifted input transposed: long
// dot products over the whole chunk. This moves kh times less data than
// im2col and col2im.

// chunkImages is the most images one product covers: enough to make the
// products long for small late-stage images. chunkBytes bounds a worker's
// shifted copies so that they stay in L2.
const (
	chunkImages = 8
	chunkBytes  = 512 << 10
)

// shifted reports whether the convolution takes the shifted-products path.
func (g *convGeom) shifted() bool {
	return g.sh == 1 && g.sw == 1 && g.kh == g.kw && g.kh > 1 && g.kh%2 == 1 && g.ph == g.kh/2 && g.pw == g.kw/2
}

// shiftedLayout is the padded geometry of one convolution's chunks.
type shiftedLayout struct {
	p, wp  int // padding and padded row width
	plane  int // (H+2p)*Wp: one padded image plane
	chunk  int // images per chunk
	row    int // one channel of a chunk: chunk planes plus a tail for the farthest tap
	kh, kw int
	h, w   int
}

// layoutOf lays out chunks of images with channels input channels.
func layoutOf(g *convGeom, h, w, channels int) shiftedLayout {
	p := g.ph
	wp := w + 2*p
	plane := (h + 2*p) * wp
	chunk := max(1, min(chunkImages, chunkBytes/(4*g.kw*channels*plane)))
	return shiftedLayout{p: p, wp: wp, plane: plane, chunk: chunk, row: chunk*plane + 2*p*wp + 2*p, kh: g.kh, kw: g.kw, h: h, w: w}
}

// span is the number of positions the products cover for a chunk of n
// images: up to the last image's last output row.
func (l *shiftedLayout) span(n int) int { return (n-1)*l.plane + l.h*l.wp }

// shift makes the kw column-shifted copies of c padded rows: row (ci, s) of
// dst is row ci of src moved left by s.
func (l *shiftedLayout) shift(dst, src []float32, c int) {
	for ci := 0; ci < c; ci++ {
		from := src[ci*l.row : (ci+1)*l.row]
		for s := 0; s < l.kw; s++ {
			to := dst[(ci*l.kw+s)*l.row : (ci*l.kw+s+1)*l.row]
			copy(to, from[s:])
			zero(to[l.row-s:])
		}
	}
}

// pad lays out n images of c channels (NCHW, h x w) as c rows of n padded
// planes, zeroing the borders and the rest of each row.
func (l *shiftedLayout) pad(dst, src []float32, n, c int) {
	for ci := 0; ci < c; ci++ {
		row := dst[ci*l.row : (ci+1)*l.row]
		for g := 0; g < n; g++ {
			plane := row[g*l.plane : (g+1)*l.plane]
			start := l.p*l.wp + l.p // first interior pixel
			zero(plane[:start])
			for y := 0; y < l.h; y++ {
				at := start + y*l.wp
				copy(plane[at:at+l.w], src[((g*c+ci)*l.h+y)*l.w:][:l.w])
				zero(plane[at+l.w : min(at+l.wp, len(plane))])
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

// packRows reorders w (Cout,Cin,kh,kw) into kh matrices (Cout, Cin*kw), one
// per kernel row, matching the shifted copies' rows (ci, kj).
func packRows(dst, w []float32, cout, cin, kh, kw int) {
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			for ki := 0; ki < kh; ki++ {
				copy(dst[(ki*cout+co)*cin*kw+ci*kw:][:kw], w[((co*cin+ci)*kh+ki)*kw:][:kw])
			}
		}
	}
}

// packRowsFlipped reorders w into kh matrices (Cin, Cout*kw) for the input
// gradient: matrix r, column (co, s) holds w[co][ci][kh-1-r][kw-1-s].
func packRowsFlipped(dst, w []float32, cout, cin, kh, kw int) {
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			for ki := 0; ki < kh; ki++ {
				for kj := 0; kj < kw; kj++ {
					dst[((kh-1-ki)*cin+ci)*cout*kw+co*kw+kw-1-kj] = w[((co*cin+ci)*kh+ki)*kw+kj]
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

// Scratch slots of the shifted path: the packed weights, then per worker
// a fixed number of buffers.
const (
	slotTaps     = 0
	slotFirst    = 1
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
	l := layoutOf(&op.geom, d.h, d.w, d.c)
	rows := scratch[float32](&op.ws, slotTaps, l.kh*d.co*d.c*l.kw)
	packRows(rows, w, d.co, d.c, l.kh, l.kw)
	shiftedProducts(&op.ws, &l, d.n, d.c, d.co, rows, x, out)
}

// shiftedBackwardInput computes dx: per kernel row, the flipped weights
// times dy padded, shifted and offset by that row.
func shiftedBackwardInput(op *convGrad, d convDims, w, dy, dx []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w, d.co)
	rows := scratch[float32](&op.ws, slotTaps, l.kh*d.c*d.co*l.kw)
	packRowsFlipped(rows, w, d.co, d.c, l.kh, l.kw)
	shiftedProducts(&op.ws, &l, d.n, d.co, d.c, rows, dy, dx)
}

// shiftedProducts maps images of cin channels (src, NCHW) to images of cout
// channels (dst): per chunk, pad and shift the inputs, then add up the kh
// products rows[r] (cout, cin*kw) x (shifted inputs offset by kernel row r).
func shiftedProducts(ws *workspace, l *shiftedLayout, images, cin, cout int, rows, src, dst []float32) {
	k := cin * l.kw
	ld := l.span(l.chunk)
	inSize, outSize := cin*l.h*l.w, cout*l.h*l.w
	workerSlots(ws, cin*l.row, k*l.row, cout*ld)
	l.chunks(images, func(worker, first, n int) {
		padded := workerSlot(ws, worker, 0, cin*l.row)
		shifted := workerSlot(ws, worker, 1, k*l.row)
		runs := workerSlot(ws, worker, 2, cout*ld)
		l.pad(padded, src[first*inSize:], n, cin)
		l.shift(shifted, padded, cin)
		for r := 0; r < l.kh; r++ {
			gemm(false, false, cout, l.span(n), k, rows[r*cout*k:], k, shifted[r*l.wp:], l.row, betaFor(r), runs, ld)
		}
		l.compact(dst[first*outSize:], runs, n, cout, ld)
	})
}

// betaFor is 0 for the first product (overwrite) and 1 after (accumulate).
func betaFor(i int) float32 {
	if i == 0 {
		return 0
	}
	return 1
}

// shiftedBackwardWeight computes dW: per kernel row ki, dW_ki (Cout, Cin*kw)
// += dy x (shifted input offset by the row)^T over each chunk, summed over
// chunks, then over workers. Cin*kw is a multiple of the dot kernel's width
// 6 for 3x3 kernels, so every column takes the dot-product kernel.
func shiftedBackwardWeight(op *convGrad, d convDims, x, dy, dw []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w, d.c)
	k := d.c * l.kw
	size := l.kh * d.co * k
	workerSlots(&op.ws, d.c*l.row, k*l.row, d.co*l.row, size)
	for w := 0; w < workers(); w++ {
		clear(workerSlot(&op.ws, w, 3, size))
	}
	l.chunks(d.n, func(worker, first, n int) {
		xpad := workerSlot(&op.ws, worker, 0, d.c*l.row)
		xs := workerSlot(&op.ws, worker, 1, k*l.row)
		dypad := workerSlot(&op.ws, worker, 2, d.co*l.row)
		part := workerSlot(&op.ws, worker, 3, size)
		l.pad(xpad, x[first*d.c*d.h*d.w:], n, d.c)
		l.shift(xs, xpad, d.c)
		l.pad(dypad, dy[first*d.co*d.h*d.w:], n, d.co)
		// dy in the chunk layout starts p rows and p columns into its
		// padded planes; the border positions it covers read zeros.
		dyRuns := dypad[l.p*l.wp+l.p:]
		for ki := 0; ki < l.kh; ki++ {
			gemm(false, true, d.co, k, l.span(n), dyRuns, l.row, xs[ki*l.wp:], l.row, 1, part[ki*d.co*k:], k)
		}
	})
	total := workerSlot(&op.ws, 0, 3, size)
	for wk := 1; wk < min(workers(), (d.n+l.chunk-1)/l.chunk); wk++ {
		for j, v := range workerSlot(&op.ws, wk, 3, size) {
			total[j] += v
		}
	}
	// From (ki, Cout, Cin*kw) back to (Cout, Cin, kh, kw).
	for ki := 0; ki < l.kh; ki++ {
		for co := 0; co < d.co; co++ {
			for ci := 0; ci < d.c; ci++ {
				copy(dw[((co*d.c+ci)*l.kh+ki)*l.kw:][:l.kw], total[(ki*d.co+co)*k+ci*l.kw:][:l.kw])
			}
		}
	}
}
