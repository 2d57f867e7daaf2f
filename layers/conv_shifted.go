package layers

import (
	"math/bits"

	gemm32 "github.com/gorgonia-zoo/resnet/internal/gemm"
	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/gorgonia-zoo/resnet/internal/vec"
)

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
// the whole chunk. The two gradients' products run chunk by chunk in one
// op, so that each chunk of dy is padded once, for both.
//
// The 3x3 stride-2 convolutions that halve a ResNet's images work the same
// way once the padded input is split into its four phases (even or odd
// rows, even or odd columns): the pixels under tap (ki, kj) for
// consecutive outputs of a row are consecutive pixels of phase (ki%2,
// kj%2), offset by (ki/2, kj/2). Each phase plane has the output's padded
// geometry, (Ho+1) x (Wo+1). The input gradient then splits by the phase
// of dx: each phase is a product of padded dy with the taps of that phase.

// chunkImages is the most images one product covers: enough to make the
// products long for small late-stage images. chunkBytes bounds a worker's
// padded chunk so that it stays in L2.
const (
	chunkImages = 8
	chunkBytes  = 256 << 10
)

// shifted reports whether the convolution takes the shifted-products path:
// stride 1 with "same" padding, or 3x3 with stride 2 and padding 1.
func (g *convGeom) shifted() bool {
	same := g.sh == 1 && g.sw == 1 && g.kh == g.kw && g.kh > 1 && g.kh%2 == 1 && g.ph == g.kh/2 && g.pw == g.kw/2
	halving := g.sh == 2 && g.sw == 2 && g.kh == 3 && g.kw == 3 && g.ph == 1 && g.pw == 1
	return same || halving
}

// shiftedLayout is the padded geometry of one convolution's chunks.
type shiftedLayout struct {
	stride   int
	p, wp    int // padding and padded row width Wo+p
	plane    int // (Ho+p)*Wp: one padded image plane
	count    int // chunks of the batch
	chunk    int // images per chunk, at most
	row      int // one channel of a chunk: chunk planes plus a tail for the farthest tap
	inRow    int // the same for the input: row, or at stride 2 its 4 phases of row each
	kh, kw   int
	h, w     int // output size (at stride 1 also the input's)
	inH, inW int // input size
}

// layoutOf lays out a batch of images, h x w with up to the given
// channels, in chunks. The batch is cut into a power of two of chunks, the
// fewest that keep each within chunkImages and chunkBytes, so that 2, 4, 8
// or 16 workers share a batch of 128 images evenly; the chunk's rows are
// sized for the images a chunk then holds, not the most it could, so that
// no pass zeroes or multiplies unused planes.
func layoutOf(g *convGeom, h, w, channels, images int) shiftedLayout {
	ho, wo := g.outSize(h, w)
	p, s := g.ph, g.sh
	wp := wo + p
	plane := (ho + p) * wp
	most := max(1, min(chunkImages, chunkBytes/(4*channels*s*s*plane)))
	count, chunk := 0, most
	if images > 0 {
		count = min(images, 1<<bits.Len(uint(ceilDiv(images, most)-1)))
		chunk = ceilDiv(images, count)
	}
	row := chunk*plane + 2*p*wp + 2*p
	return shiftedLayout{stride: s, p: p, wp: wp, plane: plane, count: count, chunk: chunk, row: row, inRow: s * s * row,
		kh: g.kh, kw: g.kw, h: ho, w: wo, inH: h, inW: w}
}

// span is the number of positions the products cover for a chunk of n
// images: up to the last image's last output row.
func (l *shiftedLayout) span(n int) int { return (n-1)*l.plane + l.h*l.wp }

// taps returns the offsets in a padded input chunk of c channels of the
// runs under each kernel tap (ci, ki, kj), in the order of a weight
// matrix's columns.
func (l *shiftedLayout) taps(ws *workspace, c int) []int {
	s := l.stride
	taps := scratch[int](ws, slotTaps, c*l.kh*l.kw)
	for ci := 0; ci < c; ci++ {
		for ki := 0; ki < l.kh; ki++ {
			for kj := 0; kj < l.kw; kj++ {
				phase := (ki%s)*s + kj%s
				taps[(ci*l.kh+ki)*l.kw+kj] = ci*l.inRow + phase*l.row + ki/s*l.wp + kj/s
			}
		}
	}
	return taps
}

// padInput lays out n input images of c channels in the input layout;
// with norm (at stride 1 only), the images are norm's input and what is
// laid out is norm's output (see batchNormOp.deferred).
func (l *shiftedLayout) padInput(dst, src []float32, n, c int, norm *batchNormOp) {
	if l.stride == 1 {
		l.pad(dst, src, n, c, norm)
		return
	}
	if norm != nil {
		panic("layers: a deferred batch norm read at stride 2") // PlanMemory defers none
	}
	// Zero everything, then deal each padded row's pixels to the two phases
	// of its row parity: padded pixel (Y, X) = (y+1, x+1) goes to phase
	// (Y%2, X%2), row Y/2, column X/2. The image's even rows y are the odd
	// padded rows, phases 2 and 3 from their row 0; its odd rows are
	// phases 0 and 1 from their row 1. Within a row, even x go to the odd
	// phase from column 0, odd x to the even phase from column 1.
	clear(dst[:c*l.inRow])
	for ci := 0; ci < c; ci++ {
		for g := 0; g < n; g++ {
			image := src[(g*c+ci)*l.inH*l.inW:][:l.inH*l.inW]
			for y := range min(2, l.inH) {
				at := ci*l.inRow + (1-y)*2*l.row + g*l.plane + y*l.wp
				vec.DealRows(dst[at+l.row:], dst[at+1:], image[y*l.inW:], (l.inH-y+1)/2, l.inW, l.wp, 2*l.inW)
			}
		}
	}
}

// pad lays out n images of c channels (NCHW, h x w) as c rows of n padded
// planes (see planes): each padded row is p zeros then the image row, with
// norm normalized by norm's scale and shift of its channel, then ReLU.
func (l *shiftedLayout) pad(dst, src []float32, n, c int, norm *batchNormOp) {
	l.planes(dst, n, c, func(rows []float32, ci, at int) {
		image := src[at:][:l.h*l.w]
		if norm != nil {
			vec.PadRowsAffineReLU(rows, image, l.h, l.w, l.p, l.wp, l.w, float32(norm.scale[ci]), float32(norm.shift[ci]))
			return
		}
		vec.PadRows(rows, image, l.h, l.w, l.p, l.wp, l.w)
	})
}

// planes fills c rows of n padded planes in dst: it zeroes each plane's
// top border and the rest of each row, and has fill write the image rows
// (each after its p zeros) of image g's channel ci, whose values start at
// at = (g*c + ci)*h*w in NCHW.
func (l *shiftedLayout) planes(dst []float32, n, c int, fill func(rows []float32, ci, at int)) {
	for ci := 0; ci < c; ci++ {
		row := dst[ci*l.row : (ci+1)*l.row]
		for g := 0; g < n; g++ {
			plane := row[g*l.plane : (g+1)*l.plane]
			zero(plane[:l.p*l.wp])
			fill(plane[l.p*l.wp:], ci, (g*c+ci)*l.h*l.w)
		}
		zero(row[n*l.plane:])
	}
}

// compact copies the products' output (c rows in the chunk layout, ld
// apart) of n images back to NCHW h x w planes.
func (l *shiftedLayout) compact(dst, src []float32, n, c, ld int) {
	for g := 0; g < n; g++ {
		for ci := 0; ci < c; ci++ {
			vec.CopyRows(dst[(g*c+ci)*l.h*l.w:][:l.h*l.w], src[ci*ld+g*l.plane:], l.h, l.w, l.w, l.wp)
		}
	}
}

// padGradient lays out images first to first+n-1 of a batch's output
// gradient dy (NCHW, c channels) as pad does; with norm, dy is the output
// gradient of the batch norm norm, and what is laid out is its input
// gradient, made from dy and norm's input (see bnGradInput.deferred).
func (l *shiftedLayout) padGradient(dst, dy []float32, n, c int, norm *bnGradInput, first int) {
	hw := l.h * l.w
	dy = dy[first*c*hw:]
	if norm == nil {
		l.pad(dst, dy, n, c, nil)
		return
	}
	x := norm.x[first*c*hw:]
	l.planes(dst, n, c, func(rows []float32, ci, at int) {
		gate, k, k1, center, k0 := norm.gradient(ci)
		vec.PadRowsGradInput(rows, dy[at:at+hw], x[at:at+hw], l.h, l.w, l.p, l.wp, l.w, gate, k, k1, center, k0)
	})
}

// packFlipped reorders w (Cout,Cin,kh,kw) into the input gradient's
// weights (Cin, Cout*kh*kw): column (co, ki, kj) of row ci holds
// w[co][ci][kh-1-ki][kw-1-kj]. Flipping both kernel axes reverses the kh*kw
// taps of each (co, ci), so each is one run of w copied backwards.
func packFlipped(dst, w []float32, cout, cin, kh, kw int) {
	taps := kh * kw
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			src := w[(co*cin+ci)*taps:][:taps]
			out := dst[(ci*cout+co)*taps:][:taps]
			for t, v := range src {
				out[taps-1-t] = v
			}
		}
	}
}

// chunks runs fn over the layout's batch of images in pieces claimed by
// the workers one at a time (chunk names the piece, for per-piece sums):
// the l.count chunks of at most l.chunk images, but for the last chunk of
// each half of the batch, which is two pieces of half a chunk. The cut
// depends on the batch alone, so that sums over pieces do not depend on
// the number of workers; the halves end each of two workers' shares, so
// that when one runs late the other takes half a chunk off its end, not a
// whole one (a 2-thread ResNet-20 step's shifted convolutions, temporary
// counters in two runs: 116.2 -> 115.4 ms, the two goroutines' waits at
// their ends 5.1 -> 3.9 ms).
func (l *shiftedLayout) chunks(images int, fn func(worker, chunk, first, n int)) {
	pieces := l.pieces()
	parallel.Pieces(pieces, pieces, func(worker, i, _ int) {
		if first, n := l.piece(i, images); n > 0 {
			fn(worker, i, first, n)
		}
	})
}

// pieces is how many pieces chunks cuts a batch into: l.count, and two
// more when there are at least 4 chunks of up to 2 images or more.
func (l *shiftedLayout) pieces() int {
	if l.count >= 4 && l.chunk >= 2 {
		return l.count + 2
	}
	return l.count
}

// piece returns the images of piece i of a batch of images: first to
// first+n-1 (n may be 0: half of a chunk of one image).
func (l *shiftedLayout) piece(i, images int) (first, n int) {
	c, half := i, -1
	if l.pieces() > l.count {
		perHalf := l.count/2 + 1 // pieces in each half of the batch
		j := i % perHalf
		c = i/perHalf*(l.count/2) + min(j, l.count/2-1)
		if j >= l.count/2-1 {
			half = j - (l.count/2 - 1)
		}
	}
	first, last := c*images/l.count, (c+1)*images/l.count
	switch mid := (first + last) / 2; half {
	case 0:
		last = mid
	case 1:
		first = mid
	}
	return first, last - first
}

// Scratch slots of the shifted path: the tap offsets, the reordered
// weights, the weight gradient's partial sums, then per worker a fixed
// number of buffers.
const (
	slotTaps     = 0
	slotWeights  = 1
	slotParts    = 2
	slotFirst    = 3
	slotsPerWork = 4
)

// workerSlots reserves each worker's buffers of the given sizes before the
// workers start, so that they only read the slot table, and marks every
// worker's copy of the weights out of date (see workerWeights).
func workerSlots(ws *workspace, sizes ...int) {
	workers := parallel.Workers()
	for w := 0; w < workers; w++ {
		for i, n := range sizes {
			scratch[float32](ws, slotFirst+w*slotsPerWork+i, n)
		}
	}
	if cap(ws.copied) < workers {
		ws.copied = make([]bool, workers)
	}
	ws.copied = ws.copied[:workers]
	clear(ws.copied)
}

func workerSlot(ws *workspace, worker, i, n int) []float32 {
	return scratch[float32](ws, slotFirst+worker*slotsPerWork+i, n)
}

// workerWeights returns the worker's slot i for its own copy of an op's
// weights (n values), and whether the worker is to write it: on its first
// chunk since workerSlots reserved the slots. Every chunk's product reads
// all of the weights: when two cores read one copy, a stage-3
// convolution's forward pass (147 KB of weights) ran a fifth slower than
// with a copy each, written by the core that reads it (go test ./layers
// -bench ConvStage3/forward -cpu 2, then at batch 32: 792 -> 602 us). A
// worker that reorders the weights (the input gradient's flipped kernels)
// writes its copy itself, in parallel with the others, rather than wait
// while the caller reorders them alone.
func workerWeights(ws *workspace, worker, i, n int) (own []float32, write bool) {
	own = workerSlot(ws, worker, i, n)
	if ws.copied[worker] {
		return own, false
	}
	ws.copied[worker] = true
	return own, true
}

func shiftedForward(op *convOp, d convDims, x, w, out []float32, after func(first, n int)) {
	l := layoutOf(&op.geom, d.h, d.w, max(d.c, d.co), d.n)
	shiftedProduct(&op.ws, &l, d.n, d.c, d.co, w, x, out, op.norm, after)
}

// shiftedBackwardInput computes dx: at stride 1, the flipped weights times
// padded dy, and on the way the weight gradient's partial sums (see
// shiftedBackward).
func shiftedBackwardInput(op *convGrad, d convDims, x, w, dy, dx []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w, max(d.c, d.co), d.n)
	if l.stride != 1 {
		phasedBackwardInput(op, &l, d, w, dy, dx)
		return
	}
	shiftedBackward(op, &l, d, x, w, dy, dx)
}

// shiftedBackward computes, chunk by chunk, dx (the flipped weights times
// padded dy) and the chunk's share of dW (the runs of padded x times padded
// dy transposed, as shiftedBackwardWeight does), padding each chunk of dy
// once for both products, while it is in cache. It leaves the shares in
// op.parts for the weight gradient's op, which adds them up.
func shiftedBackward(op *convGrad, l *shiftedLayout, d convDims, x, w, dy, dx []float32) {
	kx, kdy := d.c*l.kh*l.kw, d.co*l.kh*l.kw
	// At stride 1 the offsets of fewer channels' taps are a prefix of more's.
	taps := l.taps(&op.ws, max(d.c, d.co))
	op.parts = newWgradParts(&op.ws, l, d.n, d.co*kx)
	ld := l.span(l.chunk)
	workerSlots(&op.ws, d.c*l.inRow, d.co*l.row, d.c*ld, d.c*kdy)
	l.chunks(d.n, func(worker, chunk, first, n int) {
		xpad := workerSlot(&op.ws, worker, 0, d.c*l.inRow)
		dypad := workerSlot(&op.ws, worker, 1, d.co*l.row)
		runs := workerSlot(&op.ws, worker, 2, d.c*ld)
		own, write := workerWeights(&op.ws, worker, 3, d.c*kdy)
		if write {
			packFlipped(own, w, d.co, d.c, l.kh, l.kw)
		}
		l.padGradient(dypad, dy, n, d.co, op.dyNorm, first)
		l.product(n, d.c, kdy, own, dypad, taps[:kdy], runs, ld, dx[first*d.c*l.h*l.w:])
		l.padInput(xpad, x[first*d.c*l.inH*l.inW:], n, d.c, op.fwd.norm)
		l.weightProduct(n, d.co, kx, xpad, taps[:kx], dypad, op.parts.chunk(chunk))
	})
}

// wgradParts are the partial sums of a weight gradient, one per piece of
// images, each dW^T (Cin*kh*kw rows of Cout).
type wgradParts struct {
	data        []float32
	count, size int
}

// newWgradParts returns the parts of size elements of the pieces of a
// batch of images in layout l (see chunks) in ws's parts slot, those of
// empty pieces zero.
func newWgradParts(ws *workspace, l *shiftedLayout, images, size int) wgradParts {
	count := l.pieces()
	p := wgradParts{data: scratch[float32](ws, slotParts, count*size), count: count, size: size}
	for i := range count {
		if _, n := l.piece(i, images); n == 0 {
			clear(p.chunk(i))
		}
	}
	return p
}

func (p *wgradParts) chunk(i int) []float32 { return p.data[i*p.size : (i+1)*p.size] }

// sum adds the parts up in piece order, whichever worker computed them, so
// that dW does not depend on the number of workers or their timing, and
// writes the sum to dw (Cout rows). The workers share the rows of dW^T:
// each adds up its rows and writes them into dw's columns.
func (p *wgradParts) sum(dw []float32, cout int) {
	k := p.size / cout
	parallel.For(k, func(_, lo, hi int) {
		sum := p.data[lo*cout : hi*cout]
		for c := 1; c < p.count; c++ {
			vec.Add(sum, sum, p.data[c*p.size+lo*cout:c*p.size+hi*cout])
		}
		for j := lo; j < hi; j++ {
			for co, v := range sum[(j-lo)*cout : (j-lo+1)*cout] {
				dw[co*k+j] = v
			}
		}
	})
}

// shiftedProduct maps images of cin channels (src, NCHW; with norm, its
// input) to images of cout channels (dst): per chunk, lay out the inputs
// and multiply weights (cout, cin*kh*kw) by the runs under every tap, then
// call after (unless nil) on the chunk's images.
func shiftedProduct(ws *workspace, l *shiftedLayout, images, cin, cout int, weights, src, dst []float32, norm *batchNormOp, after func(first, n int)) {
	k := cin * l.kh * l.kw
	taps := l.taps(ws, cin)
	ld := l.span(l.chunk)
	inSize, outSize := cin*l.inH*l.inW, cout*l.h*l.w
	workerSlots(ws, cin*l.inRow, cout*ld, len(weights))
	l.chunks(images, func(worker, _, first, n int) {
		padded := workerSlot(ws, worker, 0, cin*l.inRow)
		runs := workerSlot(ws, worker, 1, cout*ld)
		own, write := workerWeights(ws, worker, 2, len(weights))
		if write {
			copy(own, weights)
		}
		l.padInput(padded, src[first*inSize:], n, cin, norm)
		l.product(n, cout, k, own, padded, taps, runs, ld, dst[first*outSize:])
		if after != nil {
			after(first, n)
		}
	})
}

// product multiplies weights (cout, k) by the runs under the taps of a
// padded chunk of n images into runs (cout rows, ld apart) and compacts
// them into dst (NCHW).
func (l *shiftedLayout) product(n, cout, k int, weights, padded []float32, taps []int, runs []float32, ld int, dst []float32) {
	gemm32.SgemmRowsSerial(false, cout, l.span(n), k, 1, weights, k, padded, taps, 0, runs, ld)
	l.compact(dst, runs, n, cout, ld)
}

// weightProduct computes a chunk's share of dW^T (k = Cin*kh*kw rows of
// cout) into part: the runs under the taps of padded x times padded dy
// transposed. dy in the chunk layout starts p rows and p columns into its
// padded planes; the border positions it covers read zeros.
func (l *shiftedLayout) weightProduct(n, cout, k int, xpad []float32, taps []int, dypad, part []float32) {
	gemm32.SgemmARowsSerial(true, k, cout, l.span(n), 1, xpad, taps, dypad[l.p*l.wp+l.p:], l.row, 0, part, cout)
}

// phasedBackwardInput computes dx of a 3x3 stride-2 convolution phase by
// phase: phase (a, b) of padded dx is the weights of the taps (ki, kj) with
// ki%2 == a and kj%2 == b times padded dy, each tap reading dy (ki/2, kj/2)
// rows and columns back. The four products' outputs are dealt back to NCHW.
func phasedBackwardInput(op *convGrad, l *shiftedLayout, d convDims, w, dy, dx []float32) {
	type phase struct {
		taps    []int
		weights []float32
		at      int // where weights start in packed
	}
	var phases [4]phase
	allTaps := scratch[int](&op.ws, slotTaps, d.co*l.kh*l.kw)
	packed := scratch[float32](&op.ws, slotWeights, d.c*d.co*l.kh*l.kw)
	allWeights := packed
	for a := 0; a < 2; a++ {
		for b := 0; b < 2; b++ {
			k := d.co * ((l.kh - a + 1) / 2) * ((l.kw - b + 1) / 2) // the taps of the phase
			ph := &phases[a*2+b]
			ph.taps, allTaps = allTaps[:k], allTaps[k:]
			ph.at = len(packed) - len(allWeights)
			ph.weights, allWeights = allWeights[:d.c*k], allWeights[d.c*k:]
			j := 0
			for co := 0; co < d.co; co++ {
				for ki := a; ki < l.kh; ki += 2 {
					for kj := b; kj < l.kw; kj += 2 {
						ph.taps[j] = co*l.row + (1-ki/2)*l.wp + 1 - kj/2
						for ci := 0; ci < d.c; ci++ {
							ph.weights[ci*k+j] = w[((co*d.c+ci)*l.kh+ki)*l.kw+kj]
						}
						j++
					}
				}
			}
		}
	}
	ld := l.chunk * l.plane
	workerSlots(&op.ws, d.co*l.row, 4*d.c*ld, len(packed))
	l.chunks(d.n, func(worker, _, first, n int) {
		dypad := workerSlot(&op.ws, worker, 0, d.co*l.row)
		runs := workerSlot(&op.ws, worker, 1, 4*d.c*ld)
		own, write := workerWeights(&op.ws, worker, 2, len(packed))
		if write {
			copy(own, packed)
		}
		l.padGradient(dypad, dy, n, d.co, op.dyNorm, first)
		for i, ph := range phases {
			k := len(ph.taps)
			gemm32.SgemmRowsSerial(false, d.c, n*l.plane, k, 1, own[ph.at:ph.at+len(ph.weights)], k, dypad, ph.taps, 0, runs[i*d.c*ld:], ld)
		}
		// Pixel (y, x) of dx is padded pixel (y+1, x+1): phase ((y+1)%2,
		// (x+1)%2), at row (y+1)/2 and column (x+1)/2 of its plane.
		for g := 0; g < n; g++ {
			for ci := 0; ci < d.c; ci++ {
				plane := dx[((first+g)*d.c+ci)*l.inH*l.inW:][:l.inH*l.inW]
				for y := 0; y < l.inH; y++ {
					at := (y+1)%2*2*d.c*ld + ci*ld + g*l.plane + (y+1)/2*l.wp
					odd, even := runs[at+d.c*ld:][:l.wp], runs[at:][:l.wp]
					out := plane[y*l.inW : (y+1)*l.inW]
					for x := 0; x+1 < len(out); x += 2 {
						out[x] = odd[x/2]
						out[x+1] = even[x/2+1]
					}
					if len(out)%2 == 1 {
						out[len(out)-1] = odd[len(out)/2]
					}
				}
			}
		}
	})
}

// shiftedBackwardWeight computes dW (Cout, Cin*kh*kw). Per chunk, the runs
// under every tap, read in place from the padded input, times padded dy
// transposed give the chunk's dW^T: the runs are the product's rows, so
// only dy (Cout rows, not Cin*kh*kw) is transposed into panels. The chunks'
// products are added as wgradParts.sum does.
func shiftedBackwardWeight(op *convGrad, d convDims, x, dy, dw []float32) {
	l := layoutOf(&op.fwd.geom, d.h, d.w, max(d.c, d.co), d.n)
	k := d.c * l.kh * l.kw
	taps := l.taps(&op.ws, d.c)
	parts := newWgradParts(&op.ws, &l, d.n, d.co*k)
	workerSlots(&op.ws, d.c*l.inRow, d.co*l.row)
	l.chunks(d.n, func(worker, chunk, first, n int) {
		xpad := workerSlot(&op.ws, worker, 0, d.c*l.inRow)
		dypad := workerSlot(&op.ws, worker, 1, d.co*l.row)
		l.padInput(xpad, x[first*d.c*l.inH*l.inW:], n, d.c, op.fwd.norm)
		l.padGradient(dypad, dy, n, d.co, op.dyNorm, first)
		l.weightProduct(n, d.co, k, xpad, taps, dypad, parts.chunk(chunk))
	})
	parts.sum(dw, d.co)
}
