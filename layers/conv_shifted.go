package layers

// Stride-1 "same" convolutions (3x3 with padding 1, the bulk of a ResNet's
// work) run without im2col. Images are zero-padded into planes of width
// Wp = W+2p, and a chunk of G images is laid out channel by channel, each
// channel's G planes one after another. In that layout the input pixels
// under kernel tap (ki, kj) for every output pixel of the chunk form one
// contiguous run starting at ki*Wp+kj, so a convolution is kh*kw matrix
// products with K = Cin, each over all G images at once, accumulated into an
// output in the same padded layout (its border columns are discarded). The
// input gradient is the same shape of products over a padded dy with the
// kernel flipped, and the weight gradient is, per tap, dy times the shifted
// input transposed: long dot products over the whole chunk. This moves
// kh*kw times less data than im2col and col2im.

// chunkImages is how many images one product covers: enough to make the
// products long for small late-stage images, few enough that a worker's
// buffers stay in L2.
const chunkImages = 8

// shifted reports whether the convolution takes the shifted-products path.
func (g *convGeom) shifted() bool {
	return g.sh == 1 && g.sw == 1 && g.kh == g.kw && g.kh > 1 && g.kh%2 == 1 && g.ph == g.kh/2 && g.pw == g.kw/2
}

// shiftedLayout is the padded geometry of one convolution's chunks.
type shiftedLayout struct {
	p, wp    int // padding and padded row width
	plane    int // (H+2p)*Wp: one padded image plane
	row      int // one channel of a chunk: chunkImages planes plus a tail for the farthest tap
	taps, kw int
	h, w     int
}

func layoutOf(g *convGeom, h, w int) shiftedLayout {
	p := g.ph
	wp := w + 2*p
	plane := (h + 2*p) * wp
	return shiftedLayout{p: p, wp: wp, plane: plane, row: chunkImages*plane + 2*p*wp + 2*p, taps: g.kh * g.kw, kw: g.kw, h: h, w: w}
}

// span is the number of positions the products cover for a chunk of n
// images: up to the last image's last output row.
func (l *shiftedLayout) span(n int) int { return (n-1)*l.plane + l.h*l.wp }

// tapOffset is where tap t's run starts in a padded plane.
func (l *shiftedLayout) tapOffset(t int) int { return (t/l.kw)*l.wp + t%l.kw }

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

// packTaps reorders w (Cout,Cin,kh,kw) into taps matrices (Cout,Cin), tap-major.
func packTaps(dst, w []float32, cout, cin, taps int) {
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			for t, v := range w[(co*cin+ci)*taps:][:taps] {
				dst[(t*cout+co)*cin+ci] = v
			}
		}
	}
}

// chunks runs fn over the images in chunks of up to chunkImages, split
// across the workers.
func chunks(images int, fn func(worker, first, n int)) {
	count := (images + chunkImages - 1) / chunkImages
	parallel(count, func(worker, lo, hi int) {
		for k := lo; k < hi; k++ {
			first := k * chunkImages
			fn(worker, first, min(chunkImages, images-first))
		}
	})
}

// Scratch slots of the shifted path: the packed weights, then per worker
// a fixed number of buffers.
const (
	slotTaps     = 0
	slotFirst    = 1
	slotsPerWork = 3
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
	l := layoutOf(&op.geom, d.h, d.w)
	taps := scratch[float32](&op.ws, slotTaps, l.taps*d.co*d.c)
	packTaps(taps, w, d.co, d.c, l.taps)
	ld := l.span(chunkImages)
	workerSlots(&op.ws, d.c*l.row, d.co*ld)
	chunks(d.n, func(worker, first, n int) {
		xpad := workerSlot(&op.ws, worker, 0, d.c*l.row)
		runs := workerSlot(&op.ws, worker, 1, d.co*ld)
		l.pad(xpad, x[first*d.c*d.h*d.w:], n, d.c)
		for t := 0; t < l.taps; t++ {
			gemm(false, false, d.co, l.span(n), d.c, taps[t*d.co*d.c:], d.c, xpad[l.tapOffset(t):], l.row, betaFor(t), runs, ld)
		}
		l.compact(out[first*d.co*d.h*d.w:], runs, n, d.co, ld)
	})
}

// betaFor is 0 for the first tap (overwrite) and 1 after (accumulate).
func betaFor(t int) float32 {
	if t == 0 {
		return 0
	}
	return 1
}

// shiftedBackwardInput computes dx: per tap, W_t^T times dy padded and
// shifted by the flipped tap.
func shiftedBackwardInput(op *convGradInput, d convDims, w, dy, dx []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w)
	taps := scratch[float32](&op.ws, slotTaps, l.taps*d.co*d.c)
	packTaps(taps, w, d.co, d.c, l.taps)
	ld := l.span(chunkImages)
	workerSlots(&op.ws, d.co*l.row, d.c*ld)
	chunks(d.n, func(worker, first, n int) {
		dypad := workerSlot(&op.ws, worker, 0, d.co*l.row)
		runs := workerSlot(&op.ws, worker, 1, d.c*ld)
		l.pad(dypad, dy[first*d.co*d.h*d.w:], n, d.co)
		for t := 0; t < l.taps; t++ {
			flipped := l.taps - 1 - t
			gemm(true, false, d.c, l.span(n), d.co, taps[t*d.co*d.c:], d.c, dypad[l.tapOffset(flipped):], l.row, betaFor(t), runs, ld)
		}
		l.compact(dx[first*d.c*d.h*d.w:], runs, n, d.c, ld)
	})
}

// dotWidth rounds the weight gradient's Cin up to a multiple of 6, the
// width of the GEMM's dot-product kernel, so that no column falls to the
// slower outer-product path; the extra columns read zero rows.
func dotWidth(cin int) int { return (cin + 5) / 6 * 6 }

// shiftedBackwardWeight computes dW: per tap, dW_t += dy x (x shifted by
// the tap)^T over each chunk, summed over chunks, then over workers.
func shiftedBackwardWeight(op *convGradWeight, d convDims, x, dy, dw []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w)
	width := dotWidth(d.c)
	size := l.taps * d.co * width
	workerSlots(&op.ws, width*l.row, d.co*l.row, size)
	for w := 0; w < workers(); w++ {
		clear(workerSlot(&op.ws, w, 0, width*l.row)[d.c*l.row:]) // the padding rows
		clear(workerSlot(&op.ws, w, 2, size))
	}
	chunks(d.n, func(worker, first, n int) {
		xpad := workerSlot(&op.ws, worker, 0, width*l.row)
		dypad := workerSlot(&op.ws, worker, 1, d.co*l.row)
		part := workerSlot(&op.ws, worker, 2, size)
		l.pad(xpad, x[first*d.c*d.h*d.w:], n, d.c)
		l.pad(dypad, dy[first*d.co*d.h*d.w:], n, d.co)
		// dy in the chunk layout starts p rows and p columns into its
		// padded planes; the border positions it covers read zeros.
		dyRuns := dypad[l.p*l.wp+l.p:]
		for t := 0; t < l.taps; t++ {
			gemm(false, true, d.co, width, l.span(n), dyRuns, l.row, xpad[l.tapOffset(t):], l.row, 1, part[t*d.co*width:], width)
		}
	})
	total := workerSlot(&op.ws, 0, 2, size)
	for wk := 1; wk < min(workers(), (d.n+chunkImages-1)/chunkImages); wk++ {
		for j, v := range workerSlot(&op.ws, wk, 2, size) {
			total[j] += v
		}
	}
	// From tap-major (tap, Cout, width) back to (Cout, Cin, kh, kw).
	for t := 0; t < l.taps; t++ {
		for co := 0; co < d.co; co++ {
			for ci := 0; ci < d.c; ci++ {
				dw[(co*d.c+ci)*l.taps+t] = total[(t*d.co+co)*width+ci]
			}
		}
	}
}
