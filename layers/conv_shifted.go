package layers

// Stride-1 "same" convolutions (3x3 with padding 1, the bulk of a ResNet's
// work) run without im2col: with the image zero-padded once into planes of
// width Wp = W+2p, the input pixels under kernel tap (ki, kj) for all output
// pixels are one contiguous run starting at ki*Wp+kj. So the convolution is
// kh*kw matrix products of K = Cin each, accumulated into an output laid out
// with row width Wp (the last 2p columns of each row are discarded). The
// input and weight gradients take the same shape of products over a padded
// dy. This moves kh*kw times less data than im2col and col2im.

// shifted reports whether the convolution takes the shifted-products path.
func (g *convGeom) shifted() bool {
	return g.sh == 1 && g.sw == 1 && g.kh == g.kw && g.kh > 1 && g.kh%2 == 1 && g.ph == g.kh/2 && g.pw == g.kw/2
}

// shiftedLayout is the padded plane geometry of one convolution.
type shiftedLayout struct {
	p, wp    int // padding and padded row width
	plane    int // stride between padded planes: Hp*Wp plus 2p so every tap's run stays in bounds
	run      int // H*Wp: one output plane in padded-width layout
	taps     int // kh*kw
	kw, h, w int
}

func layoutOf(g *convGeom, h, w int) shiftedLayout {
	p := g.ph
	wp := w + 2*p
	return shiftedLayout{p: p, wp: wp, plane: (h+2*p)*wp + 2*p, run: h * wp, taps: g.kh * g.kw, kw: g.kw, h: h, w: w}
}

// tapOffset is where tap t's run starts in a padded plane.
func (l *shiftedLayout) tapOffset(t int) int { return (t/l.kw)*l.wp + t%l.kw }

// pad copies c planes of h x w into padded planes, zeroing only the borders
// (the top rows, the gaps between rows, the bottom rows and the tail).
func (l *shiftedLayout) pad(dst []float32, src []float32, c int) {
	for ci := 0; ci < c; ci++ {
		plane := dst[ci*l.plane : (ci+1)*l.plane]
		start := l.p*l.wp + l.p // first interior pixel
		zero(plane[:start])
		for y := 0; y < l.h; y++ {
			row := start + y*l.wp
			copy(plane[row:row+l.w], src[(ci*l.h+y)*l.w:][:l.w])
			next := min(row+l.wp, len(plane))
			zero(plane[row+l.w : next])
		}
		zero(plane[start+l.h*l.wp:])
	}
}

// compact copies c planes in padded-width layout to h x w planes.
func (l *shiftedLayout) compact(dst []float32, src []float32, c int) {
	for ci := 0; ci < c; ci++ {
		for y := 0; y < l.h; y++ {
			copy(dst[(ci*l.h+y)*l.w:][:l.w], src[ci*l.run+y*l.wp:][:l.w])
		}
	}
}

// packTaps reorders w (Cout,Cin,kh,kw) into taps matrices (Cout,Cin), tap-major.
func packTaps(dst, w []float32, cout, cin, taps int) {
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			src := w[(co*cin+ci)*taps:][:taps]
			for t, v := range src {
				dst[(t*cout+co)*cin+ci] = v
			}
		}
	}
}

// Scratch slots of the shifted path (per op workspace).
const (
	slotTaps  = 0 // packed weights, shared by the workers
	slotFirst = 1 // then per worker: padded input, padded dy, output runs, dW taps
)

func shiftedForward(op *convOp, d convDims, x, w, out []float32) {
	l := layoutOf(&op.geom, d.h, d.w)
	nw := workers()
	taps := scratch[float32](&op.ws, slotTaps, l.taps*d.co*d.c)
	packTaps(taps, w, d.co, d.c, l.taps)
	for i := 0; i < nw; i++ {
		scratch[float32](&op.ws, slotFirst+2*i, d.c*l.plane)
		scratch[float32](&op.ws, slotFirst+2*i+1, d.co*l.run)
	}
	parallel(d.n, func(worker, lo, hi int) {
		xpad := scratch[float32](&op.ws, slotFirst+2*worker, d.c*l.plane)
		runs := scratch[float32](&op.ws, slotFirst+2*worker+1, d.co*l.run)
		for i := lo; i < hi; i++ {
			l.pad(xpad, x[i*d.c*d.h*d.w:], d.c)
			for t := 0; t < l.taps; t++ {
				beta := float32(1)
				if t == 0 {
					beta = 0
				}
				gemm(false, false, d.co, l.run, d.c, taps[t*d.co*d.c:], d.c, xpad[l.tapOffset(t):], l.plane, beta, runs, l.run)
			}
			l.compact(out[i*d.co*d.h*d.w:], runs, d.co)
		}
	})
}

// shiftedBackwardInput computes dx: per tap, dx_runs += W_t^T x dy_pad
// shifted by the flipped tap.
func shiftedBackwardInput(op *convGradInput, d convDims, w, dy, dx []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w)
	nw := workers()
	taps := scratch[float32](&op.ws, slotTaps, l.taps*d.co*d.c)
	packTaps(taps, w, d.co, d.c, l.taps)
	for i := 0; i < nw; i++ {
		scratch[float32](&op.ws, slotFirst+2*i, d.co*l.plane)
		scratch[float32](&op.ws, slotFirst+2*i+1, d.c*l.run)
	}
	parallel(d.n, func(worker, lo, hi int) {
		dypad := scratch[float32](&op.ws, slotFirst+2*worker, d.co*l.plane)
		runs := scratch[float32](&op.ws, slotFirst+2*worker+1, d.c*l.run)
		for i := lo; i < hi; i++ {
			l.pad(dypad, dy[i*d.co*d.h*d.w:], d.co)
			for t := 0; t < l.taps; t++ {
				beta := float32(1)
				if t == 0 {
					beta = 0
				}
				flipped := l.taps - 1 - t
				gemm(true, false, d.c, l.run, d.co, taps[t*d.co*d.c:], d.c, dypad[l.tapOffset(flipped):], l.plane, beta, runs, l.run)
			}
			l.compact(dx[i*d.c*d.h*d.w:], runs, d.c)
		}
	})
}

// shiftedBackwardWeight computes dW: per tap, dW_t += dy_runs x x_pad_t^T,
// summed over the images of each worker, then over workers.
func shiftedBackwardWeight(op *convGradWeight, d convDims, x, dy, dw []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w)
	nw := workers()
	size := l.taps * d.co * d.c
	for i := 0; i < nw; i++ {
		scratch[float32](&op.ws, slotFirst+3*i, d.c*l.plane)
		scratch[float32](&op.ws, slotFirst+3*i+1, d.co*l.plane)
		scratch[float32](&op.ws, slotFirst+3*i+2, size)
	}
	used := min(nw, d.n)
	parallel(d.n, func(worker, lo, hi int) {
		xpad := scratch[float32](&op.ws, slotFirst+3*worker, d.c*l.plane)
		dypad := scratch[float32](&op.ws, slotFirst+3*worker+1, d.co*l.plane)
		part := scratch[float32](&op.ws, slotFirst+3*worker+2, size)
		clear(part)
		// dy in padded-width layout starts p rows and p columns into its
		// padded plane; the discarded columns read the zero border.
		dyRuns := dypad[l.p*l.wp+l.p:]
		for i := lo; i < hi; i++ {
			l.pad(xpad, x[i*d.c*d.h*d.w:], d.c)
			l.pad(dypad, dy[i*d.co*d.h*d.w:], d.co)
			for t := 0; t < l.taps; t++ {
				gemm(false, true, d.co, d.c, l.run, dyRuns, l.plane, xpad[l.tapOffset(t):], l.plane, 1, part[t*d.co*d.c:], d.c)
			}
		}
	})
	total := scratch[float32](&op.ws, slotFirst+2, size)
	for wk := 1; wk < used; wk++ {
		for j, v := range scratch[float32](&op.ws, slotFirst+3*wk+2, size) {
			total[j] += v
		}
	}
	// Back from tap-major (tap, Cout, Cin) to (Cout, Cin, kh, kw).
	for t := 0; t < l.taps; t++ {
		for co := 0; co < d.co; co++ {
			for ci := 0; ci < d.c; ci++ {
				dw[(co*d.c+ci)*l.taps+t] = total[(t*d.co+co)*d.c+ci]
			}
		}
	}
}
