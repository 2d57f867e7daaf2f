package layers

import (
	"math"

	"github.com/chewxy/hm"
	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/gorgonia-zoo/resnet/internal/vec"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// batchNormOp normalizes x (N,C,H,W) per channel and applies gamma and beta
// (C) inside the op, so no broadcast copies are made. In training mode it
// uses the batch statistics and updates the running ones in place (PyTorch's
// conventions: biased variance to normalize, unbiased in the running
// variance, running = (1-momentum)*running + momentum*batch); in evaluation
// mode it uses the running statistics. The Mode is read at every run. With
// residual it takes a fourth input r and outputs max(bn(x) + r, 0).
type batchNormOp struct {
	opBase
	mode              *Mode
	momentum, eps     float64
	runMean, runVar   *tensor.Dense // (C), the model's dtype
	numBatchesTracked *tensor.Dense // int64 scalar
	relu              bool          // apply ReLU to the output
	residual          bool          // add a fourth input before the ReLU
	// What the last forward pass normalized with, for the backward ops:
	// the statistics, and y = x*scale + shift (before the ReLU) exactly as
	// applied, in T's precision, from which they recompute the ReLU's mask.
	mean, invStd []float64
	scale, shift []float64
	batchStats   bool
	// deferred, set by PlanMemory, is for a batch norm with its ReLU whose
	// output is read only by stride-1 convolutions: the op then takes the
	// statistics and writes nothing, its output is x itself, and the
	// convolutions (their norm) lay out max(x*scale + shift, 0) as they
	// copy x into their padded chunks, which they do anyway. A training
	// step then writes and reads one activation fewer per residual block.
	deferred bool
	// byConv, set by PlanMemory, is for a batch norm with a residual whose
	// input x is a convolution's output that only it reads. In
	// evaluation mode that convolution (whose then it is) normalizes each
	// chunk of images, adds r and applies the ReLU as soon as it has
	// written the chunk, while the chunk is in its core's cache, and the
	// op writes nothing; in training mode, whose statistics need all of x
	// first, the op normalizes x in place. Either way its output is x's
	// buffer, and inference makes one pass over memory fewer per block.
	byConv bool
	ws     workspace
}

// Arity is 3 (x, gamma, beta), or 4 with the residual r.
func (op *batchNormOp) Arity() int {
	if op.residual {
		return 4
	}
	return 3
}
func (op *batchNormOp) Type() hm.Type {
	if op.residual {
		return fnType(4, 1, 1, 4, 4)
	}
	return fnType(4, 1, 1, 4)
}
func (op *batchNormOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *batchNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, []int{4, 1, 1, 4}[:op.Arity()]...)
	if err != nil {
		return nil, err
	}
	if op.residual && !s[3].Eq(s[0]) {
		return nil, errors.Errorf("%s: cannot add a residual of shape %v to %v", op.name, s[3], s[0])
	}
	return s[0].Clone(), nil
}

// gatesGradient reports whether the backward ops mask dy by the fused
// ReLU themselves (recomputing its zeros from x); with a residual the mask
// needs r too, so a ReLU gradient op masks dy first.
func (op *batchNormOp) gatesGradient() bool { return op.relu && !op.residual }

func (op *batchNormOp) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	if op.deferred && dt == tensor.Float32 {
		bnForward[float32](op, ts[0], ts[1], ts[2], nil, nil)
		return ts[0], nil
	}
	if op.byConv && dt == tensor.Float32 {
		if op.mode.Training() {
			bnForward[float32](op, ts[0], ts[1], ts[2], ts[3], ts[0])
		}
		return ts[0], nil
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	var r *tensor.Dense
	if op.residual {
		r = ts[3]
	}
	if dt == tensor.Float32 {
		bnForward[float32](op, ts[0], ts[1], ts[2], r, out)
	} else {
		bnForward[float64](op, ts[0], ts[1], ts[2], r, out)
	}
	return out, nil
}

// bnForward normalizes x into out; r, when not nil, is the residual. With
// out nil it only sets the statistics, scale and shift (see deferred).
func bnForward[T float](op *batchNormOp, xt, gt, bt, rt, outt *tensor.Dense) {
	s := xt.Shape()
	n, nc, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	x, gamma, beta := data[T](xt), data[T](gt), data[T](bt)
	var out []T
	if outt != nil {
		out = data[T](outt)
	}
	var r []T
	if rt != nil {
		r = data[T](rt)
	}
	if len(op.mean) != nc {
		op.mean, op.invStd = make([]float64, nc), make([]float64, nc)
		op.scale, op.shift = make([]float64, nc), make([]float64, nc)
	}
	training := op.mode.Training()
	runMean, runVar := data[T](op.runMean), data[T](op.runVar)
	// Channel c of image i is the plane of hw values at x[(i*nc+c)*hw].
	// The passes run over channels c0 to c1, one block after another.
	groups := imageGroups(n)
	parts := scratch[float64](&op.ws, 0, 2*groups*nc)
	var c0, c1 int
	moments := func(_, lo, hi int) {
		// Both moments in one pass, shifted by each channel's first value
		// so that E[d^2] - E[d]^2 does not cancel catastrophically; each
		// group of images sums its own, added up below in group order.
		for g := lo; g < hi; g++ {
			first, count := groupImages(n, groups, g, g+1)
			for c := c0; c < c1; c++ {
				parts[2*g*nc+c], parts[(2*g+1)*nc+c] = vec.Moments(x[(first*nc+c)*hw:], count, hw, nc*hw, x[c*hw])
			}
		}
	}
	normalize := func(_, lo, hi int) {
		first, count := groupImages(n, groups, lo, hi)
		normalizeImages(op, out, x, r, first, count, nc, hw, c0, c1)
	}
	// Blocks of channels keep x in cache for the second pass, when there is one.
	block := nc
	if training && out != nil {
		block = channelBlock(n, nc, hw, 1, int(xt.Dtype().Size()))
	}
	for c0 = 0; c0 < nc; c0 = c1 {
		c1 = min(c0+block, nc)
		if training {
			parallel.For(groups, moments)
		}
		for c := c0; c < c1; c++ {
			mean, variance := float64(runMean[c]), float64(runVar[c])
			if training {
				var sum, sq float64
				for g := range groups {
					sum += parts[2*g*nc+c]
					sq += parts[(2*g+1)*nc+c]
				}
				mean = float64(x[c*hw]) + sum/m
				variance = max(sq/m-(sum/m)*(sum/m), 0)
				unbiased := variance
				if m > 1 {
					unbiased = variance * m / (m - 1)
				}
				runMean[c] = T((1-op.momentum)*float64(runMean[c]) + op.momentum*mean)
				runVar[c] = T((1-op.momentum)*float64(runVar[c]) + op.momentum*unbiased)
			}
			invStd := 1 / math.Sqrt(variance+op.eps)
			scale := T(float64(gamma[c]) * invStd)
			shift := T(float64(beta[c]) - mean*float64(gamma[c])*invStd)
			op.mean[c], op.invStd[c] = mean, invStd
			op.scale[c], op.shift[c] = float64(scale), float64(shift)
		}
		if out != nil {
			parallel.For(groups, normalize)
		}
	}
	op.batchStats = training
	if training {
		op.numBatchesTracked.Set(0, op.numBatchesTracked.Get(0).(int64)+1)
	}
}

// normalizeImages sets images first to first+count-1 of channels c0 to
// c1-1 of out (N, nc, hw) to x*scale + shift, plus r unless r is nil, then
// the ReLU if op has one; out may be x.
func normalizeImages[T float](op *batchNormOp, out, x, r []T, first, count, nc, hw, c0, c1 int) {
	for c := c0; c < c1; c++ {
		at := (first*nc + c) * hw
		scale, shift := T(op.scale[c]), T(op.shift[c])
		if r != nil {
			vec.AffineAdd(out[at:], x[at:], r[at:], count, hw, nc*hw, scale, shift, op.relu)
		} else {
			vec.Affine(out[at:], x[at:], count, hw, nc*hw, scale, shift, op.relu)
		}
	}
}

// SymDiff builds batch norm's backward pass: one op computes dx and, on
// the way, per channel sum(dy) and sum(dy * xhat) (dy masked by the fused
// ReLU), from which two more read off dbeta and dgamma. With a residual,
// dy masked by the ReLU is first made by the ReLU's gradient op, and is
// also the residual's gradient.
func (op *batchNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dy := grad
	if op.residual {
		var err error
		if dy, err = G.ApplyOp(&reluGrad{opBase: newOpBase("ReLUGrad")}, out, grad); err != nil {
			return nil, err
		}
	}
	gi := &bnGradInput{opBase: newOpBase(op.name + "GradInput"), fwd: op}
	dx, err := G.ApplyOp(gi, in[0], in[1], dy)
	if err != nil {
		return nil, err
	}
	dgamma, err := G.ApplyOp(&bnGradRow{opBase: newOpBase(op.name + "GradGamma"), src: gi, row: 1}, dx)
	if err != nil {
		return nil, err
	}
	dbeta, err := G.ApplyOp(&bnGradRow{opBase: newOpBase(op.name + "GradBeta"), src: gi, row: 0}, dx)
	if err != nil {
		return nil, err
	}
	if op.residual {
		return G.Nodes{dx, dgamma, dbeta, dy}, nil
	}
	return G.Nodes{dx, dgamma, dbeta}, nil
}

// bnGradInput is dx = gamma*invStd * (dy - sum(dy)/m - xhat*sum(dy*xhat)/m)
// with batch statistics, or gamma*invStd*dy with running ones; dy is masked
// by the fused ReLU. It keeps the two sums, per channel, for bnGradRow.
//
// One op does both passes over a block of channels (the sums, then dx) so
// that the second finds the block's x and dy still in cache; and it recomputes the
// ReLU's mask from x rather than read the forward output y, one stream of
// memory fewer in each pass.
type bnGradInput struct {
	opBase
	fwd  *batchNormOp
	sums []float64 // sum(dy) of every channel, then sum(dy*xhat)
	// deferred, set by PlanMemory, is for an op whose output (dx) is read
	// only by the gradient ops of stride-1 or halving 3x3 convolutions
	// (their dyNorm), which lay out dy anyway: the op then takes the sums
	// and the coefficients of dx = k*dy + k1*(x-center) + k0 and writes
	// nothing, its output is dy itself, and the convolutions make dx from
	// dy and x (the op's x, kept in x) as they lay it out. A training step
	// then writes and reads one activation gradient fewer per batch norm.
	deferred  bool
	x         []float32
	k, k1, k0 []float64
	ws        workspace
}

// gradient returns what channel c of dx is made with: dx = k*dy +
// k1*(x-center) + k0, dy masked by gate (see vec.GradInput).
func (op *bnGradInput) gradient(c int) (gate vec.Gate[float32], k, k1, center, k0 float32) {
	fwd := op.fwd
	return gateOf[float32](fwd, c), float32(op.k[c]), float32(op.k1[c]), float32(fwd.mean[c]), float32(op.k0[c])
}

// gateOf is the gate of channel c's gradient through fwd's ReLU, as the
// forward pass applied it.
func gateOf[T float](fwd *batchNormOp, c int) vec.Gate[T] {
	return vec.Gate[T]{ReLU: fwd.gatesGradient(), Scale: T(fwd.scale[c]), Shift: T(fwd.shift[c])}
}

func (op *bnGradInput) Arity() int    { return 3 } // x, gamma, dy
func (op *bnGradInput) Type() hm.Type { return fnType(4, 1, 4, 4) }
func (op *bnGradInput) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 1, 4)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *bnGradInput) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	if nc := ts[0].Shape()[1]; len(op.sums) != 2*nc {
		op.sums = make([]float64, 2*nc)
		op.k, op.k1, op.k0 = make([]float64, nc), make([]float64, nc), make([]float64, nc)
	}
	if op.deferred && dt == tensor.Float32 {
		op.x = data[float32](ts[0])
		bnBackward[float32](op, ts[0], ts[1], ts[2], nil)
		return ts[2], nil
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		bnBackward[float32](op, ts[0], ts[1], ts[2], out)
	} else {
		bnBackward[float64](op, ts[0], ts[1], ts[2], out)
	}
	return out, nil
}

// bnBackward computes dx into outt; with outt nil, only the sums and the
// coefficients (see bnGradInput.deferred).
func bnBackward[T float](op *bnGradInput, xt, gt, dyt, outt *tensor.Dense) {
	fwd := op.fwd
	s := xt.Shape()
	n, nc, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	x, gamma, dy := data[T](xt), data[T](gt), data[T](dyt)
	var dx []T
	if outt != nil {
		dx = data[T](outt)
	}
	// The passes run over channels c0 to c1, one block after another.
	groups := imageGroups(n)
	parts := scratch[float64](&op.ws, 0, 2*groups*nc)
	k, k1, k0 := op.k, op.k1, op.k0
	var c0, c1 int
	sums := func(_, lo, hi int) {
		// Centred on the mean (as T), so that sum(dy*x) and mean*sum(dy)
		// do not cancel when the mean is large. Each group of images sums
		// its own, added up below in group order.
		for g := lo; g < hi; g++ {
			first, count := groupImages(n, groups, g, g+1)
			for c := c0; c < c1; c++ {
				at := (first*nc + c) * hw
				parts[2*g*nc+c], parts[(2*g+1)*nc+c] = vec.GradSums(dy[at:], x[at:], count, hw, nc*hw, gateOf[T](fwd, c), T(fwd.mean[c]))
			}
		}
	}
	gradInput := func(_, lo, hi int) {
		first, count := groupImages(n, groups, lo, hi)
		for c := c0; c < c1; c++ {
			at := (first*nc + c) * hw
			vec.GradInput(dx[at:], dy[at:], x[at:], count, hw, nc*hw, gateOf[T](fwd, c), T(k[c]), T(k1[c]), T(fwd.mean[c]), T(k0[c]))
		}
	}
	// Blocks of channels keep x and dy in cache for the second pass, when
	// there is one.
	block := nc
	if dx != nil {
		block = channelBlock(n, nc, hw, 2, int(xt.Dtype().Size()))
	}
	for c0 = 0; c0 < nc; c0 = c1 {
		c1 = min(c0+block, nc)
		parallel.For(groups, sums)
		// dx = k*dy + k1*(x-center) + k0, the batch-statistics terms
		// folded into one multiply and two adds per element.
		for c := c0; c < c1; c++ {
			var sumDy, sumDyXc float64
			for g := range groups {
				sumDy += parts[2*g*nc+c]
				sumDyXc += parts[(2*g+1)*nc+c]
			}
			mean, invStd, center := fwd.mean[c], fwd.invStd[c], float64(T(fwd.mean[c]))
			sumDyXhat := (sumDyXc - (mean-center)*sumDy) * invStd
			op.sums[c], op.sums[nc+c] = sumDy, sumDyXhat
			k[c], k1[c], k0[c] = float64(gamma[c])*invStd, 0, 0
			if fwd.batchStats {
				a, b := sumDy/m, sumDyXhat/m
				k1[c] = -k[c] * b * invStd
				k0[c] = k1[c]*(center-mean) - k[c]*a
			}
		}
		if dx != nil {
			parallel.For(groups, gradInput)
		}
	}
}

// blockBytes is about how much of its inputs batch norm reads per worker
// in its first pass over a block of channels, for the second to find in
// the worker's cache.
const blockBytes = 1 << 20

// channelBlock is how many channels batch norm passes over at a time: as
// many as keep streams inputs of a batch of n planes of hw values, size
// bytes each, within blockBytes per worker, and at least one. Every block
// is two waits for all the workers, so fewer are better.
func channelBlock(n, nc, hw, streams, size int) int {
	return max(1, min(nc, blockBytes*parallel.Workers()/(n*hw*streams*size)))
}

// imageGroups is how many groups of images batch norm cuts a batch of n
// into. The groups' partial sums are added in group order, so the cut
// depends on the batch alone: the statistics do not depend on the number
// of workers.
func imageGroups(n int) int { return min(n, 32) }

// groupImages returns the images of groups lo to hi of a batch of n cut
// into groups: first to first+count. Cutting by images, as the
// convolutions do, lets each worker pass over the activations it wrote
// (see package parallel).
func groupImages(n, groups, lo, hi int) (first, count int) {
	first = lo * n / groups
	return first, hi*n/groups - first
}

// bnGradRow returns one row of bnGradInput's sums: dbeta (row 0) or dgamma
// (row 1). It takes bnGradInput's output only to run after it.
type bnGradRow struct {
	opBase
	src *bnGradInput
	row int
	ws  workspace
}

func (op *bnGradRow) Arity() int    { return 1 } // dx
func (op *bnGradRow) Type() hm.Type { return fnType(4, 1) }
func (op *bnGradRow) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0][1]}, nil
}

func (op *bnGradRow) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	c := ts[0].Shape()[1]
	out := op.ws.output(0, dt, tensor.Shape{c})
	row := op.src.sums[op.row*c : (op.row+1)*c]
	if dt == tensor.Float32 {
		toFloat(data[float32](out), row)
	} else {
		toFloat(data[float64](out), row)
	}
	return out, nil
}

// toFloat converts src into dst.
func toFloat[T float](dst []T, src []float64) {
	for i, v := range src {
		dst[i] = T(v)
	}
}
