package layers

import (
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// batchNormOp normalizes x (N,C,H,W) per channel and applies gamma and beta
// (C) inside the op, so no broadcast copies are made. In training mode it
// uses the batch statistics and updates the running ones in place (PyTorch's
// conventions: biased variance to normalize, unbiased in the running
// variance, running = (1-momentum)*running + momentum*batch); in evaluation
// mode it uses the running statistics. The Mode is read at every run.
type batchNormOp struct {
	opBase
	mode              *Mode
	momentum, eps     float64
	runMean, runVar   *tensor.Dense // (C), the model's dtype
	numBatchesTracked *tensor.Dense // int64 scalar
	relu              bool          // apply ReLU to the output
	// What the last forward pass normalized with, for the backward ops.
	mean, invStd []float64
	batchStats   bool
	ws           workspace
}

func (op *batchNormOp) Arity() int         { return 3 } // x, gamma, beta
func (op *batchNormOp) Type() hm.Type      { return fnType(4, 1, 1, 4) }
func (op *batchNormOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *batchNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 1, 1)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *batchNormOp) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		bnForward[float32](op, ts[0], ts[1], ts[2], out)
	} else {
		bnForward[float64](op, ts[0], ts[1], ts[2], out)
	}
	return out, nil
}

// channel returns the elements of channel c of image i in NCHW data.
func channel[T float](x []T, i, c, nc, hw int) []T {
	return x[(i*nc+c)*hw : (i*nc+c+1)*hw]
}

// shiftedMoments returns the sums of v-shift and of (v-shift)^2 over one
// plane, accumulated in T (a plane is at most a few thousand values).
func shiftedMoments[T float](v []T, shift T) (sum, squares float64) {
	var a0, a1, b0, b1 T
	i := 0
	for ; i+2 <= len(v); i += 2 {
		d0, d1 := v[i]-shift, v[i+1]-shift
		a0 += d0
		a1 += d1
		b0 += d0 * d0
		b1 += d1 * d1
	}
	for ; i < len(v); i++ {
		d := v[i] - shift
		a0 += d
		b0 += d * d
	}
	return float64(a0 + a1), float64(b0 + b1)
}

// dotSums returns sum(dy) and sum(dy*x) over one plane.
func dotSums[T float](dy, x []T) (sumDy, sumDyX float64) {
	x = x[:len(dy)]
	var a0, a1, b0, b1 T
	i := 0
	for ; i+2 <= len(dy); i += 2 {
		a0 += dy[i]
		a1 += dy[i+1]
		b0 += dy[i] * x[i]
		b1 += dy[i+1] * x[i+1]
	}
	for ; i < len(dy); i++ {
		a0 += dy[i]
		b0 += dy[i] * x[i]
	}
	return float64(a0 + a1), float64(b0 + b1)
}

// maskedDotSums is dotSums of dy masked where y is 0 (a fused ReLU's
// clipped outputs), branch-free in float32 like keepPositive.
func maskedDotSums[T float](dy, y, x []T) (sumDy, sumDyX float64) {
	if dy32, ok := any(dy).([]float32); ok {
		y32, x32 := any(y).([]float32)[:len(dy32)], any(x).([]float32)[:len(dy32)]
		masked := func(i int) float32 { return math.Float32frombits(math.Float32bits(dy32[i]) & positiveMask(y32[i])) }
		// Two chains per sum, as dotSums: one chain waits on the adder's
		// latency at every element.
		var a0, a1, b0, b1 float32
		i := 0
		for ; i+2 <= len(dy32); i += 2 {
			g0, g1 := masked(i), masked(i+1)
			a0 += g0
			a1 += g1
			b0 += g0 * x32[i]
			b1 += g1 * x32[i+1]
		}
		for ; i < len(dy32); i++ {
			g := masked(i)
			a0 += g
			b0 += g * x32[i]
		}
		return float64(a0 + a1), float64(b0 + b1)
	}
	for i, d := range dy {
		if y[i] > 0 {
			sumDy += float64(d)
			sumDyX += float64(d) * float64(x[i])
		}
	}
	return sumDy, sumDyX
}

// maskedAffine sets dx = k*dy' + c1*x + c0 with dy' = dy masked where y is 0.
func maskedAffine[T float](dx, dy, y, x []T, k, c1, c0 T) {
	if dx32, ok := any(dx).([]float32); ok {
		dy32, y32, x32 := any(dy).([]float32)[:len(dx32)], any(y).([]float32)[:len(dx32)], any(x).([]float32)[:len(dx32)]
		k32, c132, c032 := float32(k), float32(c1), float32(c0)
		for i := range dx32 {
			g := math.Float32frombits(math.Float32bits(dy32[i]) & positiveMask(y32[i]))
			dx32[i] = k32*g + c132*x32[i] + c032
		}
		return
	}
	for i := range dx {
		g := dy[i]
		if y[i] <= 0 {
			g = 0
		}
		dx[i] = k*g + c1*x[i] + c0
	}
}

func bnForward[T float](op *batchNormOp, xt, gt, bt, outt *tensor.Dense) {
	s := xt.Shape()
	n, nc, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	x, gamma, beta, out := data[T](xt), data[T](gt), data[T](bt), data[T](outt)
	if len(op.mean) != nc {
		op.mean, op.invStd = make([]float64, nc), make([]float64, nc)
	}
	training := op.mode.Training()
	runMean, runVar := data[T](op.runMean), data[T](op.runVar)
	parallel(nc, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			mean, variance := float64(runMean[c]), float64(runVar[c])
			if training {
				// One pass for both moments, shifted by the channel's first
				// value so that E[d^2] - E[d]^2 does not cancel catastrophically.
				shift := channel(x, 0, c, nc, hw)[0]
				var sum, sq float64
				for i := 0; i < n; i++ {
					s1, s2 := shiftedMoments(channel(x, i, c, nc, hw), shift)
					sum += s1
					sq += s2
				}
				mean = float64(shift) + sum/m
				variance = max(sq/m-(sum/m)*(sum/m), 0)
				unbiased := variance
				if m > 1 {
					unbiased = variance * m / (m - 1)
				}
				runMean[c] = T((1-op.momentum)*float64(runMean[c]) + op.momentum*mean)
				runVar[c] = T((1-op.momentum)*float64(runVar[c]) + op.momentum*unbiased)
			}
			invStd := 1 / math.Sqrt(variance+op.eps)
			op.mean[c], op.invStd[c] = mean, invStd
			scale := T(float64(gamma[c]) * invStd)
			shift := T(float64(beta[c]) - mean*float64(gamma[c])*invStd)
			for i := 0; i < n; i++ {
				dst, src := channel(out, i, c, nc, hw), channel(x, i, c, nc, hw)
				if op.relu {
					for j, v := range src {
						dst[j] = max(v*scale+shift, 0)
					}
				} else {
					for j, v := range src {
						dst[j] = v*scale + shift
					}
				}
			}
		}
	})
	op.batchStats = training
	if training {
		op.numBatchesTracked.Set(0, op.numBatchesTracked.Get(0).(int64)+1)
	}
}

// SymDiff builds batch norm's backward pass: one node sums (2, C) holding
// per channel sum(dy) and sum(dy * xhat) (dy masked by the fused ReLU), from
// which dbeta and dgamma are read off and dx is computed.
func (op *batchNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if !op.relu {
		// Without a ReLU to mask, y is not needed: passing x in its place
		// lets y's buffer be reused as soon as the forward pass is done.
		out = in[0]
	}
	sums, err := G.ApplyOp(&bnGradSums{opBase: newOpBase(op.name + "GradSums"), fwd: op}, in[0], out, grad)
	if err != nil {
		return nil, err
	}
	dx, err := G.ApplyOp(&bnGradInput{opBase: newOpBase(op.name + "GradInput"), fwd: op}, in[0], in[1], out, grad, sums)
	if err != nil {
		return nil, err
	}
	dgamma, err := G.ApplyOp(&bnGradRow{opBase: newOpBase(op.name + "GradGamma"), row: 1}, sums)
	if err != nil {
		return nil, err
	}
	dbeta, err := G.ApplyOp(&bnGradRow{opBase: newOpBase(op.name + "GradBeta"), row: 0}, sums)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dgamma, dbeta}, nil
}

// bnGradSums computes, per channel, sum(dy) and sum(dy * xhat) with dy
// zeroed where a fused ReLU clipped the output y.
type bnGradSums struct {
	opBase
	fwd *batchNormOp
	ws  workspace
}

func (op *bnGradSums) Arity() int    { return 3 } // x, y, dy
func (op *bnGradSums) Type() hm.Type { return fnType(4, 4, 4, 2) }
func (op *bnGradSums) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 4, 4)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{2, s[0][1]}, nil
}

func (op *bnGradSums) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, tensor.Shape{2, ts[0].Shape()[1]})
	if dt == tensor.Float32 {
		bnSums[float32](op.fwd, ts[0], ts[1], ts[2], out)
	} else {
		bnSums[float64](op.fwd, ts[0], ts[1], ts[2], out)
	}
	return out, nil
}

func bnSums[T float](fwd *batchNormOp, xt, yt, dyt, outt *tensor.Dense) {
	s := xt.Shape()
	n, nc, hw := s[0], s[1], s[2]*s[3]
	x, y, dy, out := data[T](xt), data[T](yt), data[T](dyt), data[T](outt)
	parallel(nc, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			var sumDy, sumDyX float64
			for i := 0; i < n; i++ {
				xc, dyc := channel(x, i, c, nc, hw), channel(dy, i, c, nc, hw)
				var a, b float64
				if fwd.relu {
					a, b = maskedDotSums(dyc, channel(y, i, c, nc, hw), xc)
				} else {
					a, b = dotSums(dyc, xc)
				}
				sumDy += a
				sumDyX += b
			}
			// sum(dy*xhat) = (sum(dy*x) - mean*sum(dy)) * invStd
			out[c] = T(sumDy)
			out[nc+c] = T((sumDyX - fwd.mean[c]*sumDy) * fwd.invStd[c])
		}
	})
}

// bnGradRow returns one row of the sums: dbeta (row 0) or dgamma (row 1).
type bnGradRow struct {
	opBase
	row int
	ws  workspace
}

func (op *bnGradRow) Arity() int    { return 1 }
func (op *bnGradRow) Type() hm.Type { return fnType(2, 1) }
func (op *bnGradRow) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 2)
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
	if dt == tensor.Float32 {
		copy(data[float32](out), data[float32](ts[0])[op.row*c:])
	} else {
		copy(data[float64](out), data[float64](ts[0])[op.row*c:])
	}
	return out, nil
}

// bnGradInput is dx = gamma*invStd * (dy - sum(dy)/m - xhat*sum(dy*xhat)/m)
// with batch statistics, or gamma*invStd*dy with running ones; dy is masked
// by the fused ReLU.
type bnGradInput struct {
	opBase
	fwd *batchNormOp
	ws  workspace
}

func (op *bnGradInput) Arity() int    { return 5 } // x, gamma, y, dy, sums
func (op *bnGradInput) Type() hm.Type { return fnType(4, 1, 4, 4, 2, 4) }
func (op *bnGradInput) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 1, 4, 4, 2)
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
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		bnBackwardInput[float32](op.fwd, ts, out)
	} else {
		bnBackwardInput[float64](op.fwd, ts, out)
	}
	return out, nil
}

func bnBackwardInput[T float](fwd *batchNormOp, ts []*tensor.Dense, outt *tensor.Dense) {
	s := ts[0].Shape()
	n, nc, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	x, gamma, y, dy, sums, out := data[T](ts[0]), data[T](ts[1]), data[T](ts[2]), data[T](ts[3]), data[T](ts[4]), data[T](outt)
	parallel(nc, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			mean, invStd := fwd.mean[c], fwd.invStd[c]
			k := float64(gamma[c]) * invStd
			// dx = k*dy + c1*x + c0, the batch-statistics terms folded into
			// one multiply-add per element.
			var c0, c1 float64
			if fwd.batchStats {
				a, b := float64(sums[c])/m, float64(sums[nc+c])/m
				c1 = -k * b * invStd
				c0 = -k*a - c1*mean
			}
			kt, c0t, c1t := T(k), T(c0), T(c1)
			for i := 0; i < n; i++ {
				xc, yc, dyc, dxc := channel(x, i, c, nc, hw), channel(y, i, c, nc, hw), channel(dy, i, c, nc, hw), channel(out, i, c, nc, hw)
				if fwd.relu {
					maskedAffine(dxc, dyc, yc, xc, kt, c1t, c0t)
					continue
				}
				dyc = dyc[:len(xc)]
				for j, v := range xc {
					dxc[j] = kt*dyc[j] + c1t*v + c0t
				}
			}
		}
	})
}
